package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that its results keep their
// promises: a pipeline has .pre and .post around its stages and only
// defined stages; an error is a non-empty ErrorList of positioned errors.
// Whatever parses is planned for a few refs, which must not panic either
// and must keep the plan's promises. Included files are read from a small
// fixed tree, so includes, rules and references get exercised too.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
	golden, _ := filepath.Glob("testdata/plans/*/.gitlab-ci.yml")
	seeds = append(seeds, golden...)
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"j:\n  script: x\n",
		".t: &t\n  image: a\n  script: [x]\nj:\n  <<: *t\n  extends: .t\n",
		"default:\n  image: {name: a, entrypoint: [\"\"]}\nj:\n  services: [{name: b, alias: c}]\n  script: x\n",
		"variables:\n  A: {value: 1, options: [1, 2], expand: false}\nj:\n  script: [[a, [b]]]\n",
		"a: &a [*a]\n",
		"j:\n  script: \"\xff\"\n",
		"spec:\n  inputs: {}\n---\nj:\n  script: x\n---\n",
		"stages: [.post, x]\nj:\n  stage: x\n  script: x\n",
		"include: [a.yml, {local: b.yml, rules: [{if: $CI_COMMIT_TAG}]}]\nj:\n  script: !reference [.a, script]\n  needs: [b]\n",
		"workflow: {rules: [{if: $X, variables: {A: b}}, {when: always}]}\nj:\n  script: x\n  parallel: {matrix: [{A: [1, 2], B: x}]}\n  rules: [{changes: [a/**/*], when: manual}]\nk:\n  script: x\n  needs: [{job: j, parallel: {matrix: [{A: 1, B: x}]}}]\n",
		"a:\n  script: x\n  only: {refs: [/^v/, tags], variables: [$A =~ /x/]}\n  except: [main@g/p]\n  when: delayed\n  start_in: 1h\n",
	} {
		f.Add([]byte(s))
	}
	src := memSource{
		"a.yml": ".a:\n  script: [a]\nb:\n  script: b\n",
		"b.yml": "include: a.yml\nc:\n  script: c\n  needs: [b]\n",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pl, err := ParseWith("f.yml", data, src.options(&PlanInput{Ref: "main"}))
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("internal error: %v", err)
			}
			for _, e := range list {
				if e.Pos.File == "" || e.Pos.Line < 1 || e.Pos.Column < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
			if pl != nil {
				t.Fatal("pipeline returned with an error")
			}
			return
		}
		n := len(pl.Stages)
		if n < 2 || pl.Stages[0] != ".pre" || pl.Stages[n-1] != ".post" {
			t.Fatalf("stages %q", pl.Stages)
		}
		if len(pl.Jobs) == 0 {
			t.Fatal("a pipeline without jobs")
		}
		for _, j := range pl.Jobs {
			if !slices.Contains(pl.Stages, j.Stage) {
				t.Fatalf("job %q in undefined stage %q", j.Name, j.Stage)
			}
			if len(j.Script) == 0 {
				t.Fatalf("job %q without script", j.Name)
			}
		}
		for _, in := range []PlanInput{onMain, onTag, onMR, onWeb} {
			in.FileExists = func(glob string) bool { return MatchGlob(glob, "a.yml") }
			plan, err := pl.Plan(in)
			if err != nil {
				var list ErrorList
				if !errors.As(err, &list) || len(list) == 0 || strings.Contains(err.Error(), "internal error") {
					t.Fatalf("plan error %T %v", err, err)
				}
				continue
			}
			if !plan.Created && plan.Reason == "" {
				t.Fatal("a plan not created without a reason")
			}
			checkPlanInvariants(t, plan)
			_ = plan.Text()
		}
	})
}
