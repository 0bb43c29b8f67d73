package pipeline

import (
	"os"
	"testing"
)

// The seed is a complete .gitlab-ci.yml of the kind users bring, copied
// verbatim from shared/seeds.
func TestSeedGitLabCI(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := Parse(".gitlab-ci.yml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	equal(t, "stages", pl.Stages, []string{".pre", "lint", "test", "build", "scan", "deploy-staging", "deploy-production", ".post"})
	equal(t, "variables", pl.Variables, []Variable{
		{Key: "DOCKER_DRIVER", Value: "overlay2"},
		{Key: "DOCKER_TLS_CERTDIR", Value: "/certs"},
		{Key: "IMAGE_TAG", Value: "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA"},
	})
	equal(t, "jobs", jobNames(pl), []string{"lint", "unit-tests", "build", "trivy-scan", "deploy-staging", "deploy-production"})

	wantStage := map[string]string{
		"lint": "lint", "unit-tests": "test", "build": "build", "trivy-scan": "scan",
		"deploy-staging": "deploy-staging", "deploy-production": "deploy-production",
	}
	for _, j := range pl.Jobs {
		if j.Stage != wantStage[j.Name] {
			t.Errorf("job %s: stage %q, want %q", j.Name, j.Stage, wantStage[j.Name])
		}
		if j.Image == nil {
			t.Errorf("job %s: no image", j.Name)
		}
	}

	unit := job(t, pl, "unit-tests")
	equal(t, "unit-tests services", unit.Services, []Service{{Name: "postgres:15", Alias: "postgres"}})
	equal(t, "unit-tests variables", unit.Variables, []Variable{
		{Key: "POSTGRES_DB", Value: "testdb"},
		{Key: "POSTGRES_USER", Value: "testuser"},
		{Key: "POSTGRES_PASSWORD", Value: "testpass"},
		{Key: "DATABASE_URL", Value: "postgresql://testuser:testpass@postgres:5432/testdb"},
	})

	build := job(t, pl, "build")
	equal(t, "build services", build.Services, []Service{{Name: "docker:24-dind"}})
	equal(t, "build before_script", build.BeforeScript, []string{"docker login -u $CI_REGISTRY_USER -p $CI_REGISTRY_PASSWORD $CI_REGISTRY"})

	trivy := job(t, pl, "trivy-scan").Image
	if trivy.Name != "aquasec/trivy:latest" || !trivy.EntrypointSet {
		t.Errorf("trivy-scan image = %+v", trivy)
	}
	equal(t, "trivy-scan entrypoint", trivy.Entrypoint, []string{""})

	equal(t, "deploy-staging script", job(t, pl, "deploy-staging").Script, []string{
		`echo "$STAGING_KUBECONFIG" | base64 -d > kubeconfig`,
		"export KUBECONFIG=$PWD/kubeconfig",
		"helm upgrade --install myapp ./helm/myapp --namespace staging --create-namespace --set image.tag=$CI_COMMIT_SHORT_SHA --values helm/myapp/values-staging.yaml --wait",
	})

	equalLines(t, "warnings", warnings(pl), []string{
		".gitlab-ci.yml:20:3: job \"lint\": keyword `cache` is not supported yet and was ignored",
		".gitlab-ci.yml:43:3: job \"unit-tests\": keyword `artifacts` is not supported yet and was ignored",
		".gitlab-ci.yml:50:3: job \"unit-tests\": keyword `coverage` is not supported yet and was ignored",
		".gitlab-ci.yml:64:3: job \"build\": keyword `rules` is not supported yet and was ignored",
		".gitlab-ci.yml:75:3: job \"trivy-scan\": keyword `allow_failure` is not supported yet and was ignored",
		".gitlab-ci.yml:76:3: job \"trivy-scan\": keyword `rules` is not supported yet and was ignored",
		".gitlab-ci.yml:83:3: job \"deploy-staging\": keyword `environment` is not supported yet and was ignored",
		".gitlab-ci.yml:94:3: job \"deploy-staging\": keyword `rules` is not supported yet and was ignored",
		".gitlab-ci.yml:101:3: job \"deploy-production\": keyword `environment` is not supported yet and was ignored",
		".gitlab-ci.yml:112:3: job \"deploy-production\": keyword `when` is not supported yet and was ignored",
		".gitlab-ci.yml:113:3: job \"deploy-production\": keyword `rules` is not supported yet and was ignored",
	})
}
