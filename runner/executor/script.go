package executor

import (
	"fmt"
	"strings"
)

// ShellScript renders commands as a POSIX sh script that behaves as GitLab
// Runner's generated scripts do: each command is echoed (in green, prefixed
// with "$ ") just before it runs, and the script stops at the first command
// that fails, exiting with that command's status.
//
// Commands may span several lines (YAML block scalars); they are run as
// written. Variables are exported at the top so the script sees them even
// when the executor cannot set the process environment.
func ShellScript(vars []Variable, commands []string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	// pipefail is not POSIX; shells that know it (bash, busybox ash) use it.
	b.WriteString("(set -o pipefail) 2>/dev/null && set -o pipefail\n")
	for _, v := range vars {
		if !validEnvName(v.Key) {
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", v.Key, shellQuote(v.Value))
	}
	for _, c := range commands {
		if strings.TrimSpace(c) == "" {
			continue
		}
		fmt.Fprintf(&b, "printf '\\033[32;1m$ %%s\\033[0;m\\n' %s\n", shellQuote(c))
		b.WriteString(c)
		b.WriteString("\n")
	}
	return b.String()
}

// shellQuote quotes s for POSIX sh as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// validEnvName reports whether k can be exported by a POSIX shell.
func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
