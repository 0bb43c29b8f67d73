package harness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Signal sends sig to the process's group (the binary and anything it
// started in its group), e.g. SIGSTOP and SIGCONT to freeze a runner. It
// returns os.ErrProcessDone once the process has exited, so a group id
// the system may have reused is never signalled.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// WaitLogCount waits until the process's log holds substr at least n
// times and returns the log. Processes restarted under the same name
// append to the same log, so n counts across restarts.
func WaitLogCount(t testing.TB, p *Process, substr string, n int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := p.Log()
		if strings.Count(log, substr) >= n {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's log holds %q %d times after %s, want %d:\n%s", p.Name, substr, strings.Count(log, substr), timeout, n, p.Tail(40))
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited while waiting for %q in its log:\n%s", p.Name, substr, p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FaultScript returns the script of a fault-test job. The job appends one
// line per execution to $FAULT_DIR/executions ("<job>-<epoch> <name>
// <builds dir> <pid>"), then prints "line 1", "line 2"... phase by phase.
// Every phase after the first waits for a gate file in $FAULT_DIR:
// gate-all, gate-<job>-<phase> or gate-<job>-<epoch>-<phase> (see
// OpenGate). The attempt whose epoch is failEpoch (0: none) prints
// "late output of attempt <job>-<epoch>" after its last phase and exits 7.
// Finally every attempt writes $FAULT_DIR/done-<job>-<epoch>.
//
// The epoch is read from the shell executor's work directory
// (<builds dir>/<job>-<epoch>/<project>): scripts see no other trace of it.
func FaultScript(phases []int, failEpoch int) []string {
	cmds := []string{
		`ATTEMPT=$(basename "$(dirname "$CI_PROJECT_DIR")")`,
		`echo "$ATTEMPT $CI_JOB_NAME $(basename "$CI_BUILDS_DIR") $$" >> "$FAULT_DIR/executions"`,
	}
	next := 1
	for i, n := range phases {
		if i > 0 {
			// The loop also ends when the test's directory is gone, so a
			// script orphaned by a killed runner cannot outlive the test.
			cmds = append(cmds, fmt.Sprintf(`while [ -d "$FAULT_DIR" ] && [ ! -e "$FAULT_DIR/gate-all" ] && [ ! -e "$FAULT_DIR/gate-$CI_JOB_ID-%[1]d" ] && [ ! -e "$FAULT_DIR/gate-$ATTEMPT-%[1]d" ]; do sleep 0.2; done`, i+1))
		}
		// A short pause every 20 lines spreads the output over many log
		// chunks.
		cmds = append(cmds, fmt.Sprintf(`i=%d; while [ $i -le %d ]; do echo "line $i"; if [ $((i %% 20)) -eq 0 ]; then sleep 0.05; fi; i=$((i+1)); done`, next, next+n-1))
		next += n
	}
	if failEpoch > 0 {
		cmds = append(cmds, fmt.Sprintf(`if [ "${ATTEMPT##*-}" = %d ]; then echo "late output of attempt $ATTEMPT"; echo "$ATTEMPT" > "$FAULT_DIR/done-$ATTEMPT"; exit 7; fi`, failEpoch))
	}
	return append(cmds, `echo "$ATTEMPT" > "$FAULT_DIR/done-$ATTEMPT"`)
}

// OpenGate creates the gate file name ("all", "<job>-<phase>" or
// "<job>-<epoch>-<phase>") in faultDir, releasing the FaultScript jobs
// waiting for it.
func OpenGate(t testing.TB, faultDir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(faultDir, "gate-"+name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Execution is one line of a FaultScript's executions file: one attempt
// of a job that started its script.
type Execution struct {
	JobID, Epoch int64
	Name         string
	// BuildsDir is the base name of the executing runner's builds dir.
	BuildsDir string
	PID       int
}

// Executions reads faultDir/executions.
func Executions(t testing.TB, faultDir string) []Execution {
	t.Helper()
	f, err := os.Open(filepath.Join(faultDir, "executions"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Execution
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			t.Fatalf("executions: malformed line %q", sc.Text())
		}
		job, epoch, ok := strings.Cut(fields[0], "-")
		e := Execution{Name: fields[1], BuildsDir: fields[2]}
		var err1, err2, err3 error
		e.JobID, err1 = strconv.ParseInt(job, 10, 64)
		e.Epoch, err2 = strconv.ParseInt(epoch, 10, 64)
		e.PID, err3 = strconv.Atoi(fields[3])
		if !ok || err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("executions: malformed line %q (the shell executor's work directory is no longer <job>-<epoch>?)", sc.Text())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// WaitExecutions waits until faultDir/executions holds at least n lines.
func WaitExecutions(ctx context.Context, t testing.TB, faultDir string, n int) []Execution {
	t.Helper()
	for {
		if ex := Executions(t, faultDir); len(ex) >= n {
			return ex
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d job executions started: %v", len(Executions(t, faultDir)), n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var numberedLine = regexp.MustCompile(`^line (\d+)$`)

// CheckNumberedLines checks that log holds the lines "line 1" to "line n"
// each exactly once and in order. With prefix, any count up to n is
// accepted (the log of an attempt that was cut short).
func CheckNumberedLines(log string, n int, prefix bool) error {
	var got []int
	for _, l := range strings.Split(log, "\n") {
		if m := numberedLine.FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
			v, _ := strconv.Atoi(m[1])
			got = append(got, v)
		}
	}
	seen := map[int]int{}
	for _, v := range got {
		seen[v]++
	}
	var dups, missing []int
	for v, c := range seen {
		if c > 1 {
			dups = append(dups, v)
		}
	}
	last := n
	if prefix {
		last = len(seen)
	}
	for v := 1; v <= last; v++ {
		if seen[v] == 0 {
			missing = append(missing, v)
		}
	}
	slices.Sort(dups)
	var errs []string
	if len(dups) > 0 {
		errs = append(errs, fmt.Sprintf("%d lines appear more than once (first: line %d)", len(dups), dups[0]))
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Sprintf("%d lines are missing (first: line %d)", len(missing), missing[0]))
	}
	if len(got) > n {
		errs = append(errs, fmt.Sprintf("%d numbered lines, want at most %d", len(got), n))
	}
	for i, v := range got {
		if v != i+1 {
			errs = append(errs, fmt.Sprintf("numbered line %d is %q (out of order)", i+1, fmt.Sprintf("line %d", v)))
			break
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// JobChange is a job's state in one WatchRun snapshot.
type JobChange struct {
	Status gantryv1.JobStatus
	Epoch  int64
	Runner string
}

// RunRecorder follows a run with WatchRun, across coordinator restarts,
// and keeps every distinct state each job was seen in.
type RunRecorder struct {
	RunID int64

	cancel context.CancelFunc
	done   chan struct{}
	ended  chan struct{}

	mu      sync.Mutex
	history map[int64][]JobChange
	last    *gantryv1.WatchRunResponse
}

// RecordRun starts following runID; the recorder stops when the run ends
// or the test does.
func (c *Client) RecordRun(t testing.TB, runID int64) *RunRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &RunRecorder{RunID: runID, cancel: cancel, done: make(chan struct{}), ended: make(chan struct{}), history: map[int64][]JobChange{}}
	go r.follow(ctx, c)
	t.Cleanup(r.Stop)
	return r
}

func (r *RunRecorder) follow(ctx context.Context, c *Client) {
	defer close(r.done)
	for ctx.Err() == nil {
		stream, err := c.Pipeline.WatchRun(ctx, &gantryv1.WatchRunRequest{RunId: r.RunID}, grpc.WaitForReady(true))
		if err == nil {
			for {
				m, err := stream.Recv()
				if err != nil {
					break
				}
				r.observe(m)
				if RunEnded(m) {
					close(r.ended)
					return
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // the coordinator is restarting
		}
	}
}

func (r *RunRecorder) observe(m *gantryv1.WatchRunResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = m
	for _, j := range m.GetJobs() {
		c := JobChange{Status: j.GetStatus(), Epoch: j.GetEpoch(), Runner: j.GetRunnerName()}
		h := r.history[j.GetId()]
		if len(h) == 0 || h[len(h)-1] != c {
			r.history[j.GetId()] = append(h, c)
		}
	}
}

// Ended is closed once the run reached a final status.
func (r *RunRecorder) Ended() <-chan struct{} { return r.ended }

// Last returns the latest snapshot.
func (r *RunRecorder) Last() *gantryv1.WatchRunResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// History returns the states job was seen in, oldest first.
func (r *RunRecorder) History(jobID int64) []JobChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.history[jobID])
}

// Stop stops following and waits for the follower to return.
func (r *RunRecorder) Stop() {
	r.cancel()
	<-r.done
}

// Terminal reports whether a job status is final.
func Terminal(s gantryv1.JobStatus) bool {
	switch s {
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS, gantryv1.JobStatus_JOB_STATUS_FAILED,
		gantryv1.JobStatus_JOB_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_SKIPPED:
		return true
	}
	return false
}

// CheckEndedOnce checks that once a job was seen in a final state, it was
// never seen in another state.
func CheckEndedOnce(h []JobChange) error {
	for i, c := range h {
		if !Terminal(c.Status) {
			continue
		}
		for _, later := range h[i+1:] {
			if later != c {
				return fmt.Errorf("ended as %s (epoch %d, runner %q), then was seen as %s (epoch %d, runner %q)",
					c.Status, c.Epoch, c.Runner, later.Status, later.Epoch, later.Runner)
			}
		}
		return nil
	}
	return nil
}
