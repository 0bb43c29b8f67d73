package actions

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// testContext returns contexts shaped like the ones a workflow sees.
func testContext(status Status) *Context {
	return &Context{
		Status: status,
		Contexts: map[string]any{
			"github": map[string]any{
				"actor":      "octocat",
				"ref":        "refs/heads/main",
				"event_name": "push",
				"run_number": 42.0,
				"event": map[string]any{
					"issue": map[string]any{
						"title": "Crash on start",
						"labels": []any{
							map[string]any{"name": "bug"},
							map[string]any{"name": "help wanted"},
						},
					},
					"commits": []any{
						map[string]any{"id": "a1", "files": []any{"a.go", "b.go"}},
						map[string]any{"id": "b2", "files": []any{"c.go"}},
						"not an object",
					},
					"key":   "lower",
					"KEY":   "upper",
					"Mixed": "mixed",
					"1":     "one",
				},
			},
			"matrix": map[string]any{"os": "ubuntu-latest", "node-version": 20.0, "empty": []any{}},
			"needs": map[string]any{
				"build": map[string]any{"result": "success", "outputs": map[string]any{"version": "1.2.3", "json": `{"a":[1,2]}`}},
				"test":  map[string]any{"result": "failure", "outputs": map[string]any{}},
			},
			"env":   map[string]string{"CI": "true", "EMPTY": "", "NUM": "10"},
			"steps": map[string]any{},
		},
	}
}

// eval parses and evaluates src, failing the test on any error.
func eval(t *testing.T, src string, ctx *Context) Value {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	v, err := e.Eval(ctx)
	if err != nil {
		t.Fatalf("Eval(%q): %v", src, err)
	}
	return v
}

// same compares a Value with plain Go data, NaN equal to NaN.
func same(v Value, want any) bool {
	got := v.Interface()
	if g, ok := got.(float64); ok {
		if w, ok := want.(float64); ok && math.IsNaN(w) {
			return math.IsNaN(g)
		}
	}
	// Compare arrays and objects by their JSON form so that float64(1)
	// and []any{1.0} need no special casing.
	if v.Kind() == KindArray || v.Kind() == KindObject {
		gj, err1 := json.Marshal(got)
		wj, err2 := json.Marshal(want)
		return err1 == nil && err2 == nil && string(gj) == string(wj)
	}
	return reflect.DeepEqual(got, want)
}

type evalCase struct {
	src  string
	want any // plain Go data: nil, bool, float64, string, []any, map[string]any
}

func runEvalCases(t *testing.T, ctx *Context, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		v := eval(t, c.src, ctx)
		if !same(v, c.want) {
			t.Errorf("%s = %s %#v, want %#v", c.src, v.Kind(), v.Interface(), c.want)
		}
	}
}
