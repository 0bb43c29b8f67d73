package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Report is one artifacts:reports entry: the files the coordinator reads
// as Kind (junit, coverage_report, dotenv, ...).
type Report struct {
	Kind  string
	Paths []string
}

// ReportEntryName is the name a report file has in the archive the
// executor uploads: the index of its Report in Job.Reports, then its path
// relative to the workspace ("0/build/junit.xml"). The coordinator reads
// the kind from the index, so the runner alone resolves the paths.
func ReportEntryName(report int, name string) string {
	return strconv.Itoa(report) + "/" + name
}

// UploadJobReports collects the job's report files into one archive and
// uploads it, whatever the outcome but canceled: test reports matter most
// when tests fail (GitLab reads them for failed jobs too). A job with no
// report files uploads nothing. Failures are warnings in the log and never
// change the result; what the coordinator made of the files (totals,
// warnings) is logged.
func UploadJobReports(ctx context.Context, job *Job, res Result, workdir string, log io.Writer,
	collect func(ctx context.Context, c *ArtifactCollector) error) {
	if len(job.Reports) == 0 || res.Outcome == OutcomeCanceled || ctx.Err() != nil {
		return
	}
	fmt.Fprintln(log, "Uploading reports...")
	if job.UploadReports == nil {
		fmt.Fprintln(log, "WARNING: this runner cannot upload reports")
		return
	}
	spec := &Artifacts{}
	var owner []int // report index of each path
	for i, r := range job.Reports {
		for _, p := range r.Paths {
			spec.Paths = append(spec.Paths, p)
			owner = append(owner, i)
		}
	}
	var said []string
	upload := func(ctx context.Context, r io.Reader) error {
		var err error
		said, err = job.UploadReports(ctx, r)
		return err
	}
	// Only regular files are read as reports; each is named after the
	// report its first matching path belongs to.
	name := func(c *ArtifactCollector) {
		c.rename = func(name string, hits []bool) string {
			for i, hit := range hits {
				if hit {
					return ReportEntryName(owner[i], name)
				}
			}
			return ""
		}
	}
	st := streamCollection(ctx, spec, workdir, log, job.MaxArtifactBytes, upload, collect, name)
	var limit *limitError
	switch {
	case errors.As(st.collectErr, &limit):
		fmt.Fprintf(log, "WARNING: reports not uploaded: %v\n", limit)
	case st.collectErr != nil:
		fmt.Fprintf(log, "WARNING: collecting reports: %v\n", st.collectErr)
	case st.uploadErr != nil:
		fmt.Fprintf(log, "WARNING: uploading reports: %v\n", st.uploadErr)
	case !st.started:
		fmt.Fprintln(log, "WARNING: no report files to upload")
	default:
		fmt.Fprintf(log, "Uploading reports to coordinator... %s OK\n", formatBytes(st.bytes))
		for _, line := range said {
			fmt.Fprintln(log, line)
		}
	}
}
