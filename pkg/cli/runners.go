package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) runnersCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "runners",
		Short: "List registered runners (and drain one: gantry runners drain NAME)",
		Example: `  gantry runners
  gantry runners -o json | jq -r '.runners[] | select(.connected) | .name'
  gantry runners drain builder-1`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			client, err := a.adminClient()
			if err != nil {
				return err
			}
			resp, err := client.ListRunners(cmd.Context(), &gantryv1.ListRunnersRequest{})
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(resp)
			}
			return printRunners(a.stdout, resp, a.now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	cmd.AddCommand(a.drainCommand())
	return cmd
}

// printRunners prints the runners table.
func printRunners(w io.Writer, resp *gantryv1.ListRunnersResponse, now time.Time) error {
	t := newTable(w, "NAME", "ID", "STATUS", "TAGS", "JOBS", "LAST SEEN", "VERSION")
	for _, r := range resp.GetRunners() {
		state := "offline"
		switch {
		case r.GetConnected() && r.GetDraining():
			state = "draining"
		case r.GetConnected():
			state = "connected"
		}
		t.row(orDash(r.GetName()), r.GetId(), state, runnerTags(r),
			fmt.Sprintf("%d/%d", len(r.GetJobIds()), r.GetCapacity()),
			ago(r.GetLastSeenAt(), now), orDash(r.GetVersion()))
	}
	return t.flush()
}

func (a *app) drainCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "drain NAME|ID",
		Short:   "Tell a runner to finish its jobs, take no new ones, and exit",
		Example: `  gantry runners drain builder-1`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := a.adminClient()
			if err != nil {
				return err
			}
			resp, err := client.DrainRunner(cmd.Context(), &gantryv1.DrainRunnerRequest{Runner: args[0]})
			if err != nil {
				return err
			}
			r := resp.GetRunner()
			fmt.Fprintf(a.stdout, "runner %s (%s) is draining: it finishes its %d running job(s), takes no new ones, then exits\n",
				orDash(r.GetName()), r.GetId(), len(r.GetJobIds()))
			return nil
		},
	}
}

// runnerTags lists a runner's tags, noting when it also takes untagged jobs.
func runnerTags(r *gantryv1.Runner) string {
	tags := strings.Join(r.GetTags(), ",")
	if r.GetRunUntagged() {
		if tags == "" {
			return "(untagged)"
		}
		tags += " (+untagged)"
	}
	return orDash(tags)
}
