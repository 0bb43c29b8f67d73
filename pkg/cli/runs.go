package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) runsCommand() *cobra.Command {
	var limit int32
	var output string
	cmd := &cobra.Command{
		Use:   "runs [RUN]",
		Short: "List recent runs, or show one run and its jobs",
		Example: `  gantry runs                # the 20 newest runs
  gantry runs --limit 5 -o json
  gantry runs 42             # one run and its jobs`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(args) == 1 {
				return a.showRun(cmd.Context(), args[0], output)
			}
			if limit <= 0 {
				return usagef("--limit must be positive")
			}
			return a.listRuns(cmd.Context(), limit, output)
		},
	}
	cmd.Flags().Int32Var(&limit, "limit", 20, "how many runs to list, newest first")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func (a *app) runCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "run RUN",
		Short: "Show one run and its jobs (same as runs RUN)",
		Example: `  gantry run 42
  gantry run '#42' -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return a.showRun(cmd.Context(), args[0], output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func (a *app) cancelCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "cancel RUN",
		Short:   "Cancel a run: pending jobs are skipped, running ones stopped",
		Example: `  gantry cancel 42`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			client, err := a.pipelineClient()
			if err != nil {
				return err
			}
			resp, err := client.CancelRun(cmd.Context(), &gantryv1.CancelRunRequest{RunId: id})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Run #%d: %s\n", id, runStatusText(resp.GetRun().GetStatus()))
			return err
		},
	}
}

func checkOutput(output string) error {
	if output != "table" && output != "json" {
		return usagef("--output must be table or json, not %q", output)
	}
	return nil
}

// parseRunID accepts "12" and "#12".
func parseRunID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a run number", s)
	}
	return id, nil
}

func (a *app) listRuns(ctx context.Context, limit int32, output string) error {
	client, err := a.pipelineClient()
	if err != nil {
		return err
	}
	resp, err := client.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: limit})
	if err != nil {
		return err
	}
	if output == "json" {
		return a.printJSON(resp)
	}
	now := a.now()
	t := newTable(a.stdout, "ID", "STATUS", "PROJECT", "REF", "SUBMITTER", "CREATED", "DURATION")
	for _, r := range resp.GetRuns() {
		t.row(strconv.FormatInt(r.GetId(), 10), runStatusText(r.GetStatus()), orDash(r.GetProjectName()),
			orDash(cmp.Or(r.GetRef(), shortSHA(r.GetSha()))), orDash(r.GetSubmitter()),
			ago(r.GetCreatedAt(), now), runDurationText(r, now))
	}
	return t.flush()
}

func (a *app) showRun(ctx context.Context, arg, output string) error {
	id, err := parseRunID(arg)
	if err != nil {
		return err
	}
	client, err := a.pipelineClient()
	if err != nil {
		return err
	}
	resp, err := client.GetRun(ctx, &gantryv1.GetRunRequest{RunId: id})
	if err != nil {
		return err
	}
	if output == "json" {
		return a.printJSON(resp)
	}
	now := a.now()
	r := resp.GetRun()
	ref := orDash(r.GetRef())
	if r.GetSha() != "" {
		ref += " (" + shortSHA(r.GetSha()) + ")"
	}
	created := "-"
	if r.GetCreatedAt() != nil {
		created = r.GetCreatedAt().AsTime().Local().Format(time.DateTime) + " (" + ago(r.GetCreatedAt(), now) + ")"
	}
	fmt.Fprintf(a.stdout, "Run #%d  %s\n\n", r.GetId(), runStatusText(r.GetStatus()))
	info := newTable(a.stdout)
	info.row("Project:", orDash(r.GetProjectName()))
	info.row("Ref:", ref)
	info.row("Pipeline:", orDash(r.GetPipelinePath()))
	info.row("Submitter:", orDash(r.GetSubmitter()))
	info.row("Created:", created)
	info.row("Duration:", runDurationText(r, now))
	if t := r.GetTests(); t != nil {
		info.row("Tests:", testsText(t))
	}
	if r.Coverage != nil {
		info.row("Coverage:", fmt.Sprintf("%.2f%%", r.GetCoverage()))
	}
	if err := info.flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)

	t := newTable(a.stdout, "ID", "NAME", "STAGE", "STATUS", "RUNNER", "DURATION", "DETAILS")
	for _, j := range sortJobs(resp.GetJobs()) {
		dur := "-"
		if d, ok := span(j.GetStartedAt(), j.GetFinishedAt(), now); ok {
			dur = formatDuration(d)
		}
		runner := "-"
		if j.GetEpoch() > 0 {
			runner = runnerName(j)
		}
		t.row(strconv.FormatInt(j.GetId(), 10), j.GetName(), j.GetStage(), jobStatusText(j.GetStatus()),
			runner, dur, jobDetails(j))
	}
	return t.flush()
}

// jobDetails says why a job waits or how it failed, and which of its
// attempts were lost with their runners.
func jobDetails(j *gantryv1.Job) string {
	var parts []string
	switch j.GetStatus() {
	case gantryv1.JobStatus_JOB_STATUS_CREATED, gantryv1.JobStatus_JOB_STATUS_PENDING,
		gantryv1.JobStatus_JOB_STATUS_MANUAL, gantryv1.JobStatus_JOB_STATUS_SCHEDULED:
		parts = append(parts, j.GetPendingReason())
	case gantryv1.JobStatus_JOB_STATUS_FAILED:
		s := failureText(j)
		if j.GetAllowFailure() {
			s += " (allowed to fail)"
		}
		parts = append(parts, s)
	}
	if t := j.GetTests(); t != nil {
		parts = append(parts, "tests: "+testsText(t))
	}
	if j.Coverage != nil {
		parts = append(parts, fmt.Sprintf("coverage %.2f%%", j.GetCoverage()))
	}
	if n := len(j.GetWarnings()); n > 0 {
		parts = append(parts, plural(n, "report warning", "report warnings"))
	}
	if a := j.GetArtifact(); a != nil {
		s := fmt.Sprintf("artifacts %s (%d bytes)", a.GetName(), a.GetSize())
		if a.GetExposeAs() != "" {
			s = fmt.Sprintf("artifacts %q: %s (%d bytes)", a.GetExposeAs(), a.GetName(), a.GetSize())
		}
		if a.GetDeletedAt() != nil {
			s += ", expired"
		}
		parts = append(parts, s)
	}
	for _, at := range j.GetAttempts() {
		if at.GetStatus() != gantryv1.JobStatus_JOB_STATUS_LOST {
			continue
		}
		when := ""
		if at.GetEndedAt() != nil {
			when = " at " + at.GetEndedAt().AsTime().Local().Format(time.TimeOnly)
		}
		parts = append(parts, fmt.Sprintf("attempt %d lost on %s%s: %s", at.GetEpoch(), orDash(at.GetRunnerName()), when, at.GetFailureMessage()))
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "; ")
}

func runDurationText(r *gantryv1.Run, now time.Time) string {
	if d, ok := runDuration(r, now); ok && r.GetStatus() != gantryv1.RunStatus_RUN_STATUS_PENDING {
		return formatDuration(d)
	}
	return "-"
}

// printJSON prints m as indented protojson. protojson varies its
// whitespace on purpose from build to build; re-indenting with
// encoding/json makes the output byte-stable, for scripts that diff it
// and for the golden tests.
func (a *app) printJSON(m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(a.stdout)
	return err
}
