package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// base is when the scripted runs start; status lines print job times.
var base = time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC) // TestMain makes time.Local UTC

func sec(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

func run12(st gantryv1.RunStatus) *gantryv1.Run {
	r := &gantryv1.Run{Id: 12, Status: st, CreatedAt: ts(sec(0))}
	if st != gantryv1.RunStatus_RUN_STATUS_PENDING {
		r.StartedAt = ts(sec(1))
	}
	if runEnded(st) {
		r.FinishedAt = ts(sec(8))
	}
	return r
}

func watchMsg(st gantryv1.RunStatus, jobs ...*gantryv1.Job) *gantryv1.WatchRunResponse {
	return &gantryv1.WatchRunResponse{Run: run12(st), Jobs: jobs}
}

var (
	statusPending = gantryv1.JobStatus_JOB_STATUS_PENDING
	statusRunning = gantryv1.JobStatus_JOB_STATUS_RUNNING
	statusSuccess = gantryv1.JobStatus_JOB_STATUS_SUCCESS
	statusFailed  = gantryv1.JobStatus_JOB_STATUS_FAILED
	runRunning    = gantryv1.RunStatus_RUN_STATUS_RUNNING
)

func running(j *gantryv1.Job, runner string, epoch int64, start int) *gantryv1.Job {
	return with(j, func(j *gantryv1.Job) {
		j.Status, j.RunnerName, j.Epoch, j.StartedAt = statusRunning, runner, epoch, ts(sec(start))
	})
}

func finished(j *gantryv1.Job, st gantryv1.JobStatus, end int) *gantryv1.Job {
	return with(j, func(j *gantryv1.Job) { j.Status, j.FinishedAt = st, ts(sec(end)) })
}

// passingRun scripts a run of three jobs; "quick" runs and passes between
// two updates, so the CLI never sees it running.
func passingRun() *fakeCoordinator {
	build := &gantryv1.Job{Id: 1, Name: "build", Stage: "build", Status: statusPending,
		QueuedAt: ts(sec(0)), PendingReason: "waiting for a runner"}
	unit := &gantryv1.Job{Id: 2, Name: "unit", Stage: "test", StageIndex: 1, Status: gantryv1.JobStatus_JOB_STATUS_CREATED}
	quick := &gantryv1.Job{Id: 3, Name: "quick", Stage: "test", StageIndex: 1, Status: gantryv1.JobStatus_JOB_STATUS_CREATED}

	build1 := running(build, "r1", 1, 1)
	build2 := finished(build1, statusSuccess, 4)
	unit1 := running(unit, "r2", 1, 5)
	quick1 := with(quick, func(j *gantryv1.Job) { j.Status, j.QueuedAt = statusPending, ts(sec(4)) })
	quick2 := finished(running(quick1, "r1", 1, 5), statusSuccess, 6)
	unit2 := finished(unit1, statusSuccess, 8)
	return &fakeCoordinator{
		submitResp: submitted(),
		watches: []watchCall{{msgs: []*gantryv1.WatchRunResponse{
			watchMsg(gantryv1.RunStatus_RUN_STATUS_PENDING, build, unit, quick),
			watchMsg(runRunning, build1, unit, quick),
			watchMsg(runRunning, build2, unit1, quick1),
			watchMsg(runRunning, build2, unit1, quick2),
			watchMsg(gantryv1.RunStatus_RUN_STATUS_SUCCESS, build2, unit2, quick2),
		}}},
		logs: map[int64][]string{
			1: {"compiling\nlink", "ing\n", "done"}, // the last line has no newline
			2: {"ok 1\r\n", "ok 2\n"},
			3: {"quick!\n"},
		},
	}
}

// passingRunLines is what following passingRun prints per job, in order.
var passingRunLines = map[string][]string{
	"build": {
		"14:00:00  build  pending: waiting for a runner",
		"14:00:01  build  running on r1",
		"build | compiling",
		"build | linking",
		"build | done",
		"14:00:04  build  passed in 3s",
	},
	"unit": {
		"14:00:05  unit   running on r2",
		"unit  | ok 1",
		"unit  | ok 2",
		"14:00:08  unit   passed in 3s",
	},
	"quick": {
		"14:00:04  quick  pending",
		"quick | quick!",
		"14:00:06  quick  passed in 1s",
	},
}

func TestSubmitFollowPassed(t *testing.T) {
	f := passingRun()
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", validPipelineDir(t))
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\nstdout:\n%s", code, errOut, out)
	}
	checkFollow(t, out, passingRunLines, ""+
		"JOB    STAGE  STATUS  DURATION\n"+
		"build  build  passed  3s\n"+
		"unit   test   passed  3s\n"+
		"quick  test   passed  1s\n"+
		"Run #12 passed in 7s\n")
	for _, r := range f.logRequests() {
		if r.GetRunId() != 12 || !r.GetFollow() || r.GetJobId() == 0 {
			t.Errorf("FollowLog request %v: want run 12, a job id and follow", r)
		}
	}
}

// checkFollow checks a followed submit's stdout: the submitted line, then
// each job's lines in order (jobs interleave freely), then the summary.
func checkFollow(t *testing.T, out string, perJob map[string][]string, summary string) {
	t.Helper()
	head, rest, ok := strings.Cut(out, "\n")
	if !ok || head != "Run #12 submitted: 3 jobs in 2 stages" {
		t.Fatalf("first line %q, stdout:\n%s", head, out)
	}
	body, tail, ok := strings.Cut(rest, "\n\n")
	if !ok || tail != summary {
		t.Errorf("summary:\n%s\nwant:\n%s", tail, summary)
	}
	lines := strings.Split(body, "\n")
	var want []string
	for job, jl := range perJob {
		want = append(want, jl...)
		last := -1
		for _, l := range jl {
			i := slices.Index(lines, l)
			if i < 0 {
				t.Errorf("%s: missing line %q", job, l)
			} else if i < last {
				t.Errorf("%s: line %q out of order", job, l)
			}
			last = max(last, i)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(lines))
	if !slices.Equal(got, want) {
		t.Errorf("followed output:\n%s\nwant these lines in any job order:\n%s", body, strings.Join(want, "\n"))
	}
}

func TestSubmitFollowFailed(t *testing.T) {
	compile := &gantryv1.Job{Id: 1, Name: "compile", Stage: "build"}
	unit := &gantryv1.Job{Id: 2, Name: "unit", Stage: "test", StageIndex: 1, Status: gantryv1.JobStatus_JOB_STATUS_CREATED}
	integ := &gantryv1.Job{Id: 3, Name: "integ", Stage: "test", StageIndex: 1, Status: gantryv1.JobStatus_JOB_STATUS_CREATED}
	compile1 := running(compile, "r1", 1, 0)
	compile2 := finished(compile1, statusSuccess, 2)
	unit1, integ1 := running(unit, "r1", 1, 3), running(integ, "r2", 1, 3)
	unit2 := with(finished(unit1, statusFailed, 5), func(j *gantryv1.Job) {
		j.FailureReason, j.ExitCode = gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE, 3
	})
	integ2 := with(finished(integ1, statusFailed, 6), func(j *gantryv1.Job) {
		j.FailureReason, j.FailureMessage = gantryv1.FailureReason_FAILURE_REASON_RUNNER_SYSTEM_FAILURE, "runner r2 lost"
	})
	f := &fakeCoordinator{
		submitResp: submitted(),
		watches: []watchCall{{msgs: []*gantryv1.WatchRunResponse{
			watchMsg(runRunning, compile1, unit, integ),
			watchMsg(runRunning, compile2, unit1, integ1),
			watchMsg(gantryv1.RunStatus_RUN_STATUS_FAILED, compile2, unit2, integ2),
		}}},
		logs: map[int64][]string{1: {"built\n"}, 2: {"--- FAIL: TestX\n"}},
	}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", validPipelineDir(t))
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q\nstdout:\n%s", code, errOut, out)
	}
	checkFollow(t, out, map[string][]string{
		"compile": {"14:00:00  compile  running on r1", "compile | built", "14:00:02  compile  passed in 2s"},
		"unit":    {"14:00:03  unit     running on r1", "unit    | --- FAIL: TestX", "14:00:05  unit     failed (exit code 3) in 2s"},
		"integ":   {"14:00:03  integ    running on r2", "14:00:06  integ    failed: runner r2 lost"},
	}, ""+
		"JOB      STAGE  STATUS  DURATION\n"+
		"compile  build  passed  2s\n"+
		"unit     test   failed  2s\n"+
		"integ    test   failed  3s\n"+
		"Run #12 failed\n")
}

func TestSubmitFollowExitCodes(t *testing.T) {
	for _, tc := range []struct {
		run      gantryv1.RunStatus
		job      gantryv1.JobStatus
		code     int
		lastLine string
	}{
		{gantryv1.RunStatus_RUN_STATUS_SUCCESS, statusSuccess, 0, "Run #12 passed in 7s"},
		{gantryv1.RunStatus_RUN_STATUS_FAILED, statusFailed, 1, "Run #12 failed"},
		{gantryv1.RunStatus_RUN_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_CANCELED, 1, "Run #12 canceled"},
		{gantryv1.RunStatus_RUN_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_SKIPPED, 1, "Run #12 canceled"},
	} {
		t.Run(tc.lastLine+"/"+jobStatusText(tc.job), func(t *testing.T) {
			j := &gantryv1.Job{Id: 1, Name: "only", Stage: "build", Status: tc.job, FinishedAt: ts(sec(8))}
			f := &fakeCoordinator{submitResp: submitted(), watches: []watchCall{{msgs: []*gantryv1.WatchRunResponse{watchMsg(tc.run, j)}}}}
			addr := f.serve(t)
			out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", validPipelineDir(t))
			if code != tc.code || !strings.HasSuffix(out, "\n"+tc.lastLine+"\n") {
				t.Errorf("exit %d, stdout:\n%s\nstderr %q; want %d and %q", code, out, errOut, tc.code, tc.lastLine)
			}
			if want := "14:00:08  only  " + jobStatusText(tc.job); tc.job != statusFailed && !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		})
	}
}

// TestSubmitFollowInterrupted presses Ctrl-C while following: the CLI
// stops, says how to look again, exits 130 and leaves the run alone.
func TestSubmitFollowInterrupted(t *testing.T) {
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	j := running(&gantryv1.Job{Id: 1, Name: "build", Stage: "build"}, "r1", 1, 1)
	f := &fakeCoordinator{
		submitResp: submitted(),
		watches: []watchCall{{
			msgs:   []*gantryv1.WatchRunResponse{watchMsg(runRunning, j)},
			block:  true,
			onSent: interrupt,
		}},
		logs: map[int64][]string{1: {"half a line"}},
	}
	addr := f.serve(t)
	out, errOut, code := gantry(ctx, "--coordinator", addr, "submit", validPipelineDir(t))
	if code != 130 || !strings.HasSuffix(errOut, "still running: gantry runs 12\n") {
		t.Errorf("exit %d, stderr %q; want 130 and the hint", code, errOut)
	}
	if strings.Contains(out, "Run #12 passed") || strings.Contains(out, "Run #12 failed") {
		t.Errorf("stdout claims an outcome:\n%s", out)
	}
	if f.called("CancelRun") {
		t.Error("Ctrl-C canceled the run")
	}
}

// TestSubmitFollowResumesWatch breaks the watch stream mid-run: the CLI
// watches again and prints nothing twice.
func TestSubmitFollowResumesWatch(t *testing.T) {
	old := watchBackoff
	watchBackoff = time.Millisecond
	t.Cleanup(func() { watchBackoff = old })

	f := passingRun()
	msgs := f.watches[0].msgs
	f.watches = []watchCall{
		{msgs: msgs[:3], err: status.Error(codes.Internal, "run watch interrupted; watch again")},
		{msgs: msgs[2:], err: nil},
	}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", validPipelineDir(t))
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\nstdout:\n%s", code, errOut, out)
	}
	checkFollow(t, out, passingRunLines, ""+
		"JOB    STAGE  STATUS  DURATION\n"+
		"build  build  passed  3s\n"+
		"unit   test   passed  3s\n"+
		"quick  test   passed  1s\n"+
		"Run #12 passed in 7s\n")
}

func TestSubmitFollowWatchFails(t *testing.T) {
	f := &fakeCoordinator{submitResp: submitted(), watches: []watchCall{{err: status.Error(codes.PermissionDenied, "not your run")}}}
	addr := f.serve(t)
	_, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", validPipelineDir(t))
	if code != 2 || !strings.HasSuffix(errOut, "gantry: not your run\n") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestSubmitFollowColor(t *testing.T) {
	f := passingRun()
	addr := f.serve(t)
	t.Setenv("NO_COLOR", "1") // --color=always overrides it
	out, _, code := gantry(t.Context(), "--coordinator", addr, "--color", "always", "submit", validPipelineDir(t))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		jobPalette[0] + "build |" + ansiReset + " compiling\n",
		ansiGreen + "passed in 3s" + ansiReset,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%q", want, out)
		}
	}
}
