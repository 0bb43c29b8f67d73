package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestReferences(t *testing.T) {
	pl := mustParse(t, `
.setup:
  script:
    - apt-get update
    - apt-get install -y make
.auth:
  script:
    - !reference [.setup, script]
    - ./login.sh
.vars:
  variables:
    REGION: eu-west-1
    TIER: gold
.child:
  extends: .vars
  variables:
    TIER: platinum
.rules:
  rules:
    - if: $CI_COMMIT_TAG
      when: never
    - when: manual
j:
  before_script:
    - !reference [.auth, script]
    - echo ready
  script:
    - [make, !reference [.setup, script]]
  after_script: !reference [.setup, script]
  variables:
    REGION: !reference [.vars, variables, REGION]
    TIER: !reference [.child, variables, TIER]
  rules:
    - if: $FORCE
    - !reference [.rules, rules]
k:
  script: x
  variables: !reference [.vars, variables]
  image: !reference [default, image]
default:
  image: alpine
`)
	j := job(t, pl, "j")
	equal(t, "before_script (nested references flattened)", j.BeforeScript, []string{"apt-get update", "apt-get install -y make", "./login.sh", "echo ready"})
	equal(t, "script (lists in lists flattened)", j.Script, []string{"make", "apt-get update", "apt-get install -y make"})
	equal(t, "after_script", j.AfterScript, []string{"apt-get update", "apt-get install -y make"})
	equal(t, "variables (a reference sees extends applied)", j.Variables, []Variable{{Key: "REGION", Value: "eu-west-1"}, {Key: "TIER", Value: "platinum"}})
	if len(j.Rules) != 3 || j.Rules[0].If != "$FORCE" || j.Rules[1].When != "never" || j.Rules[2].When != "manual" {
		t.Errorf("rules (references flattened into the list) = %+v", j.Rules)
	}
	k := job(t, pl, "k")
	equal(t, "k variables", k.Variables, []Variable{{Key: "REGION", Value: "eu-west-1"}, {Key: "TIER", Value: "gold"}})
	if k.Image == nil || k.Image.Name != "alpine" {
		t.Errorf("k image = %+v", k.Image)
	}
}

func TestReferenceAcrossIncludesAndExtends(t *testing.T) {
	pl := mustParseSource(t, memSource{
		".gitlab-ci.yml": "include: ci/templates.yml\ntest:\n  extends: .uses-ref\n  script: [!reference [.common, script], pytest]\n",
		"ci/templates.yml": `.common:
  script: [pip install -r requirements.txt]
.uses-ref:
  before_script: !reference [.common, script]
`,
	}, nil)
	test := job(t, pl, "test")
	equal(t, "before_script (reference inherited through extends)", test.BeforeScript, []string{"pip install -r requirements.txt"})
	equal(t, "script", test.Script, []string{"pip install -r requirements.txt", "pytest"})
}

// referenceChain builds a chain of n templates, each script referencing the
// previous one.
func referenceChain(n int) string {
	var b strings.Builder
	b.WriteString(".r0:\n  script: [x]\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, ".r%d:\n  script: [!reference [.r%d, script]]\n", i, i-1)
	}
	fmt.Fprintf(&b, "j:\n  script: !reference [.r%d, script]\n", n)
	return b.String()
}

func TestReferenceErrors(t *testing.T) {
	equal(t, "script through 10 references", mustParse(t, referenceChain(9)).Jobs[0].Script, []string{"x"})
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "too deep",
			src:  referenceChain(10),
			want: []string{"ci.yml:24:11: !reference [.r10, script] is nested too deeply: more than 10 references in a chain"},
		},
		{
			name: "not found",
			src:  ".a:\n  script: [x]\nj:\n  script: !reference [.a, scirpt]\n",
			want: []string{"ci.yml:4:11: !reference [.a, scirpt] could not be found"},
		},
		{
			name: "unknown job",
			src:  "j:\n  script: !reference [.nope, script]\n",
			want: []string{"ci.yml:2:11: !reference [.nope, script] could not be found"},
		},
		{
			name: "circular",
			src:  ".a:\n  script: !reference [.b, script]\n.b:\n  script: !reference [.a, script]\nj:\n  script: !reference [.a, script]\n",
			want: []string{"ci.yml:2:11: !reference [.b, script] is part of a circular chain of references"},
		},
		{
			name: "self",
			src:  "j:\n  script: [x, !reference [j, script]]\n",
			want: []string{"ci.yml:2:15: !reference [j, script] is part of a circular chain of references"},
		},
		{
			name: "not a list of keys",
			src:  ".a:\n  script: [x]\nj:\n  script: !reference [.a, [script]]\n",
			want: []string{"ci.yml:4:27: !reference takes a list of keys, such as [.job, script]; got a list in the list"},
		},
		{
			name: "empty",
			src:  "j:\n  script: !reference []\n",
			want: []string{"ci.yml:2:11: !reference needs the keys of a value, such as [.job, script]"},
		},
		{
			name: "broken in an unused template",
			src:  ".t:\n  script: !reference [.missing, script]\nj:\n  script: x\n",
			want: []string{"ci.yml:2:11: !reference [.missing, script] could not be found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, "errors", parseErrors(t, tt.src), tt.want)
		})
	}
}

// References share what they point to, so a document that multiplies a
// value through them is measured, not expanded.
func TestReferenceBombIsRefusedQuickly(t *testing.T) {
	var b strings.Builder
	b.WriteString(".l0:\n  v: [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, ".l%d:\n  v: [", i)
		for k := range 10 {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "!reference [.l%d, v]", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("j:\n  script: !reference [.l9, v]\n")
	start := time.Now()
	errs := parseErrors(t, b.String())
	equalLines(t, "errors", errs, []string{"ci.yml:1:1: the pipeline is too big: with `extends` and `!reference` applied its jobs have more than 1000000 values"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
