package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) testsCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "tests RUN [JOB]",
		Short: "Show the test results (JUnit reports) of a run's jobs and their failing cases",
		Example: `  gantry tests 42            # totals per job, then every failing case
  gantry tests 42 unit-tests # one job
  gantry tests 42 -o json`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			job := ""
			if len(args) == 2 {
				job = args[1]
			}
			return a.showTests(cmd.Context(), id, job, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// jobReports fetches the reports of a run's jobs that have any (or of the
// one named).
func (a *app) jobReports(ctx context.Context, runID int64, job string, want func(*gantryv1.Job) bool) ([]*gantryv1.GetJobReportResponse, error) {
	client, err := a.pipelineClient()
	if err != nil {
		return nil, err
	}
	run, err := client.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runID})
	if err != nil {
		return nil, err
	}
	var out []*gantryv1.GetJobReportResponse
	found := false
	for _, j := range sortJobs(run.GetJobs()) {
		if job != "" && j.GetName() != job {
			continue
		}
		found = true
		if !want(j) {
			continue
		}
		r, err := client.GetJobReport(ctx, &gantryv1.GetJobReportRequest{RunId: runID, JobId: j.GetId()})
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if job != "" && !found {
		return nil, fmt.Errorf("run #%d has no job %q", runID, job)
	}
	return out, nil
}

func (a *app) showTests(ctx context.Context, runID int64, job, output string) error {
	reps, err := a.jobReports(ctx, runID, job, func(j *gantryv1.Job) bool { return j.GetTests() != nil })
	if err != nil {
		return err
	}
	if output == "json" {
		return a.printJSON(&gantryv1.JobReportList{Reports: reps})
	}
	if len(reps) == 0 {
		_, err := fmt.Fprintf(a.stdout, "Run #%d has no test reports (artifacts:reports:junit).\n", runID)
		return err
	}
	t := newTable(a.stdout, "JOB", "TESTS", "PASSED", "FAILED", "ERRORS", "SKIPPED", "TIME")
	var total gantryv1.TestSummary
	var totalTime time.Duration
	for _, r := range reps {
		s := r.GetTests()
		t.row(r.GetJob().GetName(), itoa(s.GetTests()), itoa(passed(s)), itoa(s.GetFailures()), itoa(s.GetErrors()),
			itoa(s.GetSkipped()), formatDuration(s.GetTime().AsDuration()))
		total.Tests += s.GetTests()
		total.Failures += s.GetFailures()
		total.Errors += s.GetErrors()
		total.Skipped += s.GetSkipped()
		totalTime += s.GetTime().AsDuration()
	}
	if len(reps) > 1 {
		t.row("total", itoa(total.Tests), itoa(passed(&total)), itoa(total.Failures), itoa(total.Errors),
			itoa(total.Skipped), formatDuration(totalTime))
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, r := range reps {
		s := r.GetTests()
		for _, c := range s.GetFailed() {
			name := c.GetName()
			if c.GetClassName() != "" {
				name = c.GetClassName() + "." + name
			}
			fmt.Fprintf(a.stdout, "\n%s  %s  %s\n", strings.ToUpper(c.GetKind()), r.GetJob().GetName(), name)
			if m := c.GetMessage(); m != "" {
				fmt.Fprintf(a.stdout, "    %s\n", indent(m))
			}
			if o := c.GetOutput(); o != "" {
				fmt.Fprintf(a.stdout, "    %s\n", indent(o))
			}
		}
		if n := s.GetFailedOmitted(); n > 0 {
			fmt.Fprintf(a.stdout, "\n... and %s in %s not listed\n", plural(int(n), "more failing case", "more failing cases"), r.GetJob().GetName())
		}
	}
	return nil
}

func passed(s *gantryv1.TestSummary) int32 {
	return max(0, s.GetTests()-s.GetFailures()-s.GetErrors()-s.GetSkipped())
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// testsText is a one-line summary of test totals.
func testsText(t *gantryv1.TestSummary) string {
	s := fmt.Sprintf("%d passed", passed(t))
	if n := t.GetFailures() + t.GetErrors(); n > 0 {
		s += fmt.Sprintf(", %d failed", n)
	}
	if n := t.GetSkipped(); n > 0 {
		s += fmt.Sprintf(", %d skipped", n)
	}
	return s + fmt.Sprintf(" of %d", t.GetTests())
}
