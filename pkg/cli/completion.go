package cli

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

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

// completionTimeout bounds a coordinator call made for a shell completion:
// a slow answer is worse than none.
const completionTimeout = 3 * time.Second

// argCompletions says which commands complete their arguments from the
// coordinator: a run number first, then (runJob) one of the run's jobs.
var argCompletions = map[string]string{
	"runs": "run", "run": "run", "cancel": "run", "watch": "run",
	"logs": "runJob", "play": "runJob", "tests": "runJob", "coverage": "runJob",
	"artifacts list": "runJob", "artifacts download": "runJob",
	"runners drain": "runner",
}

// addArgCompletions lets the shell complete run numbers, job names and
// runner names by asking the coordinator.
func (a *app) addArgCompletions(root *cobra.Command) {
	var walk func(path string, cmd *cobra.Command)
	walk = func(path string, cmd *cobra.Command) {
		if cmd.ValidArgsFunction == nil {
			switch argCompletions[path] {
			case "run":
				cmd.ValidArgsFunction = a.completeRunJob(false)
			case "runJob":
				cmd.ValidArgsFunction = a.completeRunJob(true)
			case "runner":
				cmd.ValidArgsFunction = a.completeRunner
			}
		}
		for _, c := range cmd.Commands() {
			walk(joinPath(path, c.Name()), c)
		}
	}
	for _, c := range root.Commands() {
		walk(c.Name(), c)
	}
}

// completionContext is cmd's context bounded by completionTimeout, with
// the global flags' environment fallbacks applied: cobra runs no
// PersistentPreRunE for a completion.
func (a *app) completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc, bool) {
	if err := a.configure(cmd.Root()); err != nil {
		return nil, nil, false
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, min(a.timeout, completionTimeout))
	return ctx, cancel, true
}

func (a *app) completeRunJob(jobs bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		none := cobra.ShellCompDirectiveNoFileComp
		if len(args) > 1 || (len(args) == 1 && !jobs) {
			return nil, none
		}
		ctx, cancel, ok := a.completionContext(cmd)
		if !ok {
			return nil, cobra.ShellCompDirectiveError
		}
		defer cancel()
		client, err := a.pipelineClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		if len(args) == 0 {
			resp, err := client.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: 20})
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			for _, r := range resp.GetRuns() {
				desc := strings.Join(slices.DeleteFunc([]string{runStatusText(r.GetStatus()), r.GetProjectName(), r.GetRef()},
					func(s string) bool { return s == "" }), " ")
				out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(r.GetId(), 10), desc))
			}
			// Newest first, as listed: the shell must not sort 9 after 10.
			return out, none | cobra.ShellCompDirectiveKeepOrder
		}
		id, err := parseRunID(args[0])
		if err != nil {
			return nil, none
		}
		resp, err := client.GetRun(ctx, &gantryv1.GetRunRequest{RunId: id})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		for _, j := range sortJobs(resp.GetJobs()) {
			out = append(out, cobra.CompletionWithDesc(j.GetName(), j.GetStage()+", "+jobStatusText(j.GetStatus())))
		}
		return out, none | cobra.ShellCompDirectiveKeepOrder
	}
}

func (a *app) completeRunner(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	if len(args) > 0 {
		return nil, none
	}
	ctx, cancel, ok := a.completionContext(cmd)
	if !ok {
		return nil, cobra.ShellCompDirectiveError
	}
	defer cancel()
	client, err := a.adminClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	resp, err := client.ListRunners(ctx, &gantryv1.ListRunnersRequest{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, r := range resp.GetRunners() {
		if r.GetConnected() && !r.GetDraining() {
			out = append(out, cobra.CompletionWithDesc(cmp.Or(r.GetName(), r.GetId()), runnerTags(r)))
		}
	}
	return out, none
}
