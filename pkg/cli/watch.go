package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) watchCommand() *cobra.Command {
	var plain bool
	cmd := &cobra.Command{
		Use:   "watch RUN",
		Short: "Follow a run until it ends: a live view on a terminal, a line per job change otherwise",
		Long: `Watch follows a run already submitted. On a terminal it shows the run in
place: a progress bar per stage and a line per job with its status, a
spinner while it runs and the time it has taken. Elsewhere (a pipe, a CI
log), or with --plain, it prints a line per job change and the jobs' logs,
as gantry submit does. NO_COLOR or --color never turns colours off.

It exits 0 when the run passes, 1 when it fails or is canceled, 3 when it
waits for a manual job to be played (gantry play), 2 on any other error.
Ctrl-C stops watching; the run goes on.`,
		Example: `  gantry watch 42
  gantry watch 42 --plain            # the jobs' logs too
  gantry watch 42 | tee run-42.log   # not a terminal: plain lines`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			client, err := a.pipelineClient()
			if err != nil {
				return err
			}
			return a.followRun(cmd.Context(), client, id, a.stdoutTTY && !plain)
		},
	}
	cmd.Flags().BoolVar(&plain, "plain", false, "on a terminal too, print a line per job change and the jobs' logs instead of the live view")
	return cmd
}
