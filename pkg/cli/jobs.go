package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) jobsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Inspect jobs across runs (gantry jobs pending)",
		Example: `  gantry jobs pending
  gantry jobs pending -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	var output string
	pending := &cobra.Command{
		Use:   "pending",
		Short: "List the jobs that wait, each with the reason it waits",
		Example: `  gantry jobs pending          # every waiting job of every active run
  gantry jobs pending -o json  # the same, as JSON for scripts`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := a.pendingJobs(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(resp)
			}
			return printPendingJobs(a.stdout, resp.GetJobs(), a.now())
		},
	}
	pending.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	cmd.AddCommand(pending)
	return cmd
}

// queueCommand is the operators' view of the queue: the same jobs as jobs
// pending, grouped by the tag set a runner needs to take them, since that
// is what decides which runners to add.
func (a *app) queueCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Show the queue: waiting jobs grouped by the runner tags they need",
		Long: `Queue lists the jobs of active runs that wait, grouped by the set of tags a
runner must have to take them, the longest-waiting group first. Each group
says how many jobs wait and for how long the oldest has; a group that keeps
growing wants more runners with those tags. -o json prints the same jobs as
gantry jobs pending -o json.`,
		Example: `  gantry queue
  gantry queue -o json | jq '.jobs[] | select(.tags == ["gpu"])'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := a.pendingJobs(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return a.printJSON(resp)
			}
			return printQueue(a.stdout, resp.GetJobs(), a.now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func (a *app) pendingJobs(ctx context.Context) (*gantryv1.ListPendingJobsResponse, error) {
	client, err := a.adminClient()
	if err != nil {
		return nil, err
	}
	return client.ListPendingJobs(ctx, &gantryv1.ListPendingJobsRequest{})
}

// printPendingJobs prints the table of jobs pending.
func printPendingJobs(w io.Writer, jobs []*gantryv1.Job, now time.Time) error {
	if len(jobs) == 0 {
		_, err := io.WriteString(w, "no job is waiting\n")
		return err
	}
	t := newTable(w, "RUN", "JOB", "NAME", "STAGE", "STATUS", "WAITING", "REASON")
	for _, j := range jobs {
		t.row(strconv.FormatInt(j.GetRunId(), 10), strconv.FormatInt(j.GetId(), 10), j.GetName(), orDash(j.GetStage()),
			jobStatusText(j.GetStatus()), waited(waitingSince(j), now), j.GetPendingReason())
	}
	return t.flush()
}

// printQueue prints waiting jobs grouped by tag set: a line per group, then
// its jobs, oldest first.
func printQueue(w io.Writer, jobs []*gantryv1.Job, now time.Time) error {
	if len(jobs) == 0 {
		_, err := io.WriteString(w, "no job is waiting\n")
		return err
	}
	type group struct {
		tags   string
		jobs   []*gantryv1.Job
		oldest time.Time
	}
	byTags := map[string]*group{}
	var groups []*group
	for _, j := range jobs {
		key := tagSet(j.GetTags())
		g := byTags[key]
		if g == nil {
			g = &group{tags: key}
			byTags[key] = g
			groups = append(groups, g)
		}
		g.jobs = append(g.jobs, j)
		if s := waitingSince(j); !s.IsZero() && (g.oldest.IsZero() || s.Before(g.oldest)) {
			g.oldest = s
		}
	}
	// Longest-waiting first; a group whose age is unknown goes last.
	slices.SortStableFunc(groups, func(x, y *group) int {
		switch {
		case x.oldest.IsZero() || y.oldest.IsZero():
			return cmp.Compare(boolInt(x.oldest.IsZero()), boolInt(y.oldest.IsZero()))
		}
		return cmp.Or(x.oldest.Compare(y.oldest), strings.Compare(x.tags, y.tags))
	})
	for i, g := range groups {
		if i > 0 {
			fmt.Fprintln(w)
		}
		slices.SortStableFunc(g.jobs, func(x, y *gantryv1.Job) int {
			return waitingSince(x).Compare(waitingSince(y))
		})
		fmt.Fprintf(w, "%s: %s waiting, the oldest for %s\n", g.tags, plural(len(g.jobs), "job", "jobs"), waited(g.oldest, now))
		t := newTable(w, "  RUN", "JOB", "NAME", "STAGE", "STATUS", "WAITING", "REASON")
		for _, j := range g.jobs {
			t.row("  "+strconv.FormatInt(j.GetRunId(), 10), strconv.FormatInt(j.GetId(), 10), j.GetName(), orDash(j.GetStage()),
				jobStatusText(j.GetStatus()), waited(waitingSince(j), now), j.GetPendingReason())
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// tagSet names a job's tags independently of their order: "docker,linux",
// or "(untagged)".
func tagSet(tags []string) string {
	if len(tags) == 0 {
		return "(untagged)"
	}
	s := slices.Clone(tags)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// waitingSince is when a job started waiting: queued, else created.
func waitingSince(j *gantryv1.Job) time.Time {
	since := j.GetQueuedAt()
	if since == nil {
		since = j.GetCreatedAt()
	}
	if since == nil {
		return time.Time{}
	}
	return since.AsTime()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
