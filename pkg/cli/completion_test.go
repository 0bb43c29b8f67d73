package cli

import (
	"strings"
	"testing"
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
