package cli

import "github.com/spf13/cobra"

// completionExamples are the Examples of cobra's own help and completion
// commands, which it creates without any.
var completionExamples = map[string]string{
	"help": `  gantry help submit
  gantry help runners drain`,
	"completion": `  source <(gantry completion bash)
  gantry completion zsh > "${fpath[1]}/_gantry"
  gantry completion fish > ~/.config/fish/completions/gantry.fish`,
	"completion bash": `  source <(gantry completion bash)                      # this shell only
  gantry completion bash > /etc/bash_completion.d/gantry # every new shell`,
	"completion zsh": `  source <(gantry completion zsh)
  gantry completion zsh > "${fpath[1]}/_gantry"`,
	"completion fish": `  gantry completion fish | source
  gantry completion fish > ~/.config/fish/completions/gantry.fish`,
	"completion powershell": `  gantry completion powershell | Out-String | Invoke-Expression`,
}

// addBuiltinCommands adds cobra's help and completion commands now rather
// than when the command line runs, so they can be given examples.
func addBuiltinCommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(path string, cmd *cobra.Command)
	walk = func(path string, cmd *cobra.Command) {
		if ex, ok := completionExamples[path]; ok && cmd.Example == "" {
			cmd.Example = ex
		}
		for _, c := range cmd.Commands() {
			walk(joinPath(path, c.Name()), c)
		}
	}
	for _, c := range root.Commands() {
		walk(c.Name(), c)
	}
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + " " + name
}
