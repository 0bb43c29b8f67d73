package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) runnersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "runners",
		Short: "List registered runners",
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
				if r.GetConnected() {
					state = "connected"
				}
				t.row(orDash(r.GetName()), r.GetId(), state, runnerTags(r),
					fmt.Sprintf("%d/%d", len(r.GetJobIds()), r.GetCapacity()),
					ago(r.GetLastSeenAt(), now), orDash(r.GetVersion()))
			}
			return t.flush()
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
