package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// update rewrites the golden files: go test ./pkg/cli/ -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden with the output the tests get")

// goldenNow is the fixed clock of the golden tests.
var goldenNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// checkGolden compares got with testdata/name.golden, or writes it there
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// gantryAt runs the CLI like gantry does, with its clock stopped at now.
func gantryAt(ctx context.Context, now time.Time, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.now = func() time.Time { return now }
	code = a.main(ctx, args)
	return out.String(), errOut.String(), code
}

// goldenCase is one command line whose stdout is checked against a file.
type goldenCase struct {
	name string
	args []string
}

func runGolden(t *testing.T, addr string, cases []goldenCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := gantryAt(t.Context(), goldenNow, append([]string{"--coordinator", addr}, c.args...)...)
			if code != 0 {
				t.Fatalf("gantry %v: exit %d, stderr %q", c.args, code, errOut)
			}
			checkGolden(t, c.name, out)
		})
	}
}

func goldenAgo(d time.Duration) time.Time { return goldenNow.Add(-d) }

func TestGoldenRunners(t *testing.T) {
	f := &fakeCoordinator{runners: []*gantryv1.Runner{
		{Id: "3f9a1c", Name: "builder-1", Connected: true, Tags: []string{"docker", "linux"}, Capacity: 4,
			JobIds: []int64{12, 13}, LastSeenAt: ts(goldenAgo(2 * time.Second)), Version: "v0.9.0"},
		{Id: "7b2e44", Name: "gpu-1", Connected: true, Draining: true, Tags: []string{"gpu"}, RunUntagged: true,
			Capacity: 1, JobIds: []int64{14}, LastSeenAt: ts(goldenAgo(10 * time.Second)), Version: "v0.9.0"},
		{Id: "c01d00", Name: "mac-mini", Tags: nil, RunUntagged: true, Capacity: 2,
			LastSeenAt: ts(goldenAgo(3 * time.Hour)), Version: "v0.8.2"},
	}}
	runGolden(t, f.serve(t), []goldenCase{
		{"runners", []string{"runners"}},
		{"runners_json", []string{"runners", "-o", "json"}},
	})
}

func goldenPending() []*gantryv1.Job {
	return []*gantryv1.Job{
		{Id: 7, RunId: 3, Name: "gpu-test", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			Tags: []string{"linux", "gpu"}, QueuedAt: ts(goldenAgo(90 * time.Second)),
			PendingReason: "no online runner has all the tags [gpu, linux]"},
		{Id: 8, RunId: 3, Name: "deploy", Stage: "deploy", Status: gantryv1.JobStatus_JOB_STATUS_CREATED,
			CreatedAt: ts(goldenAgo(5 * time.Second)), PendingReason: "waiting for the jobs of earlier stages to finish"},
		{Id: 21, RunId: 5, Name: "lint", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			QueuedAt: ts(goldenAgo(40 * time.Second)), PendingReason: "every runner that could take it is busy"},
		{Id: 22, RunId: 5, Name: "cuda-bench", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			Tags: []string{"gpu", "linux"}, QueuedAt: ts(goldenAgo(75 * time.Minute)),
			PendingReason: "no online runner has all the tags [gpu, linux]"},
	}
}

func TestGoldenPending(t *testing.T) {
	f := &fakeCoordinator{pending: goldenPending()}
	runGolden(t, f.serve(t), []goldenCase{
		{"jobs_pending", []string{"jobs", "pending"}},
		{"jobs_pending_json", []string{"jobs", "pending", "-o", "json"}},
		{"queue", []string{"queue"}},
		{"queue_json", []string{"queue", "-o", "json"}},
	})
	empty := (&fakeCoordinator{}).serve(t)
	if out, _, code := gantry(t.Context(), "--coordinator", empty, "queue"); code != 0 || out != "no job is waiting\n" {
		t.Errorf("empty queue: exit %d, %q", code, out)
	}
}

// goldenWatch is a run in the middle of things, with a job in every state
// the live view draws differently.
func goldenWatch() *gantryv1.WatchRunResponse {
	at := func(d time.Duration) *timestamppb.Timestamp { return ts(goldenAgo(d)) }
	job := func(id int64, name, stage string, stageIndex int32, st gantryv1.JobStatus) *gantryv1.Job {
		return &gantryv1.Job{Id: id, RunId: 42, Name: name, Stage: stage, StageIndex: stageIndex, Status: st, Epoch: 1}
	}
	return &gantryv1.WatchRunResponse{
		Run: &gantryv1.Run{Id: 42, Status: gantryv1.RunStatus_RUN_STATUS_RUNNING, CreatedAt: at(95 * time.Second), StartedAt: at(94 * time.Second)},
		Jobs: []*gantryv1.Job{
			with(job(1, "compile", "build", 0, gantryv1.JobStatus_JOB_STATUS_SUCCESS), func(j *gantryv1.Job) {
				j.StartedAt, j.FinishedAt = at(94*time.Second), at(70*time.Second)
			}),
			with(job(2, "vet", "build", 0, gantryv1.JobStatus_JOB_STATUS_FAILED), func(j *gantryv1.Job) {
				j.StartedAt, j.FinishedAt, j.AllowFailure = at(94*time.Second), at(90*time.Second), true
				j.FailureReason, j.ExitCode = gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE, 1
			}),
			with(job(3, "unit", "test", 1, gantryv1.JobStatus_JOB_STATUS_RUNNING), func(j *gantryv1.Job) {
				j.RunnerName, j.StartedAt = "builder-1", at(45*time.Second)
			}),
			with(job(4, "integration", "test", 1, gantryv1.JobStatus_JOB_STATUS_FAILED), func(j *gantryv1.Job) {
				j.StartedAt, j.FinishedAt = at(60*time.Second), at(50*time.Second)
				j.FailureReason, j.FailureMessage = gantryv1.FailureReason_FAILURE_REASON_RUNNER_SYSTEM_FAILURE, "runner builder-2 lost its docker daemon"
			}),
			with(job(5, "gpu-bench", "test", 1, gantryv1.JobStatus_JOB_STATUS_PENDING), func(j *gantryv1.Job) {
				j.Epoch, j.QueuedAt = 0, at(70*time.Second)
				j.PendingReason = "no online runner has all the tags [gpu, linux]"
			}),
			with(job(6, "e2e", "test", 1, gantryv1.JobStatus_JOB_STATUS_LEASED), func(j *gantryv1.Job) { j.RunnerName = "builder-3" }),
			with(job(7, "package", "release", 2, gantryv1.JobStatus_JOB_STATUS_CREATED), func(j *gantryv1.Job) { j.Epoch = 0 }),
			with(job(8, "deploy", "release", 2, gantryv1.JobStatus_JOB_STATUS_MANUAL), func(j *gantryv1.Job) { j.Epoch = 0 }),
			with(job(9, "notify", "release", 2, gantryv1.JobStatus_JOB_STATUS_SKIPPED), func(j *gantryv1.Job) { j.Epoch = 0 }),
		},
	}
}

func TestGoldenLiveFrame(t *testing.T) {
	msg := goldenWatch()
	checkGolden(t, "live_frame", renderRun(msg, goldenNow, false, 0))
	checkGolden(t, "live_frame_color", renderRun(msg, goldenNow, true, 0))
	checkGolden(t, "live_frame_narrow", renderRun(msg, goldenNow, false, 40))
	// The spinner turns with the clock.
	if a, b := renderRun(msg, goldenNow, false, 0), renderRun(msg, goldenNow.Add(spinnerInterval), false, 0); a == b {
		t.Error("the frame did not change after a spinner interval")
	}
}

func goldenRuns() []*gantryv1.Run {
	cov := func(p float64) *float64 { return &p }
	return []*gantryv1.Run{
		{Id: 42, Status: gantryv1.RunStatus_RUN_STATUS_RUNNING, ProjectName: "gantry", Ref: "main", Sha: "1a2b3c4d5e6f7a8b9c0d",
			Submitter: "alice@box", CreatedAt: ts(goldenAgo(95 * time.Second)), StartedAt: ts(goldenAgo(94 * time.Second))},
		{Id: 41, Status: gantryv1.RunStatus_RUN_STATUS_FAILED, ProjectName: "gantry", Ref: "fix/flaky",
			Submitter: "bob@box", CreatedAt: ts(goldenAgo(3*time.Minute + 10*time.Second)),
			StartedAt: ts(goldenAgo(3 * time.Minute)), FinishedAt: ts(goldenAgo(3*time.Minute - 83*time.Second)), Coverage: cov(71.5)},
		{Id: 40, Status: gantryv1.RunStatus_RUN_STATUS_SUCCESS, ProjectName: "web", Sha: "0f9e8d7c6b5a49382716",
			Submitter: "carol@box", CreatedAt: ts(goldenAgo(2*time.Hour + time.Minute)),
			StartedAt: ts(goldenAgo(2 * time.Hour)), FinishedAt: ts(goldenAgo(2*time.Hour - 12*time.Second)), Coverage: cov(74.25)},
		{Id: 39, Status: gantryv1.RunStatus_RUN_STATUS_BLOCKED, ProjectName: "web", Ref: "main",
			Submitter: "carol@box", CreatedAt: ts(goldenAgo(26 * time.Hour)), StartedAt: ts(goldenAgo(26 * time.Hour))},
		{Id: 38, Status: gantryv1.RunStatus_RUN_STATUS_PENDING, ProjectName: "web", Ref: "main",
			Submitter: "dave@box", CreatedAt: ts(goldenAgo(20 * 24 * time.Hour))},
	}
}

// goldenRun is run 42 as GetRun answers, its jobs those of goldenWatch
// plus test and coverage results.
func goldenRun() *gantryv1.GetRunResponse {
	w := goldenWatch()
	run := w.GetRun()
	run.ProjectName, run.Ref, run.Sha, run.Submitter, run.PipelinePath = "gantry", "main", "1a2b3c4d5e6f7a8b9c0d", "alice@box", ".gantry.yml"
	run.Tests = &gantryv1.TestSummary{Tests: 130, Failures: 2, Skipped: 3}
	cov := 78.4
	run.Coverage = &cov
	jobs := w.GetJobs()
	jobs[0].Coverage = ptr(81.25)
	jobs[0].CoverageSource = "log"
	jobs[0].Artifact = &gantryv1.Artifact{Name: "bin.tar.gz", Size: 1048576, ExposeAs: "binaries"}
	jobs[1].Tests = &gantryv1.TestSummary{Tests: 10}
	jobs[3].Tests = &gantryv1.TestSummary{Tests: 120, Failures: 2, Skipped: 3, Time: durationpb.New(83 * time.Second)}
	jobs[3].Coverage = ptr(75.55)
	jobs[3].CoverageSource = "report"
	jobs[3].Attempts = []*gantryv1.Attempt{{Epoch: 1, RunnerName: "builder-9", Status: gantryv1.JobStatus_JOB_STATUS_LOST,
		EndedAt: ts(goldenAgo(80 * time.Second)), FailureMessage: "runner builder-9 stopped renewing its lease"}}
	return &gantryv1.GetRunResponse{Run: run, Jobs: jobs}
}

func ptr[T any](v T) *T { return &v }

func goldenReports(run *gantryv1.GetRunResponse) map[int64]*gantryv1.GetJobReportResponse {
	jobs := run.GetJobs()
	return map[int64]*gantryv1.GetJobReportResponse{
		1: {Job: jobs[0]},
		2: {Job: jobs[1], Tests: jobs[1].GetTests()},
		4: {Job: jobs[3], Tests: &gantryv1.TestSummary{Tests: 120, Failures: 1, Errors: 1, Skipped: 3, Time: durationpb.New(83 * time.Second),
			Failed: []*gantryv1.TestCase{
				{Suite: "store", ClassName: "store.EtcdSuite", Name: "TestLeaseExpiry", Kind: "failure",
					Message: "lease still held after 5s", Output: "store_test.go:88: want expired\nstore_test.go:89: got held"},
				{Suite: "api", Name: "TestUpload", Kind: "error", Message: "panic: nil map"},
			}, FailedOmitted: 0},
			Coverage: &gantryv1.CoverageSummary{Format: "gocover", LinesValid: 2000, LinesCovered: 1511, Percent: 75.55, Files: 2},
			Files:    []*gantryv1.FileCoverage{{Path: "pkg/store/etcd.go", LinesValid: 1200, LinesCovered: 1011}, {Path: "pkg/store/mem.go", LinesValid: 800, LinesCovered: 500}},
		},
	}
}

func TestGoldenRuns(t *testing.T) {
	run := goldenRun()
	f := &fakeCoordinator{runs: goldenRuns(), run: run, reports: goldenReports(run)}
	runGolden(t, f.serve(t), []goldenCase{
		{"runs", []string{"runs"}},
		{"runs_json", []string{"runs", "-o", "json"}},
		{"runs_show", []string{"runs", "42"}},
		{"runs_show_json", []string{"runs", "42", "-o", "json"}},
		{"tests", []string{"tests", "42"}},
		{"tests_json", []string{"tests", "42", "-o", "json"}},
		{"coverage", []string{"coverage", "42", "--files"}},
		{"coverage_json", []string{"coverage", "42", "-o", "json"}},
		{"coverage_trend", []string{"coverage", "--ref", "main"}},
	})
}

// TestGoldenWatchPlain: a one-job run, so that the job's lines and its
// log cannot interleave with another's.
func TestGoldenWatchPlain(t *testing.T) {
	only := &gantryv1.Job{Id: 1, Name: "only", Stage: "build", Status: statusPending, QueuedAt: ts(sec(0)), PendingReason: "waiting for a runner"}
	only1 := running(only, "builder-1", 1, 2)
	only2 := with(finished(only1, statusFailed, 9), func(j *gantryv1.Job) {
		j.FailureReason, j.ExitCode = gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE, 2
	})
	f := &fakeCoordinator{
		watches: []watchCall{{msgs: []*gantryv1.WatchRunResponse{
			watchMsg(gantryv1.RunStatus_RUN_STATUS_PENDING, only),
			watchMsg(runRunning, only1),
			watchMsg(gantryv1.RunStatus_RUN_STATUS_FAILED, only2),
		}}},
		logs: map[int64][]string{1: {"$ make\n", "cc -o gantry main.c\nmain.c:3: error: expected ';'\n"}},
	}
	out, errOut, code := gantryAt(t.Context(), sec(10), "--coordinator", f.serve(t), "watch", "12")
	if code != ExitRunFailed {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitRunFailed, errOut)
	}
	checkGolden(t, "watch_plain", out)
}
