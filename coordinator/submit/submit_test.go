package submit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/etcdserver/etcdtest"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/pkg/source"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func newService(t *testing.T) (*Service, *store.Store) {
	t.Helper()
	st := store.New(etcdtest.New(t), "", zaptest.NewLogger(t))
	blobs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(st, blobs, Options{MaxSourceBytes: 1 << 20, Registry: "registry.example.com:5000"}, zaptest.NewLogger(t)), st
}

// archive packs files as gantry submit does.
func archive(t *testing.T, files map[string]string) *bytes.Buffer {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := source.Pack(context.Background(), dir, &b, source.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	return &b
}

func specOf(t *testing.T, st *store.Store, j *model.Job) *gantryv1.JobSpec {
	t.Helper()
	b, err := st.JobSpec(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := &gantryv1.JobSpec{}
	if err := proto.Unmarshal(b, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func varsOf(s *gantryv1.JobSpec) map[string]*gantryv1.Variable {
	out := map[string]*gantryv1.Variable{}
	for _, v := range s.GetVariables() {
		out[v.GetKey()] = v // the last one wins, as in the runner
	}
	return out
}

const planned = `
include:
  - local: ci/templates.yml
workflow:
  name: "release $CI_COMMIT_TAG"
build:
  extends: .go
  parallel: 2
  script: [make]
deploy:
  extends: .go
  needs: [build]
  when: manual
  resource_group: production
  rules:
    - if: $CI_COMMIT_TAG
  environment:
    name: production/$CI_PROJECT_NAME
    url: https://$CI_PROJECT_NAME.example.com
  script: [make deploy]
branch-only:
  extends: .go
  except: [tags]
  script: [echo branch]
`

func TestSubmitBuildsJobsFromThePlan(t *testing.T) {
	svc, st := newService(t)
	rs, warnings, err := svc.Submit(t.Context(), Request{
		Pipeline: []byte(planned), PipelinePath: ".gitlab-ci.yml", Ref: "v1.2.0", IsTag: true, SHA: "0123456789abcdef",
		ProjectName: "shop", Variables: []*gantryv1.Variable{{Key: "TOKEN", Value: "s3cret-value", Masked: true}},
		Archive: archive(t, map[string]string{"ci/templates.yml": ".go:\n  image: golang:1.26\n  variables:\n    GOFLAGS: -mod=mod\n"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if rs.Run.Name != "release v1.2.0" {
		t.Errorf("run name %q", rs.Run.Name)
	}
	var names []string
	for _, j := range rs.Jobs {
		names = append(names, j.Name)
	}
	if got := strings.Join(names, ","); got != "build 1/2,build 2/2,deploy" {
		t.Fatalf("jobs %s, want the two parallel builds and deploy (branch-only excluded on a tag)", got)
	}
	deploy := rs.JobByName("deploy")
	if deploy.When != "manual" || deploy.ResourceGroup != "production" || !deploy.UsesNeeds || len(deploy.Needs) != 2 || deploy.Status != model.JobCreated {
		t.Errorf("deploy: when %q group %q needs %v (%v) status %s", deploy.When, deploy.ResourceGroup, deploy.Needs, deploy.UsesNeeds, deploy.Status)
	}
	b2 := rs.JobByName("build 2/2")
	if b2.Status != model.JobPending || b2.Image != "golang:1.26" {
		t.Errorf("build 2/2: %s, image %q", b2.Status, b2.Image)
	}
	v := varsOf(specOf(t, st, b2))
	for key, want := range map[string]string{
		"CI_COMMIT_TAG": "v1.2.0", "CI_COMMIT_REF_NAME": "v1.2.0", "CI_COMMIT_SHORT_SHA": "01234567",
		"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2", "CI_JOB_NAME": "build 2/2", "CI_PROJECT_NAME": "shop",
		"CI_PIPELINE_SOURCE": "push", "CI_DEFAULT_BRANCH": "main", "GOFLAGS": "-mod=mod", "CI_PIPELINE_NAME": "release v1.2.0",
	} {
		if v[key].GetValue() != want {
			t.Errorf("%s = %q, want %q", key, v[key].GetValue(), want)
		}
	}
	if v["CI_REGISTRY_IMAGE"].GetValue() != "registry.example.com:5000/shop" {
		t.Errorf("CI_REGISTRY_IMAGE = %q", v["CI_REGISTRY_IMAGE"].GetValue())
	}
	dv := varsOf(specOf(t, st, deploy))
	for key, want := range map[string]string{
		"CI_ENVIRONMENT_NAME": "production/shop", "CI_ENVIRONMENT_SLUG": "production-shop", "CI_ENVIRONMENT_URL": "https://shop.example.com",
		"CI_ENVIRONMENT_ACTION": "start", "CI_ENVIRONMENT_TIER": "production",
	} {
		if dv[key].GetValue() != want {
			t.Errorf("deploy: %s = %q, want %q", key, dv[key].GetValue(), want)
		}
	}
	if _, ok := v["CI_COMMIT_BRANCH"]; ok {
		t.Errorf("CI_COMMIT_BRANCH set for a tag pipeline")
	}
	if !v["TOKEN"].GetMasked() {
		t.Errorf("the run's masked variable lost its mask")
	}
}

func TestSubmitRefusals(t *testing.T) {
	svc, _ := newService(t)
	cases := []struct {
		name, file string
		archive    map[string]string
		want       error
		msg        string
	}{
		{"workflow rules create no pipeline", "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\nj:\n  script: [x]\n", nil,
			ErrNoPipeline, "no workflow:rules match"},
		{"include missing from the source", "include: [{local: ci/missing.yml}]\nj:\n  script: [x]\n", map[string]string{"a.txt": "x"},
			ErrInvalidPipeline, "ci/missing.yml"},
		{"include without a source", "include: [{local: ci/base.yml}]\nj:\n  script: [x]\n", nil,
			ErrInvalidPipeline, `"ci/base.yml" does not exist in the source`},
		{"needs cycle", "a:\n  needs: [b]\n  script: [x]\nb:\n  needs: [a]\n  script: [x]\n", nil,
			ErrInvalidPipeline, "cycle"},
		{"only hidden jobs", ".t:\n  script: [x]\n", nil, ErrInvalidPipeline, "no visible jobs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := Request{Pipeline: []byte(c.file), Ref: "main"}
			if c.archive != nil {
				req.Archive = archive(t, c.archive)
			}
			_, _, err := svc.Submit(t.Context(), req)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
}

func TestSubmitResolvesCacheKeys(t *testing.T) {
	svc, st := newService(t)
	rs, _, err := svc.Submit(t.Context(), Request{
		Ref: "feature/Login", ProjectName: "shop",
		Pipeline: []byte(`
j:
  script: [x]
  cache:
    - key: deps-$CI_COMMIT_REF_SLUG
      paths: [.deps/]
      fallback_keys: [deps-main]
    - key:
        files: [go.sum, missing.lock]
        prefix: go
      paths: [.go/]
      policy: pull
    - key:
        files: [nothing.lock]
      paths: [x/]
    - paths: [y/]
      when: always
`),
		Archive: archive(t, map[string]string{"go.sum": "sums\n"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := specOf(t, st, rs.Jobs[0]).GetCaches()
	if len(cs) != 4 {
		t.Fatalf("caches %v", cs)
	}
	if k := cs[0].GetKeys(); strings.Join(k, ",") != "deps-feature-login,deps-main" {
		t.Errorf("expanded key and fallback: %v", k)
	}
	if k := cs[1].GetKeys()[0]; !strings.HasPrefix(k, "go-") || len(k) != len("go-")+40 || cs[1].GetPolicy() != "pull" {
		t.Errorf("key:files with prefix: %q policy %q", k, cs[1].GetPolicy())
	}
	if k := cs[2].GetKeys()[0]; k != "default" {
		t.Errorf("key:files with no file present: %q, want default", k)
	}
	if k := cs[3].GetKeys()[0]; k != "default" || cs[3].GetWhen() != "always" {
		t.Errorf("no key: %q when %q", k, cs[3].GetWhen())
	}
	// The files' contents decide the key: the same file gives the same key.
	rs2, _, err := svc.Submit(t.Context(), Request{Ref: "other", ProjectName: "shop",
		Pipeline: []byte("j:\n  script: [x]\n  cache:\n    key: {files: [go.sum], prefix: go}\n    paths: [.go/]\n"),
		Archive:  archive(t, map[string]string{"go.sum": "sums\n", "other.txt": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	if k := specOf(t, st, rs2.Jobs[0]).GetCaches()[0].GetKeys()[0]; k != cs[1].GetKeys()[0] {
		t.Errorf("same go.sum gave key %q, then %q", cs[1].GetKeys()[0], k)
	}
}
