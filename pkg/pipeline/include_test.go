package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
)

// memSource is a source tree in memory for ParseOptions.
type memSource map[string]string

func (m memSource) ReadFile(path string) ([]byte, error) {
	s, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
	}
	return []byte(s), nil
}

func (m memSource) ListFiles() ([]string, error) { return slices.Sorted(maps.Keys(m)), nil }

func (m memSource) options(facts *PlanInput) ParseOptions {
	return ParseOptions{ReadFile: m.ReadFile, ListFiles: m.ListFiles, Facts: facts}
}

// parseSource parses the source's .gitlab-ci.yml.
func parseSource(t *testing.T, src memSource, facts *PlanInput) (*Pipeline, error) {
	t.Helper()
	return ParseWith(".gitlab-ci.yml", []byte(src[".gitlab-ci.yml"]), src.options(facts))
}

func mustParseSource(t *testing.T, src memSource, facts *PlanInput) *Pipeline {
	t.Helper()
	pl, err := parseSource(t, src, facts)
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return pl
}

func TestIncludeMerging(t *testing.T) {
	src := memSource{
		".gitlab-ci.yml": `include:
  - local: ci/base.yml
  - ci/override.yml
variables:
  MAIN: main
  SHARED: from-main
test:
  variables:
    FROM_MAIN: "1"
`,
		"ci/base.yml": `include: /ci/nested/common.yml
stages: [build, test]
variables:
  SHARED: from-base
  BASE: base
test:
  stage: test
  image: python:3.12
  script: [pytest]
  tags: [base]
  variables:
    A: base
`,
		"ci/nested/common.yml": `default:
  image: alpine
variables:
  COMMON: common
  SHARED: from-common
`,
		"ci/override.yml": `test:
  tags: [override]
  variables:
    A: override
build:
  stage: build
  script: make
`,
	}
	pl := mustParseSource(t, src, nil)
	equal(t, "files", pl.Files, []string{".gitlab-ci.yml", "ci/base.yml", "ci/nested/common.yml", "ci/override.yml"})
	equal(t, "stages", pl.Stages, []string{".pre", "build", "test", ".post"})
	equal(t, "variables (main wins, keys in first-seen order)", pl.Variables, []Variable{
		{Key: "COMMON", Value: "common"},
		{Key: "SHARED", Value: "from-main"},
		{Key: "BASE", Value: "base"},
		{Key: "MAIN", Value: "main"},
	})
	equal(t, "jobs (included first)", jobNames(pl), []string{"test", "build"})
	test := job(t, pl, "test")
	equal(t, "test tags (lists replaced by the later file)", test.Tags, []string{"override"})
	equal(t, "test variables (mappings merged)", test.Variables, []Variable{{Key: "A", Value: "override"}, {Key: "FROM_MAIN", Value: "1"}})
	if test.Image.Name != "python:3.12" || test.Pos.File != ".gitlab-ci.yml" {
		t.Errorf("test image %v, pos %v", test.Image, test.Pos)
	}
	if b := job(t, pl, "build"); b.Image.Name != "alpine" || b.Pos != (Pos{File: "ci/override.yml", Line: 5, Column: 1}) {
		t.Errorf("build image %v (default from a nested include), pos %v", b.Image, b.Pos)
	}
}

func TestIncludeForms(t *testing.T) {
	files := memSource{
		"a.yml":        "a:\n  script: a\n",
		"b.yaml":       "b:\n  script: b\n",
		"ci/x.yml":     "x:\n  script: x\n",
		"ci/y.yml":     "y:\n  script: y\n",
		"ci/sub/z.yml": "z:\n  script: z\n",
		"ci/notes.txt": "not yaml",
	}
	tests := []struct {
		name    string
		include string
		want    []string
	}{
		{"string", "include: a.yml", []string{"a"}},
		{"leading slash", "include: /a.yml", []string{"a"}},
		{"list of strings", "include: [a.yml, b.yaml]", []string{"a", "b"}},
		{"mapping", "include: {local: a.yml}", []string{"a"}},
		{"list of mappings", "include:\n  - local: b.yaml\n  - local: a.yml", []string{"b", "a"}},
		{"wildcard in one directory", "include: 'ci/*.yml'", []string{"x", "y"}},
		{"wildcard across directories", "include: 'ci/**.yml'", []string{"z", "x", "y"}},
		{"dot segments", "include: ci/../a.yml", []string{"a"}},
		{"same file twice", "include: [a.yml, /a.yml]", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := maps.Clone(files)
			src[".gitlab-ci.yml"] = tt.include + "\nmain:\n  script: m\n"
			pl := mustParseSource(t, src, nil)
			equal(t, "jobs", jobNames(pl), append(tt.want, "main"))
		})
	}
}

func TestIncludeRulesAndVariables(t *testing.T) {
	src := memSource{
		".gitlab-ci.yml": `include:
  - local: ci/tags.yml
    rules:
      - if: $CI_COMMIT_TAG
  - local: ci/docker.yml
    rules:
      - exists: [Dockerfile]
  - local: ci/never.yml
    rules:
      - if: $CI_COMMIT_BRANCH
        when: never
      - when: always
  - local: ci/$TEAM.yml
main:
  script: m
`,
		"ci/tags.yml":   "release:\n  script: r\n",
		"ci/docker.yml": "docker:\n  script: d\n",
		"ci/never.yml":  "never:\n  script: n\n",
		"ci/infra.yml":  "infra:\n  script: i\n",
		"Dockerfile":    "FROM scratch",
	}
	branch := &PlanInput{Ref: "main", Variables: []Variable{{Key: "TEAM", Value: "infra"}}}
	equal(t, "jobs on a branch", jobNames(mustParseSource(t, src, branch)), []string{"docker", "infra", "main"})
	tag := &PlanInput{Ref: "v1", IsTag: true, Predefined: []Variable{{Key: "TEAM", Value: "infra"}}}
	equal(t, "jobs on a tag", jobNames(mustParseSource(t, src, tag)), []string{"release", "docker", "never", "infra", "main"})

	_, err := parseSource(t, src, &PlanInput{Ref: "main"})
	if err == nil || !strings.Contains(err.Error(), `.gitlab-ci.yml:13:12: include "ci/$TEAM.yml" uses $TEAM, which is not set`) {
		t.Errorf("include path with an unset variable: err = %v", err)
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  memSource
		want []string
	}{
		{
			name: "missing file",
			src:  memSource{".gitlab-ci.yml": "include: ci/nope.yml\nj:\n  script: x\n"},
			want: []string{`.gitlab-ci.yml:1:10: included file "ci/nope.yml" does not exist in the source`},
		},
		{
			name: "cycle",
			src: memSource{
				".gitlab-ci.yml": "include: a.yml\nj:\n  script: x\n",
				"a.yml":          "include: b.yml\n",
				"b.yml":          "include: [c.yml, a.yml]\n",
				"c.yml":          "c:\n  script: c\n",
			},
			want: []string{"b.yml:1:18: include forms a cycle: a.yml -> b.yml -> a.yml"},
		},
		{
			name: "including the pipeline file",
			src:  memSource{".gitlab-ci.yml": "include: .gitlab-ci.yml\nj:\n  script: x\n"},
			want: []string{".gitlab-ci.yml:1:10: include forms a cycle: .gitlab-ci.yml -> .gitlab-ci.yml"},
		},
		{
			name: "remote",
			src:  memSource{".gitlab-ci.yml": "include:\n  - https://example.com/ci.yml\n  - remote: https://example.com/ci.yml\nj:\n  script: x\n"},
			want: []string{
				`.gitlab-ci.yml:2:5: include "https://example.com/ci.yml": remote includes are not supported: Gantry only reads files from the submitted source`,
				".gitlab-ci.yml:3:5: include: keyword `remote` is not supported: Gantry only reads files from the submitted source",
			},
		},
		{
			name: "project, template, component, inputs",
			src: memSource{".gitlab-ci.yml": `include:
  - project: group/ci
    file: /templates/go.yml
  - template: Auto-DevOps.gitlab-ci.yml
  - component: gitlab.com/components/sast/sast@1.0
  - local: a.yml
    inputs: {stage: test}
j:
  script: x
`, "a.yml": "a:\n  script: a\n"},
			want: []string{
				".gitlab-ci.yml:2:5: include: keyword `project` is not supported: Gantry only reads files from the submitted source",
				".gitlab-ci.yml:4:5: include: keyword `template` is not supported: Gantry only reads files from the submitted source",
				".gitlab-ci.yml:5:5: include: keyword `component` is not supported: Gantry only reads files from the submitted source",
				".gitlab-ci.yml:7:5: include: keyword `inputs` is not supported: Gantry does not support `spec:inputs`",
			},
		},
		{
			name: "not YAML",
			src:  memSource{".gitlab-ci.yml": "include: notes.txt\nj:\n  script: x\n", "notes.txt": "x"},
			want: []string{`.gitlab-ci.yml:1:10: include "notes.txt": an included file must have a .yml or .yaml extension`},
		},
		{
			name: "outside the source",
			src:  memSource{".gitlab-ci.yml": "include: ../../etc/ci.yml\nj:\n  script: x\n"},
			want: []string{`.gitlab-ci.yml:1:10: include "../../etc/ci.yml": the path leaves the source tree`},
		},
		{
			name: "errors in an included file point into it",
			src: memSource{
				".gitlab-ci.yml": "include: ci/jobs.yml\n",
				"ci/jobs.yml":    "build:\n  stage: nowhere\n  script: make\n",
			},
			want: []string{`ci/jobs.yml:2:10: job "build": stage "nowhere" is not defined; the defined stages are .pre, build, test, deploy, .post`},
		},
		{
			name: "YAML error in an included file",
			src: memSource{
				".gitlab-ci.yml": "include: ci/jobs.yml\nj:\n  script: x\n",
				"ci/jobs.yml":    "build:\n  script: [a\n",
			},
			want: []string{"ci/jobs.yml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence started at 2:11)"},
		},
		{
			name: "included file not a mapping",
			src:  memSource{".gitlab-ci.yml": "include: a.yml\nj:\n  script: x\n", "a.yml": "- a\n"},
			want: []string{"a.yml:1:1: an included file must be a mapping of keywords and jobs, got a list"},
		},
		{
			name: "bad include value",
			src:  memSource{".gitlab-ci.yml": "include: [[1, {}], 3]\nj:\n  script: x\n"},
			want: []string{
				".gitlab-ci.yml:1:15: include: a mapping needs `local`, the path of a file in the source",
				`.gitlab-ci.yml:1:12: include "1": an included file must have a .yml or .yaml extension`,
				`.gitlab-ci.yml:1:20: include "3": an included file must have a .yml or .yaml extension`,
			},
		},
		{
			name: "too big",
			src:  memSource{".gitlab-ci.yml": "include: big.yml\nj:\n  script: x\n", "big.yml": "# " + strings.Repeat("x", maxFileBytes)},
			want: []string{".gitlab-ci.yml:1:10: big.yml is too big: 2097154 bytes, at most 2097152 are allowed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSource(t, tt.src, nil)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			equalLines(t, "errors", got, want)
		})
	}
}

func TestIncludeWithoutSource(t *testing.T) {
	errs := parseErrors(t, "include: a.yml\nj:\n  script: x\n")
	equalLines(t, "errors", errs, []string{`ci.yml:1:10: include "a.yml": included files cannot be read here; parse the pipeline with its source`})
}

func TestIncludeLimits(t *testing.T) {
	// A chain deeper than GitLab's 100 levels.
	deep := memSource{".gitlab-ci.yml": "include: f0.yml\nj:\n  script: x\n"}
	for i := range maxIncludeDepth + 2 {
		deep[fmt.Sprintf("f%d.yml", i)] = fmt.Sprintf("include: f%d.yml\n", i+1)
	}
	deep[fmt.Sprintf("f%d.yml", maxIncludeDepth+2)] = "k:\n  script: x\n"
	_, err := parseSource(t, deep, nil)
	if err == nil || !strings.Contains(err.Error(), "includes are nested too deeply: more than 100 levels") {
		t.Errorf("deep includes: err = %v", err)
	}

	// More files than GitLab's 150.
	wide := memSource{}
	var names []string
	for i := range maxIncludes + 5 {
		name := fmt.Sprintf("w%d.yml", i)
		wide[name] = fmt.Sprintf("w%d:\n  script: x\n", i)
		names = append(names, name)
	}
	wide[".gitlab-ci.yml"] = "include: [" + strings.Join(names, ", ") + "]\n"
	_, err = parseSource(t, wide, nil)
	if err == nil || !strings.Contains(err.Error(), "too many includes: at most 150 files may be included") {
		t.Errorf("many includes: err = %v", err)
	}
}
