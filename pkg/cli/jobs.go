package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) jobsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Inspect jobs across runs (gantry jobs pending)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "pending",
		Short: "List the jobs that wait, each with the reason it waits",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := a.adminClient()
			if err != nil {
				return err
			}
			resp, err := client.ListPendingJobs(cmd.Context(), &gantryv1.ListPendingJobsRequest{})
			if err != nil {
				return err
			}
			if len(resp.GetJobs()) == 0 {
				_, err := a.stdout.Write([]byte("no job is waiting\n"))
				return err
			}
			now := time.Now()
			t := newTable(a.stdout, "RUN", "JOB", "NAME", "STAGE", "STATUS", "WAITING", "REASON")
			for _, j := range resp.GetJobs() {
				since := j.GetQueuedAt()
				if since == nil {
					since = j.GetCreatedAt()
				}
				t.row(strconv.FormatInt(j.GetRunId(), 10), strconv.FormatInt(j.GetId(), 10), j.GetName(), orDash(j.GetStage()),
					jobStatusText(j.GetStatus()), waited(since.AsTime(), now), j.GetPendingReason())
			}
			return t.flush()
		},
	})
	return cmd
}

// waited renders how long something has waited, compactly.
func waited(since, now time.Time) string {
	d := now.Sub(since)
	switch {
	case since.IsZero() || d < 0:
		return "-"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	default:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
}
