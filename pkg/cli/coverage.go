package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) coverageCommand() *cobra.Command {
	var output, ref string
	var limit int32
	var files bool
	cmd := &cobra.Command{
		Use:   "coverage [RUN [JOB]]",
		Short: "Show a run's coverage per job (and per file), or the coverage trend of a ref",
		Long: `Coverage is what a job's coverage: regex found in its log, else the line
coverage of its artifacts:reports:coverage_report; a run's is the mean of its
jobs' (as GitLab computes a pipeline's).`,
		Example: `  gantry coverage --ref main         # the trend across the ref's recent runs
  gantry coverage 42                 # per job
  gantry coverage 42 unit --files    # per source file`,
		Args: usageArgs(cobra.MaximumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			switch {
			case len(args) == 0 && ref == "":
				return usagef("name a run, or a ref with --ref")
			case len(args) > 0 && ref != "":
				return usagef("--ref shows a trend across runs: do not name a run with it")
			case ref != "":
				if limit <= 0 {
					return usagef("--limit must be positive")
				}
				return a.coverageTrend(cmd.Context(), ref, limit, output)
			}
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			job := ""
			if len(args) == 2 {
				job = args[1]
			}
			return a.runCoverage(cmd.Context(), id, job, files, output)
		},
	}
	cmd.Flags().StringVar(&ref, "ref", "", "show the coverage of this ref's recent runs")
	cmd.Flags().Int32Var(&limit, "limit", 20, "with --ref: how many runs")
	cmd.Flags().BoolVar(&files, "files", false, "list each source file's coverage")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func (a *app) coverageTrend(ctx context.Context, ref string, limit int32, output string) error {
	client, err := a.pipelineClient()
	if err != nil {
		return err
	}
	resp, err := client.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: limit, Ref: ref})
	if err != nil {
		return err
	}
	if output == "json" {
		return a.printJSON(resp)
	}
	if len(resp.GetRuns()) == 0 {
		_, err := fmt.Fprintf(a.stdout, "No runs of %s.\n", ref)
		return err
	}
	now := a.now()
	t := newTable(a.stdout, "RUN", "STATUS", "SHA", "CREATED", "COVERAGE", "CHANGE", "")
	runs := resp.GetRuns()
	for i, r := range runs {
		cov, change, bar := "-", "", ""
		if r.Coverage != nil {
			cov = fmt.Sprintf("%.2f%%", r.GetCoverage())
			bar = coverageBar(r.GetCoverage())
			// The change against the next older run that has a coverage.
			for _, older := range runs[i+1:] {
				if older.Coverage != nil {
					change = fmt.Sprintf("%+.2f", r.GetCoverage()-older.GetCoverage())
					break
				}
			}
		}
		t.row(strconv.FormatInt(r.GetId(), 10), runStatusText(r.GetStatus()), orDash(shortSHA(r.GetSha())),
			ago(r.GetCreatedAt(), now), cov, change, bar)
	}
	return t.flush()
}

// coverageBar draws a percentage on 20 cells.
func coverageBar(p float64) string {
	n := int(min(max(p, 0), 100)/5 + 0.5)
	return strings.Repeat("█", n) + strings.Repeat("░", 20-n)
}

func (a *app) runCoverage(ctx context.Context, runID int64, job string, files bool, output string) error {
	reps, err := a.jobReports(ctx, runID, job, func(j *gantryv1.Job) bool { return j.Coverage != nil })
	if err != nil {
		return err
	}
	if output == "json" {
		return a.printJSON(&gantryv1.JobReportList{Reports: reps})
	}
	if len(reps) == 0 {
		_, err := fmt.Fprintf(a.stdout, "Run #%d has no coverage (coverage: or artifacts:reports:coverage_report).\n", runID)
		return err
	}
	t := newTable(a.stdout, "JOB", "COVERAGE", "LINES", "SOURCE")
	for _, r := range reps {
		j, c := r.GetJob(), r.GetCoverage()
		lines, source := "-", "log (coverage:)"
		if c != nil {
			lines = fmt.Sprintf("%d/%d", c.GetLinesCovered(), c.GetLinesValid())
			if j.GetCoverageSource() == "report" {
				source = c.GetFormat() + " report"
			}
		}
		t.row(j.GetName(), fmt.Sprintf("%.2f%%", j.GetCoverage()), lines, source)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if !files {
		return nil
	}
	for _, r := range reps {
		if len(r.GetFiles()) == 0 {
			continue
		}
		fmt.Fprintf(a.stdout, "\n%s\n", r.GetJob().GetName())
		ft := newTable(a.stdout, "FILE", "COVERAGE", "LINES")
		for _, f := range r.GetFiles() {
			pct := "-"
			if f.GetLinesValid() > 0 {
				pct = fmt.Sprintf("%.2f%%", 100*float64(f.GetLinesCovered())/float64(f.GetLinesValid()))
			}
			ft.row(f.GetPath(), pct, fmt.Sprintf("%d/%d", f.GetLinesCovered(), f.GetLinesValid()))
		}
		if err := ft.flush(); err != nil {
			return err
		}
	}
	return nil
}
