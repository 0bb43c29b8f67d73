package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) runnersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runners",
		Short: "List registered runners (and drain one: gantry runners drain NAME)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := a.adminClient()
			if err != nil {
				return err
			}
			resp, err := client.ListRunners(cmd.Context(), &gantryv1.ListRunnersRequest{})
			if err != nil {
				return err
			}
			now := time.Now()
			t := newTable(a.stdout, "NAME", "ID", "STATUS", "TAGS", "JOBS", "LAST SEEN", "VERSION")
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
		},
	}
	cmd.AddCommand(a.drainCommand())
	return cmd
}

func (a *app) drainCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "drain NAME|ID",
		Short: "Tell a runner to finish its jobs, take no new ones, and exit",
		Args:  usageArgs(cobra.ExactArgs(1)),
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
