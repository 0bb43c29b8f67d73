package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

func TestExtends(t *testing.T) {
	pl := mustParse(t, `
.base:
  image: golang:1.26
  tags: [linux, docker]
  variables:
    GOFLAGS: -mod=mod
    LEVEL: base
  script: [go build ./...]

.tests:
  extends: .base
  stage: test
  variables:
    LEVEL: tests
  script: [go test ./...]

.arm:
  tags: [arm]
  variables:
    ARCH: arm64

unit:
  extends: [.tests, .arm]
  variables:
    OWN: "yes"

build:
  extends: .base
  stage: build
`)
	unit := job(t, pl, "unit")
	if unit.Image == nil || unit.Image.Name != "golang:1.26" {
		t.Errorf("unit image = %+v", unit.Image)
	}
	equal(t, "unit stage", []string{unit.Stage}, []string{"test"})
	equal(t, "unit script (lists are replaced)", unit.Script, []string{"go test ./..."})
	equal(t, "unit tags (the later parent wins)", unit.Tags, []string{"arm"})
	equal(t, "unit variables (mappings merge)", unit.Variables, []Variable{
		{Key: "GOFLAGS", Value: "-mod=mod"},
		{Key: "LEVEL", Value: "tests"},
		{Key: "ARCH", Value: "arm64"},
		{Key: "OWN", Value: "yes"},
	})
	build := job(t, pl, "build")
	equal(t, "build script", build.Script, []string{"go build ./..."})
	equal(t, "build stage", []string{build.Stage}, []string{"build"})
}

func TestExtendsVisibleJobAndWarningsFromTemplate(t *testing.T) {
	pl := mustParse(t, `
.tpl:
  release: {description: x}
a:
  extends: .tpl
  script: x
b:
  extends: a
`)
	equal(t, "jobs", jobNames(pl), []string{"a", "b"})
	equal(t, "b script", job(t, pl, "b").Script, []string{"x"})
	equalLines(t, "warnings", warnings(pl), []string{
		"ci.yml:3:3: job \"a\": keyword `release` is not used by Gantry and was ignored",
		"ci.yml:3:3: job \"b\": keyword `release` is not used by Gantry and was ignored",
	})
}

// extendsChain builds a job extending a chain of n templates.
func extendsChain(n int) string {
	var b strings.Builder
	b.WriteString(".t0:\n  script: [x]\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, ".t%d:\n  extends: .t%d\n", i, i-1)
	}
	fmt.Fprintf(&b, "job:\n  extends: .t%d\n", n-1)
	return b.String()
}

func TestExtendsDepthLimit(t *testing.T) {
	pl := mustParse(t, extendsChain(11))
	equal(t, "script through 11 levels", pl.Jobs[0].Script, []string{"x"})

	errs := parseErrors(t, extendsChain(12))
	equalLines(t, "errors", errs, []string{"ci.yml:26:3: job \"job\": extends is nested too deeply: 12 levels, at most 11 are allowed"})
}

func TestExtendsErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown parent",
			src:  ".template:\n  script: x\nj:\n  extends: .tempalte\n",
			want: []string{`ci.yml:4:12: job "j": extends unknown job ".tempalte"; did you mean ".template"?`},
		},
		{
			name: "unknown parent in a list",
			src:  ".a:\n  script: x\nj:\n  extends:\n    - .a\n    - .nowhere-near-anything\n",
			want: []string{`ci.yml:6:7: job "j": extends unknown job ".nowhere-near-anything"`},
		},
		{
			name: "cycle",
			src:  ".a:\n  extends: .b\n.b:\n  extends: .c\n.c:\n  extends: .a\nj:\n  extends: .a\n  script: x\n",
			want: []string{`ci.yml:6:12: job ".c": extends forms a cycle: .a -> .b -> .c -> .a`},
		},
		{
			name: "extends itself",
			src:  "j:\n  extends: j\n  script: x\n",
			want: []string{`ci.yml:2:12: job "j": extends forms a cycle: j -> j`},
		},
		{
			name: "parent not a mapping",
			src:  ".a: [x]\nj:\n  extends: .a\n  script: x\n",
			want: []string{`ci.yml:3:12: job "j": cannot extend ".a": it is a list, not a mapping of keywords`},
		},
		{
			name: "extends of the wrong type",
			src:  "j:\n  extends: {a: b}\n  script: x\n",
			want: []string{`ci.yml:2:12: job "j": extends must be a string or a list of strings, got a mapping`},
		},
		{
			name: "broken unused template is still an error",
			src:  ".t:\n  extends: .missing\nj:\n  script: x\n",
			want: []string{`ci.yml:2:12: job ".t": extends unknown job ".missing"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, "errors", parseErrors(t, tt.src), tt.want)
		})
	}
}

func TestDeepMergeLeavesInputsAlone(t *testing.T) {
	base := &yamlpos.Node{Kind: yamlpos.Mapping, Pairs: []yamlpos.Pair{
		{Key: &yamlpos.Node{Kind: yamlpos.Scalar, Value: "v"}, Value: &yamlpos.Node{Kind: yamlpos.Mapping, Pairs: []yamlpos.Pair{
			{Key: &yamlpos.Node{Kind: yamlpos.Scalar, Value: "A"}, Value: &yamlpos.Node{Kind: yamlpos.Scalar, Value: "1"}},
		}}},
	}}
	over := &yamlpos.Node{Kind: yamlpos.Mapping, Pairs: []yamlpos.Pair{
		{Key: &yamlpos.Node{Kind: yamlpos.Scalar, Value: "v"}, Value: &yamlpos.Node{Kind: yamlpos.Mapping, Pairs: []yamlpos.Pair{
			{Key: &yamlpos.Node{Kind: yamlpos.Scalar, Value: "B"}, Value: &yamlpos.Node{Kind: yamlpos.Scalar, Value: "2"}},
		}}},
	}}
	got := deepMerge(base, over)
	v, _ := got.Lookup("v")
	if len(v.Value.Pairs) != 2 {
		t.Errorf("merged v has %d keys, want 2", len(v.Value.Pairs))
	}
	bv, _ := base.Lookup("v")
	ov, _ := over.Lookup("v")
	if len(bv.Value.Pairs) != 1 || len(ov.Value.Pairs) != 1 {
		t.Errorf("inputs were modified")
	}
}

// GitLab merges `extends` with deep_merge at every level: mappings merge key
// by key however deep, lists and scalars are replaced whole.
func TestExtendsMultiLevelDeepMerge(t *testing.T) {
	pl := mustParse(t, `
.a:
  variables: {A: a, B: a}
  artifacts:
    paths: [a]
    reports: {junit: a.xml}
  rules: [{if: $A}]
  cache: {key: a, paths: [a]}
.b:
  extends: .a
  variables: {B: b, C: b}
  artifacts:
    reports: {dotenv: b.env}
  cache: {paths: [b]}
.c:
  extends: .b
  variables: {C: c}
  artifacts:
    paths: [c]
j:
  extends: .c
  script: x
  rules: [{if: $J}, {when: never}]
`)
	j := job(t, pl, "j")
	equal(t, "variables", j.Variables, []Variable{{Key: "A", Value: "a"}, {Key: "B", Value: "b"}, {Key: "C", Value: "c"}})
	equal(t, "artifacts paths (replaced)", j.Artifacts.Paths, []string{"c"})
	equal(t, "junit (merged from .a)", j.Artifacts.Reports.JUnit, []string{"a.xml"})
	equal(t, "dotenv (merged from .b)", j.Artifacts.Reports.Dotenv, []string{"b.env"})
	equal(t, "cache", j.Cache, []Cache{{Key: "a", Paths: []string{"b"}, Policy: "pull-push", When: "on_success"}})
	if len(j.Rules) != 2 || j.Rules[0].If != "$J" {
		t.Errorf("rules (replaced) = %+v", j.Rules)
	}
}
