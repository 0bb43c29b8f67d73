package web

import (
	"fmt"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// What a job's reports say (artifacts:reports), as the API's summaries
// carry it: JUnit totals with the first failing cases, and coverage.

// testTotals is a TestSummary's counts.
type testTotals struct {
	Tests, Passed, Failures, Errors, Skipped int32
	Time                                     string
	// Failed says some case failed or errored.
	Failed bool
}

func newTestTotals(s *gantryv1.TestSummary) *testTotals {
	if s == nil {
		return nil
	}
	t := &testTotals{
		Tests: s.GetTests(), Failures: s.GetFailures(), Errors: s.GetErrors(), Skipped: s.GetSkipped(),
		Passed: max(s.GetTests()-s.GetFailures()-s.GetErrors()-s.GetSkipped(), 0),
		Failed: s.GetFailures()+s.GetErrors() > 0,
	}
	if s.GetTime() != nil {
		t.Time = formatWait(s.GetTime().AsDuration())
	}
	return t
}

// Brief is the totals in a few words, for a table cell.
func (t *testTotals) Brief() string {
	s := fmt.Sprintf("%d passed", t.Passed)
	if t.Failures > 0 {
		s += fmt.Sprintf(", %d failed", t.Failures)
	}
	if t.Errors > 0 {
		s += fmt.Sprintf(", %d errors", t.Errors)
	}
	if t.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", t.Skipped)
	}
	return s
}

// failedCase is a failing or erroring test case.
type failedCase struct {
	Job, JobURL   string
	Name, Kind    string
	Message       string
	Output        string
	SuiteAndClass string
}

func failedCases(j *gantryv1.Job) []failedCase {
	var out []failedCase
	for _, c := range j.GetTests().GetFailed() {
		where := c.GetSuite()
		if cl := c.GetClassName(); cl != "" && cl != where {
			where = joinNonEmpty(where, cl)
		}
		out = append(out, failedCase{
			Job: j.GetName(), JobURL: jobURL(j.GetRunId(), j.GetId()),
			Name: c.GetName(), Kind: c.GetKind(), Message: c.GetMessage(), Output: c.GetOutput(),
			SuiteAndClass: where,
		})
	}
	return out
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " › " + b
}

// reportRow is a job's line in a run's tests and coverage summary.
type reportRow struct {
	Name, URL string
	Tests     *testTotals
	Coverage  string
	Source    string
}

// coverageSource says where a job's coverage comes from, in words.
func coverageSource(j *gantryv1.Job) string {
	switch j.GetCoverageSource() {
	case "log":
		return "from the log (coverage:)"
	case "report":
		if r := j.GetCoverageReport(); r != nil {
			return fmt.Sprintf("from its %s report, %d of %d lines", orDash(r.GetFormat()), r.GetLinesCovered(), r.GetLinesValid())
		}
		return "from its coverage report"
	}
	return ""
}

// coverageReport describes a job's coverage report, "" without one.
func coverageReport(j *gantryv1.Job) string {
	r := j.GetCoverageReport()
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%s: %s of lines (%d of %d) in %d files", orDash(r.GetFormat()), percent(r.GetPercent()), r.GetLinesCovered(), r.GetLinesValid(), r.GetFiles())
}
