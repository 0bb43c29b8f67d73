package ghworkflow

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

const testFile = "ci.yml"

// mustParse parses src and fails the test on any error.
func mustParse(t testing.TB, src string) *Workflow {
	t.Helper()
	w, err := Parse(testFile, []byte(src))
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return w
}

// parseErrors parses src, expects it to fail, and returns the messages
// ("file:line:col: message").
func parseErrors(t testing.TB, src string) []string {
	t.Helper()
	w, err := Parse(testFile, []byte(src))
	if err == nil {
		t.Fatalf("Parse: expected an error, got a workflow with %d jobs", len(w.jobs))
	}
	return errorMessages(t, err)
}

func errorMessages(t testing.TB, err error) []string {
	t.Helper()
	var list pipeline.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is %T %v, want a non-empty pipeline.ErrorList", err, err)
	}
	msgs := make([]string, len(list))
	for i, e := range list {
		msgs[i] = e.Error()
	}
	return msgs
}

func warningStrings(w *Workflow) []string {
	var out []string
	for _, x := range w.Warnings() {
		out = append(out, x.String())
	}
	return out
}

// containsAll reports whether every want is a substring of one of got.
func checkContains(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.Contains(g, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: none contains %q; got:\n  %s", what, w, strings.Join(got, "\n  "))
		}
	}
}

var onMain = pipeline.PlanInput{Ref: "main", SHA: "abc123", Source: "push", DefaultBranch: "main",
	Predefined: []pipeline.Variable{{Key: "CI_PROJECT_PATH", Value: "acme/shop"}}}

// mustPlan plans w for in and fails the test on any error.
func mustPlan(t testing.TB, w *Workflow, in pipeline.PlanInput) *pipeline.Plan {
	t.Helper()
	plan, err := w.Plan(in, nil)
	if err != nil {
		t.Fatalf("Plan: unexpected error:\n%v", err)
	}
	checkPlanInvariants(t, plan)
	return plan
}

// planErrors plans w, expects it to fail, and returns the messages.
func planErrors(t testing.TB, w *Workflow, in pipeline.PlanInput) []string {
	t.Helper()
	plan, err := w.Plan(in, nil)
	if err == nil {
		t.Fatalf("Plan: expected an error, got:\n%s", plan.Text())
	}
	if plan != nil {
		t.Error("Plan returned a plan with an error")
	}
	return errorMessages(t, err)
}

// job is a one-job workflow running on push with the given job body
// lines (indented under the job).
func oneJob(body string) string {
	return "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n" + indent(body, "    ")
}

func indent(s, prefix string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		if strings.TrimSpace(l) == "" {
			b.WriteString(l)
			continue
		}
		b.WriteString(prefix + l)
	}
	return b.String()
}

func jobNames(plan *pipeline.Plan) []string {
	var out []string
	for _, j := range plan.Jobs {
		out = append(out, j.Name)
	}
	return out
}

// script returns a plan job's script as one text.
func script(pj *pipeline.PlanJob) string { return strings.Join(pj.Job.Script, "\n") }

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
