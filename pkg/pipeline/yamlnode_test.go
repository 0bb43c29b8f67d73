package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAnchorsAndMergeKeys(t *testing.T) {
	pl := mustParse(t, `
.base: &base
  image: golang:1.26
  tags: [linux]
  variables: &vars
    GOFLAGS: -mod=mod
    CGO_ENABLED: 0
  script: [go test ./...]

unit:
  <<: *base
  tags: [arm]

race:
  <<: *base
  variables:
    <<: *vars
    CGO_ENABLED: 1
  script: [go test -race ./...]
`)
	equal(t, "jobs", jobNames(pl), []string{"unit", "race"})
	unit := job(t, pl, "unit")
	if unit.Image == nil || unit.Image.Name != "golang:1.26" {
		t.Errorf("unit image = %+v", unit.Image)
	}
	equal(t, "unit tags", unit.Tags, []string{"arm"})
	equal(t, "unit script", unit.Script, []string{"go test ./..."})
	equal(t, "unit variables", unit.Variables, []Variable{{Key: "GOFLAGS", Value: "-mod=mod"}, {Key: "CGO_ENABLED", Value: "0"}})

	race := job(t, pl, "race")
	equal(t, "race tags", race.Tags, []string{"linux"})
	equal(t, "race script", race.Script, []string{"go test -race ./..."})
	equal(t, "race variables", race.Variables, []Variable{{Key: "GOFLAGS", Value: "-mod=mod"}, {Key: "CGO_ENABLED", Value: "1"}})
	if len(pl.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", warnings(pl))
	}
}

// Merge keys follow GitLab's loader: keys after `<<` win, keys before it
// lose, and in a list of mappings the earlier one wins.
func TestMergeKeyPrecedence(t *testing.T) {
	pl := mustParse(t, `
.a: &a {A: from-a, B: from-a}
.b: &b {A: from-b, B: from-b, C: from-b}
j:
  script: x
  variables:
    B: before
    <<: [*a, *b]
    C: after
`)
	equal(t, "variables", pl.Jobs[0].Variables, []Variable{
		{Key: "B", Value: "from-a"},
		{Key: "A", Value: "from-a"},
		{Key: "C", Value: "after"},
	})
}

func TestQuotedMergeKeyIsAPlainKey(t *testing.T) {
	errs := parseErrors(t, "j:\n  script: x\n  '<<': {image: alpine}\n")
	equalLines(t, "errors", errs, []string{"ci.yml:3:3: job \"j\": unknown keyword `<<`"})
}

func TestDuplicateKeysWarnAndLastWins(t *testing.T) {
	pl := mustParse(t, `build:
  script: one
  image: a
  script: two
build:
  script: three
test:
  script: t
`)
	equal(t, "jobs (first place kept)", jobNames(pl), []string{"build", "test"})
	b := job(t, pl, "build")
	equal(t, "script", b.Script, []string{"three"})
	if b.Image != nil {
		t.Errorf("image = %+v, want nil: the whole job was replaced", b.Image)
	}
	if b.Pos.Line != 5 {
		t.Errorf("job position = %v, want the definition in use (line 5)", b.Pos)
	}
	equalLines(t, "warnings", warnings(pl), []string{
		`ci.yml:4:3: duplicate key "script": this value replaces the one at 2:3`,
		`ci.yml:5:1: duplicate key "build": this value replaces the one at 1:1`,
	})
}

func TestRedefinedAnchorWarns(t *testing.T) {
	pl := mustParse(t, `
.one: &img alpine:1
a:
  image: *img
  script: x
.two: &img alpine:2
b:
  image: *img
  script: x
`)
	if got := job(t, pl, "a").Image.Name; got != "alpine:1" {
		t.Errorf("a image = %q", got)
	}
	if got := job(t, pl, "b").Image.Name; got != "alpine:2" {
		t.Errorf("b image = %q", got)
	}
	equalLines(t, "warnings", warnings(pl), []string{
		"ci.yml:6:7: anchor &img is defined again (first at 2:7); aliases after this point use this value",
	})
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "mapping value in a plain scalar",
			src:  "j:\n  script: echo a: b\n",
			want: []string{"ci.yml:2:17: invalid YAML: mapping values are not allowed in this context"},
		},
		{
			name: "bad indentation",
			src:  "j:\n  script: x\n image: a\n",
			want: []string{"ci.yml:3:2: invalid YAML: did not find expected key (while parsing a block mapping started at 1:1)"},
		},
		{
			name: "tab indentation",
			src:  "j:\n\tscript: x\n",
			want: []string{"ci.yml:2:1: invalid YAML: found character that cannot start any token (while scanning for the next token); indent with spaces, YAML does not allow tabs for indentation"},
		},
		{
			name: "unclosed flow sequence",
			src:  "j:\n  script: [a, b\n  image: x\n",
			want: []string{"ci.yml:3:8: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence started at 2:11)"},
		},
		{
			name: "columns count characters",
			src:  "j:\n  script: \"héllo\" x\n",
			want: []string{"ci.yml:2:19: invalid YAML: did not find expected key (while parsing a block mapping started at 2:3)"},
		},
		{
			name: "invalid UTF-8",
			src:  "j:\n  script: \"h\xc3\xa9llo \xff\"\n",
			want: []string{"ci.yml:2:18: invalid YAML: the file is not valid UTF-8 here (invalid leading UTF-8 octet (value: 255))"},
		},
		{
			name: "unknown alias",
			src:  "j:\n  script: *nope\n",
			want: []string{"ci.yml:2:11: invalid YAML: unknown anchor 'nope' referenced"},
		},
		{
			name: "several documents",
			src:  "a:\n  script: x\n---\nb:\n  script: y\n",
			want: []string{"ci.yml:3:1: a pipeline file holds a single YAML document; remove this `---` and what follows, or merge it into the first document"},
		},
		{
			name: "recursive alias",
			src:  "j: &j\n  script: x\n  image: *j\n",
			want: []string{"ci.yml:3:10: alias *j refers to a value that contains it"},
		},
		{
			name: "reference tag on a scalar",
			src:  ".s:\n  script: [a]\nj:\n  script: !reference .s\n",
			want: []string{"ci.yml:4:11: !reference takes a list of keys, such as [.job, script]; got a string"},
		},
		{
			name: "unknown tag",
			src:  "j:\n  script: !shell x\n",
			want: []string{"ci.yml:2:11: unknown YAML tag `!shell`"},
		},
		{
			name: "merge of a scalar",
			src:  ".s: &s x\nj:\n  <<: *s\n  script: x\n",
			want: []string{"ci.yml:3:7: a merge key `<<` takes a mapping or a list of mappings, got a string"},
		},
		{
			name: "non-string key",
			src:  "j:\n  script: x\n  [a]: b\n",
			want: []string{"ci.yml:3:3: a mapping key must be a string, got a list"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, "errors", parseErrors(t, tt.src), tt.want)
		})
	}
}

func TestAliasBombIsRefusedQuickly(t *testing.T) {
	var b strings.Builder
	b.WriteString(".l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, ".l%d: &l%d [*l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d, *l%[3]d]\n", i, i, i-1)
	}
	b.WriteString("j:\n  script: *l12\n")
	start := time.Now()
	errs := parseErrors(t, b.String())
	equalLines(t, "errors", errs, []string{"ci.yml:1:1: the pipeline is too big: with its aliases expanded it has more than 1000000 values"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestTooDeep(t *testing.T) {
	src := "j:\n  script: x\n  variables: " + strings.Repeat("[", 120) + strings.Repeat("]", 120) + "\n"
	errs := parseErrors(t, src)
	equalLines(t, "errors", errs, []string{"ci.yml:3:112: the pipeline is nested too deeply: more than 100 levels"})
}
