package pipeline

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStages(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		wantStages []string
		wantJobs   map[string]string // job → stage
	}{
		{
			name:       "defaults",
			src:        "a:\n  script: x\nb:\n  stage: deploy\n  script: x\n",
			wantStages: []string{".pre", "build", "test", "deploy", ".post"},
			wantJobs:   map[string]string{"a": "test", "b": "deploy"},
		},
		{
			name:       "pre and post always first and last",
			src:        "stages: [.post, one, .pre, two]\nfirst:\n  stage: .pre\n  script: x\nlast:\n  stage: .post\n  script: x\nmid:\n  stage: two\n  script: x\n",
			wantStages: []string{".pre", "one", "two", ".post"},
			wantJobs:   map[string]string{"first": ".pre", "last": ".post", "mid": "two"},
		},
		{
			name:       "pre and post exist when not listed",
			src:        "stages: [lint]\nsetup:\n  stage: .pre\n  script: x\nl:\n  stage: lint\n  script: x\n",
			wantStages: []string{".pre", "lint", ".post"},
			wantJobs:   map[string]string{"setup": ".pre", "l": "lint"},
		},
		{
			name:       "nested lists from anchors are flattened",
			src:        ".x: &s [a, b]\nstages: [*s, c]\nj:\n  stage: c\n  script: x\n",
			wantStages: []string{".pre", "a", "b", "c", ".post"},
			wantJobs:   map[string]string{"j": "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := mustParse(t, tt.src)
			equal(t, "stages", pl.Stages, tt.wantStages)
			for name, stage := range tt.wantJobs {
				if got := job(t, pl, name).Stage; got != stage {
					t.Errorf("job %s: stage %q, want %q", name, got, stage)
				}
			}
		})
	}
}

func TestStagesListedTwiceWarns(t *testing.T) {
	pl := mustParse(t, "stages: [a, b, a]\nj:\n  stage: a\n  script: x\n")
	equal(t, "stages", pl.Stages, []string{".pre", "a", "b", ".post"})
	equalLines(t, "warnings", warnings(pl), []string{`ci.yml:1:16: stage "a" is listed twice; the first place counts`})
}

func TestJobsInFileOrderAndHiddenExcluded(t *testing.T) {
	pl := mustParse(t, `
zeta:
  script: z
.hidden:
  script: h
alpha:
  script: a
.not-even-a-mapping: 42
`)
	equal(t, "jobs", jobNames(pl), []string{"zeta", "alpha"})
	if got := job(t, pl, "zeta").Pos; got != (Pos{File: "ci.yml", Line: 2, Column: 1}) {
		t.Errorf("zeta position = %v", got)
	}
}

func TestDefaultInheritance(t *testing.T) {
	pl := mustParse(t, `
default:
  image: golang:1.26
  services: [redis:7]
  before_script: [setup]
  after_script: cleanup
  tags: [linux]
inherits:
  script: test
overrides:
  image: alpine
  services: []
  before_script: other
  tags: [arm]
  script: test
`)
	in := job(t, pl, "inherits")
	if in.Image == nil || in.Image.Name != "golang:1.26" {
		t.Errorf("inherits: image %+v", in.Image)
	}
	if len(in.Services) != 1 || in.Services[0].Name != "redis:7" {
		t.Errorf("inherits: services %+v", in.Services)
	}
	equal(t, "inherits before_script", in.BeforeScript, []string{"setup"})
	equal(t, "inherits after_script", in.AfterScript, []string{"cleanup"})
	equal(t, "inherits tags", in.Tags, []string{"linux"})

	ov := job(t, pl, "overrides")
	if ov.Image == nil || ov.Image.Name != "alpine" {
		t.Errorf("overrides: image %+v", ov.Image)
	}
	if len(ov.Services) != 0 {
		t.Errorf("overrides: services %+v, want none (an empty list replaces the default)", ov.Services)
	}
	equal(t, "overrides before_script", ov.BeforeScript, []string{"other"})
	equal(t, "overrides after_script", ov.AfterScript, []string{"cleanup"})
	equal(t, "overrides tags", ov.Tags, []string{"arm"})

	// Jobs get copies: changing one job never changes another.
	in.Image.Name = "changed"
	if other := mustParse(t, "default:\n  image: a\nj:\n  script: x\n"); other.Jobs[0].Image.Name != "a" {
		t.Errorf("image shared across parses")
	}
	in.Tags[0] = "changed"
	if job(t, pl, "inherits").Tags[0] != "changed" || ov.Tags[0] != "arm" {
		t.Errorf("tags unexpectedly shared")
	}
}

func TestNoImage(t *testing.T) {
	pl := mustParse(t, "j:\n  script: x\n")
	if pl.Jobs[0].Image != nil {
		t.Errorf("image = %+v, want nil", pl.Jobs[0].Image)
	}
}

func TestDeprecatedGlobals(t *testing.T) {
	pl := mustParse(t, `image: ruby:3
before_script: [bundle install]
after_script: [echo done]
services: [postgres]
cache:
  paths: [vendor]
default:
  after_script: [echo default]
j:
  script: rspec
`)
	j := job(t, pl, "j")
	if j.Image == nil || j.Image.Name != "ruby:3" {
		t.Errorf("image %+v", j.Image)
	}
	equal(t, "before_script", j.BeforeScript, []string{"bundle install"})
	equal(t, "after_script", j.AfterScript, []string{"echo default"})
	if len(j.Services) != 1 || j.Services[0].Name != "postgres" {
		t.Errorf("services %+v", j.Services)
	}
	equalLines(t, "warnings", warnings(pl), []string{
		"ci.yml:1:1: top-level `image` is deprecated; move it under `default:`",
		"ci.yml:2:1: top-level `before_script` is deprecated; move it under `default:`",
		"ci.yml:3:1: `after_script` is set both here and in `default:`; the `default:` value is used",
		"ci.yml:3:1: top-level `after_script` is deprecated; move it under `default:`",
		"ci.yml:4:1: top-level `services` is deprecated; move it under `default:`",
		"ci.yml:5:1: top-level `cache` is deprecated; move it under `default:`",
	})
	if len(j.Cache) != 1 || !slices.Equal(j.Cache[0].Paths, []string{"vendor"}) || j.Cache[0].Key != "default" {
		t.Errorf("cache %+v, want the top-level cache", j.Cache)
	}
}

func TestImageForms(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Image
	}{
		{"string", "image: alpine:3", Image{Name: "alpine:3"}},
		{"mapping", "image:\n    name: alpine:3", Image{Name: "alpine:3"}},
		{"empty entrypoint", "image:\n    name: trivy\n    entrypoint: [\"\"]", Image{Name: "trivy", Entrypoint: []string{""}, EntrypointSet: true}},
		{"entrypoint", "image: {name: x, entrypoint: [/bin/sh, -c]}", Image{Name: "x", Entrypoint: []string{"/bin/sh", "-c"}, EntrypointSet: true}},
		{"no entrypoint args", "image: {name: x, entrypoint: []}", Image{Name: "x", Entrypoint: []string{}, EntrypointSet: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := mustParse(t, "j:\n  script: x\n  "+tt.src+"\n")
			got := pl.Jobs[0].Image
			if got == nil || got.Name != tt.want.Name || got.EntrypointSet != tt.want.EntrypointSet {
				t.Fatalf("image = %+v, want %+v", got, tt.want)
			}
			equal(t, "entrypoint", got.Entrypoint, tt.want.Entrypoint)
			if tt.want.Entrypoint != nil && got.Entrypoint == nil {
				t.Errorf("entrypoint is nil, want %q", tt.want.Entrypoint)
			}
		})
	}
}

func TestImageWarnsOnUnsupportedKeys(t *testing.T) {
	pl := mustParse(t, "j:\n  script: x\n  image: {name: x, pull_policy: always}\n")
	equalLines(t, "warnings", warnings(pl), []string{
		"ci.yml:3:20: job \"j\": image: keyword `pull_policy` is not used by Gantry and was ignored",
	})
}

func TestServicesForms(t *testing.T) {
	pl := mustParse(t, `
j:
  script: x
  services:
    - docker:24-dind
    - name: postgres:15
      alias: db
      entrypoint: [docker-entrypoint.sh]
      command: [postgres, -c, fsync=off]
      variables:
        POSTGRES_PASSWORD: secret
        PORT: 5432
`)
	s := pl.Jobs[0].Services
	if len(s) != 2 {
		t.Fatalf("services = %+v", s)
	}
	if s[0].Name != "docker:24-dind" || s[0].Alias != "" || s[0].EntrypointSet {
		t.Errorf("services[0] = %+v", s[0])
	}
	if s[1].Name != "postgres:15" || s[1].Alias != "db" || !s[1].EntrypointSet {
		t.Errorf("services[1] = %+v", s[1])
	}
	equal(t, "entrypoint", s[1].Entrypoint, []string{"docker-entrypoint.sh"})
	equal(t, "command", s[1].Command, []string{"postgres", "-c", "fsync=off"})
	equal(t, "variables", s[1].Variables, []Variable{{Key: "POSTGRES_PASSWORD", Value: "secret"}, {Key: "PORT", Value: "5432"}})
}

func TestScripts(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"string", "script: make test", []string{"make test"}},
		{"list", "script: [a, b]", []string{"a", "b"}},
		{"numbers and booleans as written", "script: [42, 1.10, true, 0x1F, ~x]", []string{"42", "1.10", "true", "0x1F", "~x"}},
		{"nested lists flattened", "script: [a, [b, [c, [d]]], e]", []string{"a", "b", "c", "d", "e"}},
		{"block scalar", "script:\n    - |\n      one\n      two", []string{"one\ntwo\n"}},
		{"folded plain scalar", "script:\n    - helm upgrade\n        --wait", []string{"helm upgrade --wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := mustParse(t, "j:\n  "+tt.src+"\n")
			equal(t, "script", pl.Jobs[0].Script, tt.want)
		})
	}
}

func TestScriptAnchorsSplice(t *testing.T) {
	pl := mustParse(t, `
.setup: &setup
  - apt-get update
  - apt-get install -y make
j:
  before_script:
    - *setup
    - echo ready
  script: [make]
`)
	equal(t, "before_script", pl.Jobs[0].BeforeScript, []string{"apt-get update", "apt-get install -y make", "echo ready"})
}

func TestVariables(t *testing.T) {
	pl := mustParse(t, `
variables:
  STRING: "hello"
  PORT: 5432
  FLAG: true
  VERSION: 1.10
  HEX: 0x1F
  EMPTY:
  DEPLOY_ENV:
    value: staging
    description: Where to deploy
    options: [staging, production]
  RAW:
    value: $NOT_EXPANDED
    expand: false
  ONLY_DESC:
    description: filled in when running by hand
j:
  script: x
  variables:
    JOB_VAR: 7
    JOB_RAW: {value: "$X", expand: false}
`)
	equal(t, "pipeline variables", varKeys(pl.Variables), []string{"STRING", "PORT", "FLAG", "VERSION", "HEX", "EMPTY", "DEPLOY_ENV", "RAW", "ONLY_DESC"})
	want := map[string]Variable{
		"STRING":     {Key: "STRING", Value: "hello"},
		"PORT":       {Key: "PORT", Value: "5432"},
		"FLAG":       {Key: "FLAG", Value: "true"},
		"VERSION":    {Key: "VERSION", Value: "1.10"},
		"HEX":        {Key: "HEX", Value: "0x1F"},
		"EMPTY":      {Key: "EMPTY", Value: ""},
		"DEPLOY_ENV": {Key: "DEPLOY_ENV", Value: "staging", Description: "Where to deploy"},
		"RAW":        {Key: "RAW", Value: "$NOT_EXPANDED", Raw: true},
		"ONLY_DESC":  {Key: "ONLY_DESC", Description: "filled in when running by hand"},
	}
	for _, v := range pl.Variables {
		w := want[v.Key]
		if v.Value != w.Value || v.Description != w.Description || v.Raw != w.Raw {
			t.Errorf("variable %s = %+v, want %+v", v.Key, v, w)
		}
	}
	equal(t, "options", pl.Variables[6].Options, []string{"staging", "production"})
	equal(t, "job variables", pl.Jobs[0].Variables, []Variable{{Key: "JOB_VAR", Value: "7"}, {Key: "JOB_RAW", Value: "$X", Raw: true}})
}

func varKeys(vs []Variable) []string {
	var keys []string
	for _, v := range vs {
		keys = append(keys, v.Key)
	}
	return keys
}

func TestGitLabOnlyKeywordsWarn(t *testing.T) {
	pl := mustParse(t, `default:
  hooks: {pre_get_sources_script: [git config x y]}
pages:
  script: make site
  pages: {publish: public}
  release: {tag_name: v1, description: d}
  dast_configuration: {site_profile: x}
  artifacts:
    reports:
      sast: gl-sast-report.json
`)
	equalLines(t, "warnings", warnings(pl), []string{
		"ci.yml:2:3: default: keyword `hooks` is not used by Gantry and was ignored",
		"ci.yml:5:3: job \"pages\": keyword `pages` is not used by Gantry and was ignored",
		"ci.yml:6:3: job \"pages\": keyword `release` is not used by Gantry and was ignored",
		"ci.yml:7:3: job \"pages\": keyword `dast_configuration` is not used by Gantry and was ignored",
		"ci.yml:10:7: job \"pages\": artifacts:reports:sast: only GitLab reads this report; Gantry keeps the files as artifacts",
	})
	equal(t, "sast report", job(t, pl, "pages").Artifacts.Reports.Other["sast"], []string{"gl-sast-report.json"})
}

func TestSpecHeaderIsSkipped(t *testing.T) {
	pl := mustParse(t, "spec:\n  inputs:\n    env: {}\n---\nj:\n  script: x\n")
	equal(t, "jobs", jobNames(pl), []string{"j"})
	equalLines(t, "warnings", warnings(pl), []string{"ci.yml:1:1: the `spec` header document is not supported yet and was ignored"})
}

func TestErrorListUnwraps(t *testing.T) {
	_, err := Parse(testFile, []byte("j:\n  stage: nope\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(*Error) failed on %v", err)
	}
	if e.Pos != (Pos{File: testFile, Line: 1, Column: 1}) {
		t.Errorf("first error at %v, want ci.yml:1:1 (sorted first)", e.Pos)
	}
}

func TestRetry(t *testing.T) {
	pl := mustParse(t, `default:
  retry: 1
plain:
  script: x
number:
  script: x
  retry: 2
mapping:
  script: x
  retry:
    max: 2
    when: [runner_system_failure, script_failure]
    exit_codes: [137, 1]
single:
  script: x
  retry: {max: 1, when: stuck_or_timeout_failure, exit_codes: 3}
`)
	want := map[string]Retry{
		"plain":   {Max: 1},
		"number":  {Max: 2},
		"mapping": {Max: 2, When: []string{"runner_system_failure", "script_failure"}, ExitCodes: []int{137, 1}},
		"single":  {Max: 1, When: []string{"stuck_or_timeout_failure"}, ExitCodes: []int{3}},
	}
	for _, j := range pl.Jobs {
		w := want[j.Name]
		if j.Retry == nil || j.Retry.Max != w.Max || !slices.Equal(j.Retry.When, w.When) || !slices.Equal(j.Retry.ExitCodes, w.ExitCodes) {
			t.Errorf("job %s: retry %+v, want %+v", j.Name, j.Retry, w)
		}
	}
	if r := (&Retry{Max: 1}); !r.Covers("runner_system_failure") {
		t.Error("retry without when must cover every reason")
	}
	if r := (&Retry{Max: 1, When: []string{"script_failure"}}); r.Covers("runner_system_failure") || !r.Covers("script_failure") {
		t.Error("retry:when must limit the reasons")
	}
	for src, want := range map[string]string{
		"j:\n  script: x\n  retry: 3\n":                         "ci.yml:3:10: job \"j\": retry must be a whole number from 0 to 2, got \"3\"",
		"j:\n  script: x\n  retry: {max: 1, when: [oops]}\n":    "ci.yml:3:26: job \"j\": retry:when \"oops\" is not a failure reason",
		"j:\n  script: x\n  retry: [1]\n":                       "ci.yml:3:10: job \"j\": retry must be a number from 0 to 2 or a mapping",
		"j:\n  script: x\n  retry: {max: 1, exit_codes: [x]}\n": "ci.yml:3:32: job \"j\": retry:exit_codes entries must be exit codes",
	} {
		_, err := Parse("ci.yml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", src, err, want)
		}
	}
}
