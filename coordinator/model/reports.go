package model

import (
	"time"
)

// Reports is what the artifacts:reports files of a job's attempt said.
// The job record keeps only summaries, so that it stays small; every
// failing case and the coverage of each file are in the blob DetailKey
// names.
type Reports struct {
	Epoch int64 `json:"epoch"`
	// Tests sums the job's JUnit files; nil when it has none.
	Tests *TestSummary `json:"tests,omitempty"`
	// Coverage is the line coverage of its coverage_report files.
	Coverage *CoverageSummary `json:"coverage,omitempty"`
	// Dotenv are the variables of its dotenv reports, in file order,
	// passed to the jobs that take its artifacts.
	Dotenv []EnvVar `json:"dotenv,omitempty"`
	// Warnings say what was wrong with files that could not be read.
	Warnings []string `json:"warnings,omitempty"`
	// BlobKey is the report archive as uploaded; DetailKey the parsed
	// details (JSON), "" when nothing was parsed.
	BlobKey   string `json:"blob_key,omitempty"`
	DetailKey string `json:"detail_key,omitempty"`
}

// EnvVar is one variable a job passes on.
type EnvVar struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TestSummary is JUnit totals, with the first failing cases.
type TestSummary struct {
	Tests    int           `json:"tests"`
	Failures int           `json:"failures,omitempty"`
	Errors   int           `json:"errors,omitempty"`
	Skipped  int           `json:"skipped,omitempty"`
	Time     time.Duration `json:"time,omitempty"`
	// Failed lists at most MaxSummaryCases failing cases, briefly.
	Failed        []TestCase `json:"failed,omitempty"`
	FailedOmitted int        `json:"failed_omitted,omitempty"`
}

// MaxSummaryCases bounds the failing cases a job record lists.
const MaxSummaryCases = 10

// TestCase is one failing test case.
type TestCase struct {
	Suite   string `json:"suite,omitempty"`
	Class   string `json:"class,omitempty"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Message string `json:"message,omitempty"`
	Output  string `json:"output,omitempty"`
}

// Add adds o's totals to s (not its cases).
func (s *TestSummary) Add(o *TestSummary) {
	s.Tests += o.Tests
	s.Failures += o.Failures
	s.Errors += o.Errors
	s.Skipped += o.Skipped
	s.Time += o.Time
}

// CoverageSummary is a job's line coverage from its reports.
type CoverageSummary struct {
	Format       string `json:"format"`
	LinesValid   int64  `json:"lines_valid"`
	LinesCovered int64  `json:"lines_covered"`
	Files        int    `json:"files"`
}

// Percent is covered lines as a percentage of valid lines (0 when none).
func (c *CoverageSummary) Percent() float64 {
	if c == nil || c.LinesValid == 0 {
		return 0
	}
	return 100 * float64(c.LinesCovered) / float64(c.LinesValid)
}

// CoveragePercent is the job's coverage: what its `coverage:` regex found
// in the log, else what its coverage report says; nil when neither.
func (j *Job) CoveragePercent() *float64 {
	if j.Coverage != nil {
		return j.Coverage
	}
	if j.Reports != nil && j.Reports.Coverage != nil && j.Reports.Coverage.LinesValid > 0 {
		p := j.Reports.Coverage.Percent()
		return &p
	}
	return nil
}

// Summarize sets the run's test totals and coverage from its jobs: tests
// added up, coverage the mean of the jobs that have one (as GitLab
// computes a pipeline's coverage).
func (r *Run) Summarize(jobs []*Job) {
	var tests *TestSummary
	var sum float64
	n := 0
	for _, j := range jobs {
		if j.Reports != nil && j.Reports.Tests != nil {
			if tests == nil {
				tests = &TestSummary{}
			}
			tests.Add(j.Reports.Tests)
		}
		if p := j.CoveragePercent(); p != nil {
			sum += *p
			n++
		}
	}
	r.Tests = tests
	r.Coverage = nil
	if n > 0 {
		mean := sum / float64(n)
		r.Coverage = &mean
	}
}
