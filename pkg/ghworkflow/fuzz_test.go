package ghworkflow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// FuzzParse checks that Parse never panics nor hangs and that its results
// keep their promises: an error is a non-empty ErrorList of positioned
// errors, never an internal error. Whatever parses is planned for a few
// refs, which must not fail with an internal error either and must keep
// the plan's promises. (Memory is bounded by the limits the tests of
// limits_test.go check.)
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/workflows/*.yml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"on: push\njobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n",
		"on: [push, pull_request]\njobs:\n  a:\n    runs-on: ${{ matrix.os }}\n    strategy: {matrix: {os: [x, y], include: [{os: z, e: 1}], exclude: [{os: y}]}}\n    steps:\n      - id: s\n        run: echo ${{ secrets.T }} ${{ steps.s.outputs.x }}\n      - if: failure() && steps.s.outcome == 'failure'\n        run: x\n  b:\n    needs: a\n    if: always()\n    runs-on: x\n    steps:\n      - uses: actions/download-artifact@v4\n",
		"on:\n  push:\n    branches: ['**', '!x']\n    paths: ['a/**']\njobs:\n  j:\n    runs-on: x\n    container: {image: a, env: {A: b}}\n    services: {db: postgres}\n    steps:\n      - uses: actions/upload-artifact@v4\n        with: {path: \"a\\n!b\"}\n",
		"on: &a [*a]\njobs: {}\n",
		"true: push\njobs:\n  j: {runs-on: x, steps: [{run: \"\xff\"}]}\n",
		"on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: ${{ format('{0}', toJSON(github)) }}\n        shell: sh {0}\n        working-directory: a\n        timeout-minutes: 1\n        continue-on-error: true\n",
	} {
		f.Add([]byte(s))
	}
	inputs := []pipeline.PlanInput{
		onMain,
		{Ref: "v1", IsTag: true, Source: "push"},
		{Ref: "feature/x", Source: "merge_request_event", DefaultBranch: "main", ChangedFiles: []string{"a/b"}},
		{Ref: "main", Source: "web", Variables: []pipeline.Variable{{Key: "x", Value: "1"}}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Parse("f.yml", data)
		if err != nil {
			checkErrorList(t, err)
			if w != nil {
				t.Fatal("a workflow returned with an error")
			}
			return
		}
		_ = w.Warnings()
		for _, in := range inputs {
			plan, err := w.Plan(in, []string{"T"})
			if err != nil {
				checkErrorList(t, err)
				continue
			}
			checkPlanInvariants(t, plan)
			_ = plan.Text()
		}
	})
}

func checkErrorList(t *testing.T, err error) {
	t.Helper()
	var list pipeline.ErrorList
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
}
