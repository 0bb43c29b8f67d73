package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// TestWatchPlain: not on a terminal, watch prints what submit does after
// its first line, and exits as submit does.
func TestWatchPlain(t *testing.T) {
	f := passingRun()
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "watch", "12")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\nstdout:\n%s", code, errOut, out)
	}
	checkFollow(t, "Run #12 submitted: 3 jobs in 2 stages\n"+out, passingRunLines, ""+
		"JOB    STAGE  STATUS  DURATION\n"+
		"build  build  passed  3s\n"+
		"unit   test   passed  3s\n"+
		"quick  test   passed  1s\n"+
		"Run #12 passed in 7s\n")
	if strings.Contains(out, "\x1b[") {
		t.Errorf("plain output holds escape codes:\n%q", out)
	}
}

// gantryTTY runs the CLI as if stdout were a terminal, its clock fixed.
func gantryTTY(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.stdoutTTY = true
	a.now = func() time.Time { return sec(9) }
	code = a.main(t.Context(), args)
	return out.String(), errOut.String(), code
}

// TestWatchLive: on a terminal, watch redraws the run in place, shows no
// logs, and keeps submit's exit codes.
func TestWatchLive(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	f := passingRun()
	addr := f.serve(t)
	out, errOut, code := gantryTTY(t, "--coordinator", addr, "watch", "12")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\nstdout:\n%q", code, errOut, out)
	}
	// The last frame, drawn over the previous one, then the outcome.
	last := renderRun(watchMsg(gantryv1.RunStatus_RUN_STATUS_SUCCESS,
		finished(running(&gantryv1.Job{Id: 1, Name: "build", Stage: "build"}, "r1", 1, 1), statusSuccess, 4),
		finished(running(&gantryv1.Job{Id: 2, Name: "unit", Stage: "test", StageIndex: 1}, "r2", 1, 5), statusSuccess, 8),
		finished(running(&gantryv1.Job{Id: 3, Name: "quick", Stage: "test", StageIndex: 1}, "r1", 1, 5), statusSuccess, 6),
	), sec(9), false, 0)
	wantEnd := "\r\x1b[6A" + strings.ReplaceAll(last, "\n", "\x1b[K\n") + "\x1b[J\nRun #12 passed in 7s\n"
	if !strings.HasSuffix(out, wantEnd) {
		t.Errorf("stdout ends\n%q\nwant it to end\n%q", out, wantEnd)
	}
	if strings.Contains(out, "compiling") || strings.Contains(out, "\x1b[3") {
		t.Errorf("live view printed a log line or a colour:\n%q", out)
	}
}

func TestWatchLiveFailed(t *testing.T) {
	unit := with(finished(running(&gantryv1.Job{Id: 2, Name: "unit test", Stage: "test"}, "r1", 1, 1), statusFailed, 3),
		func(j *gantryv1.Job) {
			j.FailureReason, j.ExitCode = gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE, 3
		})
	f := &fakeCoordinator{watches: []watchCall{{msgs: []*gantryv1.WatchRunResponse{
		watchMsg(gantryv1.RunStatus_RUN_STATUS_FAILED, unit),
	}}}}
	addr := f.serve(t)
	out, _, code := gantryTTY(t, "--coordinator", addr, "--color", "always", "watch", "#12")
	if code != ExitRunFailed {
		t.Errorf("exit %d, want %d", code, ExitRunFailed)
	}
	for _, want := range []string{ansiRed + "✗" + ansiReset, "Run #12 failed\n  log of unit test: gantry logs 12 'unit test'\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%q", want, out)
		}
	}
}

func TestWatchUsage(t *testing.T) {
	if _, errOut, code := gantry(t.Context(), "--coordinator", closedAddr(t), "watch", "abc"); code != ExitError || !strings.Contains(errOut, `"abc" is not a run number`) {
		t.Errorf("watch abc: exit %d, stderr %q", code, errOut)
	}
}

func TestFitFrame(t *testing.T) {
	frame := "a\nb\nc\nd\n"
	for _, tc := range []struct {
		rows int
		want string
	}{
		{0, frame},
		{4, frame},
		{9, frame},
		{3, "a\nb\n  … 2 more lines (a taller terminal shows them)\n"},
	} {
		if got := fitFrame(frame, tc.rows); got != tc.want {
			t.Errorf("fitFrame(%d rows) = %q, want %q", tc.rows, got, tc.want)
		}
	}
}
