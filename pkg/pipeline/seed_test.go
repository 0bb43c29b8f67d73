package pipeline

import (
	"os"
	"slices"
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

	if len(pl.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", warnings(pl))
	}

	lint := job(t, pl, "lint")
	equal(t, "lint cache", lint.Cache, []Cache{{Key: "pip-$CI_COMMIT_REF_SLUG", Paths: []string{".pip/"}, Policy: "pull-push", When: "on_success"}})
	if lint.UsesRules || lint.Only != nil {
		t.Errorf("lint: rules %v only %v, want neither", lint.Rules, lint.Only)
	}

	a := unit.Artifacts
	if a == nil || a.When != "always" || !slices.Equal(a.Reports.JUnit, []string{"report.xml"}) ||
		a.Reports.CoverageReport == nil || *a.Reports.CoverageReport != (CoverageReport{Format: "cobertura", Path: "coverage.xml"}) {
		t.Errorf("unit-tests artifacts %+v", a)
	}
	if unit.Coverage != `/TOTAL.*\s+(\d+%)$/` {
		t.Errorf("unit-tests coverage %q", unit.Coverage)
	}

	if r := job(t, pl, "build").Rules; len(r) != 1 || r[0].If != `$CI_COMMIT_BRANCH == "main"` || r[0].When != "" {
		t.Errorf("build rules %+v", r)
	}
	if af := job(t, pl, "trivy-scan").AllowFailure; af == nil || !af.Allowed {
		t.Errorf("trivy-scan allow_failure %+v", af)
	}
	prod := job(t, pl, "deploy-production")
	if prod.When != "manual" || !prod.UsesRules {
		t.Errorf("deploy-production when %q rules %v", prod.When, prod.UsesRules)
	}
	if env := prod.Environment; env == nil || *env != (Environment{Name: "production", URL: "https://myapp.example.com", Action: "start"}) {
		t.Errorf("deploy-production environment %+v", env)
	}
}

func TestSeed002(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-002-gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := Parse(".gitlab-ci.yml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	equal(t, "jobs", jobNames(pl), []string{"test", "build", "deploy"})
	deploy := job(t, pl, "deploy")
	if deploy.When != "manual" || deploy.Only == nil || !slices.Equal(deploy.Only.Refs, []string{"main"}) {
		t.Errorf("deploy when %q only %+v", deploy.When, deploy.Only)
	}
	if len(pl.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", warnings(pl))
	}
}
