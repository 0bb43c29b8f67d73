package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "<1s",
		999 * time.Millisecond:               "<1s",
		3*time.Second + 400*time.Millisecond: "3s",
		83 * time.Second:                     "1m23s",
		time.Hour + 2*time.Minute + 500*time.Millisecond: "1h2m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.Local)
	for d, want := range map[time.Duration]string{
		-time.Minute:                   "just now", // clock skew
		2 * time.Second:                "just now",
		42 * time.Second:               "42s ago",
		3*time.Minute + 59*time.Second: "3m ago",
		5 * time.Hour:                  "5h ago",
		72 * time.Hour:                 "3d ago",
		30 * 24 * time.Hour:            "2026-02-08",
	} {
		if got := ago(ts(now.Add(-d)), now); got != want {
			t.Errorf("ago(now-%v) = %q, want %q", d, got, want)
		}
	}
	if got := ago(nil, now); got != "-" {
		t.Errorf("ago(nil) = %q", got)
	}
}

func TestParseAddrs(t *testing.T) {
	for in, want := range map[string][]string{
		"localhost:7420":      {"localhost:7420"},
		"a:1, b:2,,":          {"a:1", "b:2"},
		"coord":               {"coord:7420"},
		"[::1]":               {"[::1]:7420"},
		"10.0.0.1:9,10.0.0.2": {"10.0.0.1:9", "10.0.0.2:7420"},
	} {
		got, err := parseAddrs(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseAddrs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " , ", "http://coord:7420"} {
		if _, err := parseAddrs(bad); err == nil {
			t.Errorf("parseAddrs(%q) succeeded", bad)
		}
	}
}

func TestErrorText(t *testing.T) {
	a := &app{coordinator: "c:1", timeout: 5 * time.Second}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{status.Error(codes.NotFound, "run 9 not found"), "run 9 not found"},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.1:1: i/o timeout"`),
			"cannot reach the coordinator at c:1: dial tcp 10.0.0.1:1: i/o timeout (set --coordinator or GANTRY_COORDINATOR)"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "no answer from the coordinator at c:1 within 5s (--timeout)"},
		{status.Error(codes.Unimplemented, "unknown method"), "the coordinator at c:1 does not support this request; is it older than this gantry? (unknown method)"},
		{errWrap("pack dir", status.Error(codes.Internal, "boom")), "pack dir: boom"},
	} {
		if got := a.errorText(tc.err); got != tc.want {
			t.Errorf("errorText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg + ": " + w.err.Error() }
func (w wrapped) Unwrap() error { return w.err }

func errWrap(msg string, err error) error { return wrapped{msg, err} }

func TestFailureText(t *testing.T) {
	for _, tc := range []struct {
		job  *gantryv1.Job
		want string
	}{
		{&gantryv1.Job{FailureReason: gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE, ExitCode: 2}, "exit code 2"},
		{&gantryv1.Job{ExitCode: 127}, "exit code 127"},
		{&gantryv1.Job{FailureReason: gantryv1.FailureReason_FAILURE_REASON_JOB_TIMEOUT, FailureMessage: "ran over 1h"}, "ran over 1h"},
		{&gantryv1.Job{FailureReason: gantryv1.FailureReason_FAILURE_REASON_JOB_TIMEOUT}, "job timed out"},
		{&gantryv1.Job{FailureReason: gantryv1.FailureReason_FAILURE_REASON_LEASE_EXPIRED}, "runner stopped renewing its lease"},
		{&gantryv1.Job{}, "unknown failure"},
	} {
		if got := failureText(tc.job); got != tc.want {
			t.Errorf("failureText(%v) = %q, want %q", tc.job, got, tc.want)
		}
	}
}

// TestFollowLogTail covers a log stream that breaks, and a line too long
// to buffer: the follow goes on and says what happened to the log.
func TestFollowLogTail(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	j := running(&gantryv1.Job{Id: 1, Name: "build", Stage: "build"}, "r1", 1, 1)
	f := &fakeCoordinator{
		submitResp: submitted(),
		watches: []watchCall{{msgs: []*gantryv1.WatchRunResponse{
			watchMsg(runRunning, j),
			watchMsg(gantryv1.RunStatus_RUN_STATUS_SUCCESS, finished(j, statusSuccess, 4)),
		}}},
		logs:   map[int64][]string{1: {"start\n", long, "\n"}},
		logErr: map[int64]error{1: status.Error(codes.DataLoss, "log chunk lost")},
	}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", validPipelineDir(t))
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "14:00:01  build  running on r1\n" +
		"build | start\n" +
		"build | " + long[:maxLineBytes] + "\n" +
		"build | " + long[maxLineBytes:] + "\n" +
		"14:00:04  build  passed in 3s\n"
	if !strings.Contains(out, want) {
		t.Errorf("stdout:\n%.300s\nwant it to contain\n%.300s", out, want)
	}
	if !strings.HasSuffix(errOut, "gantry: log of build: log chunk lost\n") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestLineBuffer(t *testing.T) {
	long := strings.Repeat("y", maxLineBytes)
	for _, tc := range []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split line", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"trailing partial", []string{"a\npart"}, []string{"a", "part"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"CR kept for the printer", []string{"a\r\n"}, []string{"a\r"}},
		{"long line cut", []string{long, "z\n"}, []string{long, "z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lb lineBuffer
			var got []string
			for _, c := range tc.chunks {
				for _, l := range lb.write([]byte(c)) {
					got = append(got, string(l))
				}
			}
			for _, l := range lb.flush() {
				got = append(got, string(l))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[32;1m$ echo hi\x1b[0;m": "$ echo hi",
		"plain":                       "plain",
		"a\x1b[1mb\x1b[0mc":           "abc",
	} {
		if got := string(stripANSI([]byte(in))); got != want {
			t.Errorf("stripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}
