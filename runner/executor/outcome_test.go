package executor

import (
	"errors"
	"testing"
	"time"
)

func TestScriptResult(t *testing.T) {
	for _, c := range []struct {
		end  ScriptEnd
		err  error
		want Result
	}{
		{ScriptEnd{Started: true}, nil, Result{Outcome: OutcomeSuccess}},
		{ScriptEnd{Started: true, ExitCode: 3}, nil, Result{Outcome: OutcomeScriptFailure, ExitCode: 3, Message: "exit code 3"}},
		{ScriptEnd{Started: true, ExitCode: 143, Stopped: StopTimeout}, nil, Result{Outcome: OutcomeTimeout, ExitCode: 143, Message: "execution took longer than 1m0s seconds"}},
		{ScriptEnd{Started: true, ExitCode: 143, Stopped: StopCanceled}, nil, Result{Outcome: OutcomeCanceled, ExitCode: 143, Message: "job canceled"}},
		{ScriptEnd{Started: true, ExitCode: -1}, errors.New("boom"), Result{Outcome: OutcomeSystemFailure, ExitCode: -1, Message: "waiting: boom"}},
	} {
		if got := ScriptResult(c.end, c.err, time.Minute, "waiting"); got != c.want {
			t.Errorf("ScriptResult(%+v, %v) = %+v, want %+v", c.end, c.err, got, c.want)
		}
	}
	if w := AfterScriptWarning(ScriptEnd{Started: true}, nil, time.Second); w != "" {
		t.Errorf("successful after_script warns: %q", w)
	}
	if w := AfterScriptWarning(ScriptEnd{ExitCode: 2}, nil, time.Second); w != "WARNING: after_script failed, but job will continue unaffected: exit code 2" {
		t.Errorf("warning %q", w)
	}
}

func TestWithDefaults(t *testing.T) {
	got := WithDefaults([]Variable{{Key: "CI_PROJECT_DIR", Value: "/mine"}, {Key: "A", Value: "1"}},
		Variable{Key: "CI_PROJECT_DIR", Value: "/default"}, Variable{Key: "CI_BUILDS_DIR", Value: "/builds"})
	want := []Variable{{Key: "CI_PROJECT_DIR", Value: "/mine"}, {Key: "A", Value: "1"}, {Key: "CI_BUILDS_DIR", Value: "/builds"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestWithDefaultsExpandsAsGitLabRunner(t *testing.T) {
	got := WithDefaults([]Variable{
		{Key: "GOPATH", Value: "$CI_PROJECT_DIR/.go"},
		{Key: "BIN", Value: "${GOPATH}/bin:$PATH_EXTRA"},
		{Key: "PRICE", Value: "$$5 and $ alone and ${not valid} and $1"},
		{Key: "RAW", Value: "$CI_PROJECT_DIR", Raw: true},
		{Key: "LATER", Value: "$DEFINED_AFTER"},
		{Key: "DEFINED_AFTER", Value: "x"},
	}, Variable{Key: "CI_PROJECT_DIR", Value: "/builds/p"})
	want := map[string]string{
		"GOPATH":        "/builds/p/.go",
		"BIN":           "$CI_PROJECT_DIR/.go/bin:", // one pass: GOPATH's own reference stays
		"PRICE":         "$5 and $ alone and ${not valid} and $1",
		"RAW":           "$CI_PROJECT_DIR",
		"LATER":         "x",
		"DEFINED_AFTER": "x",
	}
	for _, v := range got {
		if w, ok := want[v.Key]; ok && v.Value != w {
			t.Errorf("%s = %q, want %q", v.Key, v.Value, w)
		}
	}
}
