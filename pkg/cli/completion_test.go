package cli

import (
	"strings"
	"testing"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "__start_gantry",
		"zsh":        "#compdef gantry",
		"fish":       "complete -c gantry",
		"powershell": "Register-ArgumentCompleter",
	} {
		out, errOut, code := gantry(t.Context(), "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("gantry completion %s: exit %d, stderr %q, script lacks %q:\n%.300s", shell, code, errOut, want, out)
		}
	}
	// The script asks gantry itself for candidates.
	out, _, code := gantry(t.Context(), "__complete", "ru")
	if code != 0 || !strings.Contains(out, "runners\t") || !strings.Contains(out, "runs\t") {
		t.Errorf("gantry __complete ru: exit %d\n%s", code, out)
	}
}

// TestCompletionFromCoordinator: run numbers, job names and runner names
// come from the coordinator, found through GANTRY_COORDINATOR as for any
// other command.
func TestCompletionFromCoordinator(t *testing.T) {
	run := goldenRun()
	f := &fakeCoordinator{runs: goldenRuns()[:2], run: run, runners: []*gantryv1.Runner{
		{Id: "r1", Name: "builder-1", Connected: true, Tags: []string{"docker"}},
		{Id: "r2", Name: "gpu-1", Connected: true, Draining: true},
		{Id: "r3", Name: "old", Connected: false},
	}}
	t.Setenv("GANTRY_COORDINATOR", f.serve(t))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", ""}, "42\trunning gantry main\n41\tfailed gantry fix/flaky\n:36\n"},
		{[]string{"logs", "42", ""}, "compile\tbuild, passed\nvet\tbuild, failed\nunit\ttest, running\n"},
		{[]string{"watch", "42", ""}, ":4\n"},
		{[]string{"runners", "drain", ""}, "builder-1\tdocker\n:4\n"},
	} {
		out, errOut, code := gantry(t.Context(), append([]string{"__complete"}, tc.args...)...)
		if code != 0 || !strings.HasPrefix(out, tc.want) {
			t.Errorf("__complete %q: exit %d, stderr %q, got\n%s\nwant it to start\n%s", tc.args, code, errOut, out, tc.want)
		}
	}
}
