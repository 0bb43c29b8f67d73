package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// The reports' summaries as the API gives them (a fake serves them: a
// real coordinator needs a runner to upload report files for these).
func TestPagesShowTestsAndCoverage(t *testing.T) {
	api := newFakeAPI()
	api.run = proto.CloneOf(fakeRun)
	api.run.Status = gantryv1.RunStatus_RUN_STATUS_FAILED
	api.run.Coverage = proto.Float64(71.25)
	api.run.Tests = &gantryv1.TestSummary{Tests: 12, Failures: 1, Errors: 1, Skipped: 2, Time: durationpb.New(1500 * time.Millisecond)}
	job := proto.CloneOf(fakeJob)
	job.Status = gantryv1.JobStatus_JOB_STATUS_FAILED
	job.Coverage = proto.Float64(71.25)
	job.CoverageSource = "report"
	job.CoverageReport = &gantryv1.CoverageSummary{Format: "cobertura", LinesValid: 400, LinesCovered: 285, Percent: 71.25, Files: 9}
	job.Tests = proto.CloneOf(api.run.Tests)
	job.Tests.Failed = []*gantryv1.TestCase{
		{Suite: "pkg", ClassName: "pkg.Parser", Name: "TestParse<script>", Kind: "failure", Message: "want 1, got 2", Output: "parser_test.go:12: want 1\n"},
		{Suite: "pkg", Name: "TestBoom", Kind: "error", Message: "panic"},
	}
	job.Tests.FailedOmitted = 3
	job.Warnings = []string{"report 1 (junit): reports/extra.xml: not JUnit XML"}
	api.jobs = []*gantryv1.Job{job}
	srv := httptest.NewServer(New(api, api, Options{}, zaptest.NewLogger(t)))
	defer srv.Close()

	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	run := get("/runs/1")
	for _, w := range []string{
		"71.2%", // the run's coverage as the API computed it
		"12 tests: 8 passed, 1 failed, 1 errors, 2 skipped",
		"from its cobertura report, 285 of 400 lines",
		"<th>All jobs</th><th>12</th><th>8</th><th>1</th><th>1</th><th>2</th><th>1.5s</th>",
		"<strong>TestParse&lt;script&gt;</strong>", "(pkg › pkg.Parser)", "want 1, got 2",
	} {
		if !strings.Contains(run, w) {
			t.Errorf("run page lacks %q", w)
		}
	}
	page := get("/runs/1/jobs/7")
	for _, w := range []string{
		"cobertura: 71.2% of lines (285 of 400) in 9 files",
		`<pre class="output">parser_test.go:12: want 1`,
		"…and 3 more failing case(s)", "not JUnit XML",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("job page lacks %q", w)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
