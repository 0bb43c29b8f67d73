package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics and that its results keep their
// promises: a pipeline has .pre and .post around its stages and only
// defined stages; an error is a non-empty ErrorList of positioned errors.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
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
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pl, err := Parse("f.yml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.Pos.File != "f.yml" || e.Pos.Line < 1 || e.Pos.Column < 1 {
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
	})
}
