package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasExamples walks the whole command tree, cobra's help
// and completion commands included, and checks each --help shows examples.
func TestEveryCommandHasExamples(t *testing.T) {
	root := newApp(io.Discard, io.Discard).rootCommand()
	var walk func(cmd *cobra.Command)
	n := 0
	walk = func(cmd *cobra.Command) {
		if cmd.Hidden {
			return
		}
		n++
		path := strings.Fields(strings.TrimPrefix(cmd.CommandPath(), "gantry"))
		out, errOut, code := gantry(t.Context(), append(path, "--help")...)
		switch {
		case code != 0:
			t.Errorf("gantry %s --help: exit %d, stderr %q", strings.Join(path, " "), code, errOut)
		case cmd.Example == "" || !strings.Contains(out, "Examples:\n"):
			t.Errorf("gantry %s --help shows no examples:\n%s", strings.Join(path, " "), out)
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
	if n < 20 {
		t.Errorf("walked only %d commands", n)
	}
}
