package executor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// runScript runs script with the host's sh in a fresh directory and returns
// its combined output without colour codes, its exit code and the directory.
func runScript(t *testing.T, script string) (string, int, string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this host")
	}
	dir := t.TempDir()
	cmd := exec.Command(sh, "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running the script: %v", err)
	}
	return ansi.ReplaceAllString(string(out), ""), code, dir
}

func TestShellScriptRunsCommandsAsWritten(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		command string
		output  string
	}{
		{"plain", "echo hello", "hello\n"},
		{"single quotes", `echo 'it''s' 'a b'`, "its a b\n"},
		{"embedded single quote", `x='it'"'"'s'; echo "$x"`, "it's\n"},
		{"double quotes and escapes", `echo "say \"hi\" \$HOME"`, `say "hi" $HOME` + "\n"},
		{"dollar expansion", `A=1; echo "$A${A}$((A+1))"`, "112\n"},
		{"percent signs", `printf '%s%%\n' 100`, "100%\n"},
		{"backslashes", `printf '%s\n' 'a\b\\c'`, `a\b\\c` + "\n"},
		{"multi-line", "if true; then\n  echo first\n  echo second\nfi", "first\nsecond\n"},
		{"heredoc", "cat <<EOF\nline $((1+1))\nEOF", "line 2\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, code, _ := runScript(t, ShellScript(nil, []string{tc.command}))
			if code != 0 {
				t.Fatalf("exit code %d; output:\n%s", code, out)
			}
			// The command is echoed verbatim, then its output follows.
			if want := "$ " + tc.command + "\n" + tc.output; out != want {
				t.Errorf("output =\n%q\nwant\n%q", out, want)
			}
		})
	}
}

func TestShellScriptStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	out, code, _ := runScript(t, ShellScript(nil, []string{"echo one", "  ", "sh -c 'exit 3'", "echo never"}))
	if code != 3 {
		t.Errorf("exit code = %d, want 3", code)
	}
	if want := "$ echo one\none\n$ sh -c 'exit 3'\n"; out != want {
		t.Errorf("output =\n%q\nwant\n%q (blank commands are skipped, nothing runs after the failure)", out, want)
	}
}

func TestShellScriptExportsVariables(t *testing.T) {
	t.Parallel()
	vars := []Variable{
		{Key: "PLAIN", Value: "hello world"},
		{Key: "QUOTES", Value: `it's "quoted"`},
		{Key: "INJECT", Value: "$(touch pwned) `touch pwned2`; touch pwned3"},
		{Key: "NEWLINE", Value: "one\ntwo"},
		{Key: "EMPTY", Value: ""},
		{Key: "_under9", Value: "ok"},
		{Key: "PLAIN", Value: "overridden"},
		// Not shell names: skipped, not a syntax error.
		{Key: "9LIVES", Value: "x"},
		{Key: "A-B", Value: "x"},
		{Key: "A B", Value: "x"},
		{Key: "", Value: "x"},
		{Key: "ÉTÉ", Value: "x"},
		{Key: "X;touch pwned4", Value: "x"},
	}
	script := ShellScript(vars, []string{
		`printf '[%s]\n' "$PLAIN" "$QUOTES" "$INJECT" "$NEWLINE" "$EMPTY" "$_under9"`,
		`sh -c 'printf "[%s]\n" "$PLAIN"'`, // exported, not just set
	})
	for _, bad := range []string{"9LIVES", "A-B", "A B", "ÉTÉ", "pwned4"} {
		if strings.Contains(script, bad) {
			t.Errorf("script mentions invalid variable %q:\n%s", bad, script)
		}
	}
	out, code, dir := runScript(t, script)
	if code != 0 {
		t.Fatalf("exit code %d; output:\n%s", code, out)
	}
	want := "[overridden]\n[it's \"quoted\"]\n[$(touch pwned) `touch pwned2`; touch pwned3]\n[one\ntwo]\n[]\n[ok]\n"
	if !strings.Contains(out, want) {
		t.Errorf("output =\n%s\nwant it to contain\n%s", out, want)
	}
	if !strings.HasSuffix(out, "[overridden]\n") {
		t.Errorf("variables are not exported to child processes; output:\n%s", out)
	}
	for _, f := range []string{"pwned", "pwned2", "pwned3", "pwned4"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("a variable value was executed: %s exists", f)
		}
	}
}

func TestValidEnvName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"A": true, "_": true, "a_B9": true, "CI_PROJECT_DIR": true,
		"": false, "9A": false, "A-B": false, "A.B": false, "A B": false, "É": false, "A=B": false,
	} {
		if got := validEnvName(name); got != want {
			t.Errorf("validEnvName(%q) = %v, want %v", name, got, want)
		}
	}
}
