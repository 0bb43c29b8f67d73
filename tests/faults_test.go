package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// Fault-injection tests of the lease protocol: runners and coordinators
// killed, frozen and cut off while jobs run, on the shell executor with
// short leases. Jobs are FaultScript jobs: each execution is recorded in a
// file the test reads, and logs are numbered lines whose completeness and
// uniqueness can be checked.

const (
	faultLeaseTTL  = 3 * time.Second
	faultHeartbeat = time.Second
)

// faultEnv is a coordinator with short leases, its shell runners, and a
// directory the jobs record their executions in.
type faultEnv struct {
	t             *testing.T
	dir, faultDir string
	addr, token   string
	coord         *harness.Process
	runners       map[string]*harness.Process
	client        *harness.Client
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	dir := t.TempDir()
	e := &faultEnv{
		t: t, dir: dir, faultDir: filepath.Join(dir, "fault"),
		addr: harness.FreeAddr(t), token: "fault-token",
		runners: map[string]*harness.Process{},
	}
	if err := os.MkdirAll(e.faultDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Runs last, once every process has stopped.
	t.Cleanup(func() { e.keepLogs() })
	e.startCoordinator()
	e.client = harness.Dial(t, e.addr)
	return e
}

// keepLogs copies the processes' whole logs and the executions record of
// a failed test to $GANTRY_FAULT_ARTIFACTS/<test>, if that is set: the
// harness prints only their tails.
func (e *faultEnv) keepLogs() {
	root := os.Getenv("GANTRY_FAULT_ARTIFACTS")
	if root == "" || !e.t.Failed() {
		return
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		e.t.Logf("keep logs: %v", err)
		return
	}
	dst, err := os.MkdirTemp(root, strings.ReplaceAll(e.t.Name(), "/", "_")+"-")
	if err != nil {
		e.t.Logf("keep logs: %v", err)
		return
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "*.log"))
	files = append(files, filepath.Join(e.faultDir, "executions"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
		}
	}
	e.t.Logf("logs kept in %s", dst)
}

// startCoordinator starts (or restarts) the coordinator on the same
// address and data dir.
func (e *faultEnv) startCoordinator() {
	e.t.Helper()
	e.coord = harness.Coordinator(e.t, e.dir, e.addr, e.token,
		"--lease-ttl", faultLeaseTTL.String(), "--heartbeat-interval", faultHeartbeat.String())
	// Runs before the harness stops this coordinator: runners connected to
	// it would hold its graceful stop for its whole shutdown grace.
	e.t.Cleanup(e.stopRunners)
}

// stopRunners releases every gate, thaws frozen runners and stops them all.
func (e *faultEnv) stopRunners() {
	_ = os.WriteFile(filepath.Join(e.faultDir, "gate-all"), nil, 0o644)
	var wg sync.WaitGroup
	for _, p := range e.runners {
		_ = p.Signal(syscall.SIGCONT)
		wg.Go(func() { p.Stop(15 * time.Second) })
	}
	wg.Wait()
}

// startRunner starts (or restarts) a shell runner and waits until it is
// connected to the coordinator.
func (e *faultEnv) startRunner(name string, concurrency int) *harness.Process {
	e.t.Helper()
	connected := 0
	if old := e.runners[name]; old != nil {
		connected = strings.Count(old.Log(), "connected to coordinator")
	}
	p := harness.Runner(e.t, e.dir, name, e.addr, e.token, "--executor", "shell",
		"--builds-dir", filepath.Join(e.dir, "builds-"+name), "--concurrency", strconv.Itoa(concurrency))
	e.runners[name] = p
	// Registered after the harness's stop of p, so it runs first.
	e.t.Cleanup(e.stopRunners)
	harness.WaitLogCount(e.t, p, "connected to coordinator", connected+1, 60*time.Second)
	return p
}

// faultJob is one job of a generated pipeline.
type faultJob struct {
	name, stage string
	phases      []int
	failEpoch   int
}

// lines is the number of numbered lines the job prints.
func (j faultJob) lines() int {
	n := 0
	for _, p := range j.phases {
		n += p
	}
	return n
}

// pipelineYAML renders jobs as a pipeline whose jobs run FaultScript.
func (e *faultEnv) pipelineYAML(stages []string, jobs []faultJob) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stages: [%s]\nvariables:\n  FAULT_DIR: %s\n", strings.Join(stages, ", "), yamlQuote(e.faultDir))
	for _, j := range jobs {
		fmt.Fprintf(&b, "%s:\n  stage: %s\n  script:\n", j.name, j.stage)
		for _, c := range harness.FaultScript(j.phases, j.failEpoch) {
			fmt.Fprintf(&b, "    - %s\n", yamlQuote(c))
		}
	}
	return b.String()
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// submit creates a run of jobs and returns it.
func (e *faultEnv) submit(ctx context.Context, stages []string, jobs []faultJob) *gantryv1.SubmitRunResponse {
	e.t.Helper()
	stream, err := e.client.Pipeline.SubmitRun(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	err = stream.Send(&gantryv1.SubmitRunRequest{Msg: &gantryv1.SubmitRunRequest_Header{Header: &gantryv1.SubmitHeader{
		Pipeline: []byte(e.pipelineYAML(stages, jobs)), PipelinePath: ".gantry.yml", ProjectName: "fault", Submitter: e.t.Name(),
	}}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return resp
}

// getRun reads a run with GetRun.
func (e *faultEnv) getRun(ctx context.Context, runID int64) *gantryv1.GetRunResponse {
	e.t.Helper()
	got, err := e.client.Pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runID})
	if err != nil {
		e.t.Fatalf("GetRun %d: %v", runID, err)
	}
	return got
}

// getJob reads one job, attempts included, with GetRun.
func (e *faultEnv) getJob(ctx context.Context, runID, jobID int64) *gantryv1.Job {
	e.t.Helper()
	for _, j := range e.getRun(ctx, runID).GetJobs() {
		if j.GetId() == jobID {
			return j
		}
	}
	e.t.Fatalf("run %d has no job %d", runID, jobID)
	return nil
}

// lost reports whether an attempt was lost with its runner.
func lost(a *gantryv1.Attempt) bool { return a.GetStatus() == gantryv1.JobStatus_JOB_STATUS_LOST }

// jobIs returns a WaitRun condition on one job.
func jobIs(name string, ok func(*gantryv1.Job) bool) func(*gantryv1.WatchRunResponse) bool {
	return func(m *gantryv1.WatchRunResponse) bool {
		j := harness.Job(m, name)
		return j != nil && ok(j)
	}
}

// executionsOf returns the recorded executions of jobID.
func executionsOf(all []harness.Execution, jobID int64) []harness.Execution {
	var out []harness.Execution
	for _, x := range all {
		if x.JobID == jobID {
			out = append(out, x)
		}
	}
	return out
}

// Kill -9 a runner mid-job: its lease expires, the job is retried on a
// second runner within TTL + 5 s and completes once, and the lost attempt
// stays visible with the lost runner's name and times.
func TestFaultRunnerKilledMidJob(t *testing.T) {
	e := newFaultEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	first := e.startRunner("runner-a", 1)
	job := faultJob{name: "victim", stage: "build", phases: []int{40, 60}}
	sub := e.submit(ctx, []string{"build"}, []faultJob{job})
	runID, jobID := sub.GetRun().GetId(), sub.GetJobs()[0].GetId()
	e.client.WaitRun(ctx, t, runID, jobIs(job.name, func(j *gantryv1.Job) bool {
		return j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING && j.GetRunnerName() == "runner-a"
	}))
	waitLog(ctx, t, e.client, jobID, "line 40\n")
	// The second runner joins only now, so the first attempt is runner-a's.
	e.startRunner("runner-b", 1)

	killedAt := time.Now()
	first.Kill()
	retried := e.client.WaitRun(ctx, t, runID, jobIs(job.name, func(j *gantryv1.Job) bool {
		return j.GetEpoch() >= 2 && j.GetRunnerName() == "runner-b"
	}))
	took := time.Since(killedAt)
	t.Logf("job retried on runner-b %s after runner-a was killed (epoch %d, %s)", took.Round(time.Millisecond),
		harness.Job(retried, job.name).GetEpoch(), harness.Job(retried, job.name).GetStatus())
	if bound := faultLeaseTTL + 5*time.Second; took > bound {
		t.Errorf("job retried %s after the kill, want within TTL + 5s = %s", took.Round(time.Millisecond), bound)
	}
	harness.OpenGate(t, e.faultDir, "all")

	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	j := harness.Job(run, job.name)
	if j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || j.GetEpoch() != 2 || j.GetRunnerName() != "runner-b" {
		t.Errorf("job ended %s at epoch %d on %q (%s), want success at epoch 2 on runner-b", j.GetStatus(), j.GetEpoch(), j.GetRunnerName(), j.GetFailureMessage())
	}
	if err := harness.CheckNumberedLines(e.client.Log(ctx, t, jobID), job.lines(), false); err != nil {
		t.Errorf("log of the retried job: %v", err)
	}
	ex := executionsOf(harness.Executions(t, e.faultDir), jobID)
	if len(ex) != 2 || ex[0].Epoch != 1 || ex[0].BuildsDir != "builds-runner-a" || ex[1].Epoch != 2 || ex[1].BuildsDir != "builds-runner-b" {
		t.Errorf("executions %+v, want attempt 1 on runner-a then attempt 2 on runner-b", ex)
	}

	// The lost attempt stays visible, in GetRun and WatchRun alike.
	for source, j := range map[string]*gantryv1.Job{"GetRun": e.getJob(ctx, runID, jobID), "WatchRun": j} {
		if err := checkAttempts(j, killedAt); err != nil {
			t.Errorf("%s: %v", source, err)
		}
	}
}

// checkAttempts checks the attempts of TestFaultRunnerKilledMidJob's job:
// runner-a's, lost when its lease expired after it was killed, then
// runner-b's, successful.
func checkAttempts(j *gantryv1.Job, killedAt time.Time) error {
	as := j.GetAttempts()
	if len(as) != 2 {
		return fmt.Errorf("job shows %d attempts, want 2 (runner-a's lost one, runner-b's): %v", len(as), as)
	}
	first, second := as[0], as[1]
	var problems []string
	if first.GetEpoch() != 1 || first.GetRunnerName() != "runner-a" || !lost(first) ||
		first.GetFailureReason() != gantryv1.FailureReason_FAILURE_REASON_LEASE_EXPIRED {
		problems = append(problems, fmt.Sprintf("first attempt is %v, want epoch 1 on runner-a, lost, lease expired", first))
	}
	if first.GetLeasedAt() == nil || first.GetEndedAt() == nil || first.GetEndedAt().AsTime().Before(killedAt) {
		problems = append(problems, fmt.Sprintf("lost attempt times leased_at=%v ended_at=%v, want both, ended after the kill at %s",
			first.GetLeasedAt().AsTime(), first.GetEndedAt().AsTime(), killedAt.UTC().Format(time.RFC3339Nano)))
	}
	if second.GetEpoch() != 2 || second.GetRunnerName() != "runner-b" || second.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS {
		problems = append(problems, fmt.Sprintf("second attempt is %v, want epoch 2 on runner-b, success", second))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Cut the runner off while its job runs by stopping the coordinator for
// about 5 s and restarting it on the same data dir and address: the job
// finishes on the same runner with no requeue (one attempt, epoch 1), and
// its log arrives whole and exactly once: the lines printed before, during
// and after the outage.
func TestFaultCoordinatorOutageMidJob(t *testing.T) {
	for _, stop := range []struct {
		name string
		stop func(*harness.Process)
	}{
		{"kill9", (*harness.Process).Kill},
		{"sigterm", func(p *harness.Process) { p.Stop(30 * time.Second) }},
	} {
		t.Run(stop.name, func(t *testing.T) {
			e := newFaultEnv(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			runner := e.startRunner("steady", 1)
			job := faultJob{name: "steady-job", stage: "build", phases: []int{100, 100, 100}}
			sub := e.submit(ctx, []string{"build"}, []faultJob{job})
			runID, jobID := sub.GetRun().GetId(), sub.GetJobs()[0].GetId()
			waitLog(ctx, t, e.client, jobID, "line 100\n")

			stopped := time.Now()
			stop.stop(e.coord)
			t.Logf("coordinator stopped (%s) in %s", stop.name, time.Since(stopped).Round(time.Millisecond))
			// Phase 2 prints while the coordinator is away.
			harness.OpenGate(t, e.faultDir, fmt.Sprintf("%d-2", jobID))
			harness.WaitLogCount(t, runner, "coordinator stream ended; reconnecting", 1, 30*time.Second)
			time.Sleep(time.Until(stopped.Add(5 * time.Second))) // the outage itself
			e.startCoordinator()
			t.Logf("coordinator back %s after it was stopped", time.Since(stopped).Round(time.Millisecond))
			harness.WaitLogCount(t, runner, "connected to coordinator", 2, 60*time.Second)
			// Phase 3 prints after the runner is back.
			harness.OpenGate(t, e.faultDir, fmt.Sprintf("%d-3", jobID))

			run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
			j := harness.Job(run, job.name)
			if j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || j.GetEpoch() != 1 || j.GetRunnerName() != "steady" {
				t.Errorf("job ended %s at epoch %d on %q (%s: %s), want success at epoch 1 on steady",
					j.GetStatus(), j.GetEpoch(), j.GetRunnerName(), j.GetFailureReason(), j.GetFailureMessage())
			}
			if a := harness.Job(run, job.name).GetAttempts(); len(a) != 1 {
				t.Errorf("attempts %v, want exactly one (no requeue)", a)
			}
			if ex := executionsOf(harness.Executions(t, e.faultDir), jobID); len(ex) != 1 {
				t.Errorf("job executed %d times (%+v), want once", len(ex), ex)
			}
			if err := harness.CheckNumberedLines(e.client.Log(ctx, t, jobID), job.lines(), false); err != nil {
				t.Errorf("log across the outage: %v", err)
			}
		})
	}
}

// Kill -9 the coordinator while 50 jobs run on 5 runners and restart it:
// every job ends exactly once. A job may have executed twice only if its
// first attempt was recorded as lost.
func TestFaultCoordinatorKilledWith50JobsInFlight(t *testing.T) {
	const runners, perRunner, jobs = 5, 10, 50
	harness.Binaries(t)
	start := time.Now()
	e := newFaultEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := range runners {
		e.startRunner(fmt.Sprintf("fleet-%d", i+1), perRunner)
	}
	var defs []faultJob
	for i := range jobs {
		defs = append(defs, faultJob{name: fmt.Sprintf("job-%02d", i+1), stage: "build", phases: []int{20, 30}})
	}
	sub := e.submit(ctx, []string{"build"}, defs)
	runID := sub.GetRun().GetId()
	rec := e.client.RecordRun(t, runID)

	t.Logf("%s: 5 runners up, 50 jobs submitted", time.Since(start).Round(time.Millisecond))

	harness.WaitExecutions(ctx, t, e.faultDir, jobs)
	e.client.WaitRun(ctx, t, runID, func(m *gantryv1.WatchRunResponse) bool {
		for _, j := range m.GetJobs() {
			if j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_RUNNING {
				return false
			}
		}
		return true
	})
	t.Logf("%s: all 50 jobs running; kill -9 the coordinator", time.Since(start).Round(time.Millisecond))
	e.coord.Kill()
	// The jobs finish while the coordinator is down and report when it
	// is back.
	harness.OpenGate(t, e.faultDir, "all")
	e.startCoordinator()
	t.Logf("%s: coordinator restarted", time.Since(start).Round(time.Millisecond))

	select {
	case <-rec.Ended():
	case <-ctx.Done():
		t.Fatalf("run did not end: %v; last state %v", ctx.Err(), rec.Last())
	}
	t.Logf("%s: run ended", time.Since(start).Round(time.Millisecond))
	retried := 0
	for _, j := range rec.Last().GetJobs() {
		if j.GetEpoch() > 1 {
			retried++
		}
	}
	t.Logf("%d of 50 jobs were retried after a lost attempt", retried)
	checkEndedExactlyOnce(ctx, t, e, rec, defs, harness.Executions(t, e.faultDir))
	if st := rec.Last().GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		t.Errorf("run ended %s, want success", st)
	}
}

// checkEndedExactlyOnce checks a finished run of FaultScript jobs: each
// job reached one final state and kept it; every attempt but the last was
// lost, and only lost attempts were executed again; a job that succeeded
// has its whole log exactly once. It returns the jobs that failed because
// their runner was lost too often (the scheduler's retry budget), whose
// logs are only checked for duplicates.
func checkEndedExactlyOnce(ctx context.Context, t *testing.T, e *faultEnv, rec *harness.RunRecorder, defs []faultJob, ex []harness.Execution) (retriesExhausted []string) {
	t.Helper()
	got := e.getRun(ctx, rec.RunID)
	for _, def := range defs {
		i := slices.IndexFunc(got.GetJobs(), func(j *gantryv1.Job) bool { return j.GetName() == def.name })
		if i < 0 {
			t.Errorf("run %d has no job %s", rec.RunID, def.name)
			continue
		}
		j := got.GetJobs()[i]
		name := fmt.Sprintf("run %d job %s (%d)", rec.RunID, def.name, j.GetId())
		if err := harness.CheckEndedOnce(rec.History(j.GetId())); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Every attempt but the last one was lost; the last one ended as
		// the job did, or was lost too when the retry budget ran out.
		as := j.GetAttempts()
		for i, a := range as {
			if i < len(as)-1 && !lost(a) {
				t.Errorf("%s: attempt %d was followed by another attempt but is not shown as lost: %v", name, a.GetEpoch(), a)
			}
			if a.GetEndedAt() == nil {
				t.Errorf("%s: attempt %d has no end time: %v", name, a.GetEpoch(), a)
			}
		}
		if n := len(as); n > 0 && !lost(as[n-1]) && as[n-1].GetStatus() != j.GetStatus() {
			t.Errorf("%s: last attempt %v does not match the job's status %s", name, as[n-1], j.GetStatus())
		}
		if int64(len(as)) != j.GetEpoch() {
			t.Errorf("%s: epoch %d but %d attempts shown: %v", name, j.GetEpoch(), len(as), as)
		}
		mine := executionsOf(ex, j.GetId())
		epochs := map[int64]int{}
		for _, x := range mine {
			epochs[x.Epoch]++
			if x.Epoch < 1 || x.Epoch > j.GetEpoch() {
				t.Errorf("%s: executed an attempt %d the coordinator never leased (attempts %v)", name, x.Epoch, as)
			}
		}
		for ep, n := range epochs {
			if n > 1 {
				t.Errorf("%s: attempt %d executed %d times", name, ep, n)
			}
		}
		log := e.client.Log(ctx, t, j.GetId())
		switch {
		case j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_SUCCESS:
			if epochs[j.GetEpoch()] != 1 {
				t.Errorf("%s: succeeded at epoch %d, but that attempt was executed %d times (executions %+v)", name, j.GetEpoch(), epochs[j.GetEpoch()], mine)
			}
			if err := harness.CheckNumberedLines(log, def.lines(), false); err != nil {
				t.Errorf("%s: log: %v", name, err)
			}
		case j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_FAILED && len(as) > 0 && lost(as[len(as)-1]):
			retriesExhausted = append(retriesExhausted, name)
			t.Logf("%s: failed after %d lost attempts: %s", name, len(as), j.GetFailureMessage())
			if err := harness.CheckNumberedLines(log, def.lines(), true); err != nil {
				t.Errorf("%s: log of the last lost attempt: %v", name, err)
			}
		case j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_SKIPPED:
			if len(mine) > 0 || len(as) > 0 {
				t.Errorf("%s: skipped but executed %+v / attempts %v", name, mine, as)
			}
		default:
			t.Errorf("%s: ended %s (%s: %s), want success; attempts %v", name, j.GetStatus(), j.GetFailureReason(), j.GetFailureMessage(), as)
		}
	}
	return retriesExhausted
}

// A zombie runner: frozen with SIGSTOP past its lease TTL while it runs a
// job, it loses the job to another runner, which finishes it. Thawed, the
// zombie's calls about its attempt are refused with FailedPrecondition,
// and its late result (a failure, with more output) is not recorded: the
// job's outcome and log are the second attempt's.
func TestFaultZombieRunner(t *testing.T) {
	e := newFaultEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	zombie := e.startRunner("zombie", 1)
	job := faultJob{name: "contested", stage: "build", phases: []int{50, 50}, failEpoch: 1}
	// A job of the same run, on the other runner throughout, must not be
	// disturbed by the zombie.
	bystander := faultJob{name: "bystander", stage: "build", phases: []int{30, 30}}
	sub := e.submit(ctx, []string{"build"}, []faultJob{job, bystander})
	runID, jobID, bystanderID := sub.GetRun().GetId(), sub.GetJobs()[0].GetId(), sub.GetJobs()[1].GetId()
	e.client.WaitRun(ctx, t, runID, jobIs(job.name, func(j *gantryv1.Job) bool {
		return j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING && j.GetRunnerName() == "zombie"
	}))
	waitLog(ctx, t, e.client, jobID, "line 50\n")
	e.startRunner("rescuer", 2)
	waitLog(ctx, t, e.client, bystanderID, "line 30\n")

	// Only the runner freezes: the job's script runs in its own process
	// group and keeps running, waiting at its gate.
	if err := zombie.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = zombie.Signal(syscall.SIGCONT) })
	e.client.WaitRun(ctx, t, runID, jobIs(job.name, func(j *gantryv1.Job) bool {
		return j.GetEpoch() == 2 && j.GetRunnerName() == "rescuer" && j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING
	}))
	harness.OpenGate(t, e.faultDir, fmt.Sprintf("%d-2-2", jobID))
	run := e.client.WaitRun(ctx, t, runID, jobIs(job.name, func(j *gantryv1.Job) bool { return harness.Terminal(j.GetStatus()) }))
	if j := harness.Job(run, job.name); j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS {
		t.Fatalf("the rescuer's attempt ended %s (%s), want success", j.GetStatus(), j.GetFailureMessage())
	}

	// Now the zombie's attempt ends (exit 7, with more output) while the
	// zombie is still frozen; then it wakes up and tries to report.
	harness.OpenGate(t, e.faultDir, fmt.Sprintf("%d-1-2", jobID))
	harness.WaitFile(t, filepath.Join(e.faultDir, fmt.Sprintf("done-%d-1", jobID)), time.Minute, e.coord)
	if err := zombie.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	harness.WaitLogCount(t, zombie, "job attempt abandoned", 1, time.Minute)
	zlog := zombie.Log()
	refused := false
	for _, l := range strings.Split(zlog, "\n") {
		if strings.Contains(l, "FailedPrecondition") {
			refused = true
			t.Logf("zombie: %s", l)
		}
	}
	if !refused {
		t.Errorf("the zombie's log shows no FailedPrecondition refusal:\n%s", zombie.Tail(30))
	}
	if strings.Contains(zlog, "job finished") {
		t.Errorf("the zombie reports its stale attempt as finished:\n%s", zombie.Tail(30))
	}
	harness.OpenGate(t, e.faultDir, fmt.Sprintf("%d-2", bystanderID))
	e.client.WaitRun(ctx, t, runID, harness.RunEnded)

	got := e.getRun(ctx, runID)
	j := e.getJob(ctx, runID, jobID)
	if j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || j.GetEpoch() != 2 || j.GetRunnerName() != "rescuer" ||
		j.GetExitCode() != 0 || j.GetFailureReason() != gantryv1.FailureReason_FAILURE_REASON_UNSPECIFIED {
		t.Errorf("after the zombie woke: job %s epoch %d runner %q exit %d reason %s, want the rescuer's success (epoch 2, exit 0)",
			j.GetStatus(), j.GetEpoch(), j.GetRunnerName(), j.GetExitCode(), j.GetFailureReason())
	}
	if st := got.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		t.Errorf("run is %s after the zombie woke, want success", st)
	}
	log := e.client.Log(ctx, t, jobID)
	if err := harness.CheckNumberedLines(log, job.lines(), false); err != nil {
		t.Errorf("job log: %v", err)
	}
	late := fmt.Sprintf("\nlate output of attempt %d-1\n", jobID)
	if strings.Contains(log, late) {
		t.Errorf("the job's log holds the zombie's late output:\n%s", log)
	}
	as := j.GetAttempts()
	if len(as) != 2 {
		t.Fatalf("attempts %v, want 2", as)
	}
	if a := as[0]; a.GetRunnerName() != "zombie" || !lost(a) || a.GetFailureReason() != gantryv1.FailureReason_FAILURE_REASON_LEASE_EXPIRED {
		t.Errorf("the zombie's attempt is shown as %v, want lost with its lease expired (its late script failure must not be recorded)", a)
	}
	if a := as[1]; a.GetRunnerName() != "rescuer" || a.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS {
		t.Errorf("the rescuer's attempt is shown as %v, want success", a)
	}
	// The zombie's late bytes never reached its attempt's stored log
	// either (the log store keeps one file per attempt).
	if b, err := os.ReadFile(filepath.Join(e.dir, "data", "logs", fmt.Sprintf("%d-1.log", jobID))); err == nil && strings.Contains(string(b), late) {
		t.Errorf("the coordinator stored the zombie's late output for attempt 1")
	}
	b := e.getJob(ctx, runID, bystanderID)
	if b.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || b.GetEpoch() != 1 || b.GetRunnerName() != "rescuer" || len(b.GetAttempts()) != 1 {
		t.Errorf("bystander ended %s at epoch %d on %q with attempts %v, want success at epoch 1 on rescuer", b.GetStatus(), b.GetEpoch(), b.GetRunnerName(), b.GetAttempts())
	}
	if err := harness.CheckNumberedLines(e.client.Log(ctx, t, bystanderID), bystander.lines(), false); err != nil {
		t.Errorf("bystander log: %v", err)
	}
}

// A zombie must not disturb healthy runners: while a frozen runner's
// session is still registered (its lease expired, a slot free), the next
// stage's jobs are dispatched; leasing one to the zombie fails, and only
// the zombie's session may be closed for it. The healthy runner keeps its
// one session and runs the stage.
func TestFaultZombieDoesNotDisturbOthers(t *testing.T) {
	e := newFaultEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	zombie := e.startRunner("zombie", 1)
	defs := []faultJob{{name: "first", stage: "one", phases: []int{10, 10}}}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		defs = append(defs, faultJob{name: "next-" + n, stage: "two", phases: []int{20}})
	}
	sub := e.submit(ctx, []string{"one", "two"}, defs)
	runID := sub.GetRun().GetId()
	e.client.WaitRun(ctx, t, runID, jobIs("first", func(j *gantryv1.Job) bool {
		return j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING && j.GetRunnerName() == "zombie"
	}))
	healthy := e.startRunner("healthy", 6)
	if err := zombie.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = zombie.Signal(syscall.SIGCONT) })
	e.client.WaitRun(ctx, t, runID, jobIs("first", func(j *gantryv1.Job) bool {
		return j.GetEpoch() == 2 && j.GetRunnerName() == "healthy" && j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING
	}))
	// Stage two is queued when "first" ends on the healthy runner.
	harness.OpenGate(t, e.faultDir, "all")
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		t.Errorf("run ended %s, want success", st)
	}
	for _, def := range defs[1:] {
		j := harness.Job(run, def.name)
		if j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || j.GetRunnerName() != "healthy" {
			t.Errorf("job %s ended %s on %q, want success on healthy (attempts %v)", def.name, j.GetStatus(), j.GetRunnerName(), j.GetAttempts())
		}
	}
	if n := strings.Count(healthy.Log(), "connected to coordinator"); n != 1 {
		var closed []string
		for _, l := range strings.Split(e.coord.Log(), "\n") {
			if strings.Contains(l, "session expired; closing it") || strings.Contains(l, "requested lease not found") {
				closed = append(closed, l)
			}
		}
		t.Errorf("the healthy runner connected %d times, want once: the coordinator closed its session because of the zombie's:\n%s",
			n, strings.Join(closed, "\n"))
	}
}

// A randomized soak, bounded in time: runs of short jobs keep arriving
// while runners are killed (kill -9) and restarted at random. At the end
// every job has exactly one recorded end and, when it succeeded, every
// line of its log exactly once. The seed is logged; GANTRY_FAULT_SEED
// replays its choices (process timing still varies).
func TestFaultSoak(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GANTRY_FAULT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GANTRY_FAULT_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("soak seed %d (replay with GANTRY_FAULT_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }

	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(90*time.Second))
	defer cancel()
	e := newFaultEnv(t)
	names := []string{"soak-1", "soak-2", "soak-3"}
	for _, n := range names {
		e.startRunner(n, 4)
	}

	type submitted struct {
		rec  *harness.RunRecorder
		defs []faultJob
	}
	var runs []submitted
	submitRun := func() {
		var defs []faultJob
		for _, stage := range []string{"build", "test"} {
			for k := range 4 {
				defs = append(defs, faultJob{name: fmt.Sprintf("%s-%d", stage, k+1), stage: stage, phases: []int{60 + rng.IntN(240)}})
			}
		}
		sub := e.submit(ctx, []string{"build", "test"}, defs)
		runs = append(runs, submitted{rec: e.client.RecordRun(t, sub.GetRun().GetId()), defs: defs})
	}

	const maxRuns = 15
	chaosEnd := start.Add(50 * time.Second)
	nextSubmit, nextKill := time.Now(), time.Now().Add(between(time.Second, 3*time.Second))
	kills := 0
	allEnded := func() bool {
		for _, r := range runs {
			select {
			case <-r.rec.Ended():
			default:
				return false
			}
		}
		return true
	}
	for time.Now().Before(chaosEnd) && !(len(runs) == maxRuns && allEnded()) {
		next := nextKill
		if len(runs) < maxRuns && nextSubmit.Before(nextKill) {
			next = nextSubmit
		}
		time.Sleep(time.Until(next)) // the chaos schedule, not a synchronisation
		if len(runs) < maxRuns && !time.Now().Before(nextSubmit) {
			submitRun()
			nextSubmit = time.Now().Add(between(1500*time.Millisecond, 4*time.Second))
		}
		if !time.Now().Before(nextKill) {
			name := names[rng.IntN(len(names))]
			// Sometimes back before its lease expires, sometimes after.
			down := between(0, faultLeaseTTL+1500*time.Millisecond)
			t.Logf("%s: kill -9 %s, down for %s", time.Since(start).Round(time.Millisecond), name, down.Round(time.Millisecond))
			e.runners[name].Kill()
			kills++
			time.Sleep(down)
			e.startRunner(name, 4)
			nextKill = time.Now().Add(between(1500*time.Millisecond, 4*time.Second))
		}
	}
	t.Logf("chaos over after %s: %d runs submitted, %d runner kills", time.Since(start).Round(time.Millisecond), len(runs), kills)

	for _, r := range runs {
		select {
		case <-r.rec.Ended():
		case <-ctx.Done():
			t.Fatalf("run %d did not end within the soak's 90 s: last state %v", r.rec.RunID, r.rec.Last())
		}
	}
	t.Logf("all runs ended after %s", time.Since(start).Round(time.Millisecond))
	ex := harness.Executions(t, e.faultDir)
	jobs, retried := 0, 0
	for _, r := range runs {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		exhausted := checkEndedExactlyOnce(cctx, t, e, r.rec, r.defs, ex)
		ccancel()
		jobs += len(r.defs)
		for _, j := range r.rec.Last().GetJobs() {
			if j.GetEpoch() > 1 {
				retried++
			}
		}
		if len(exhausted) == 0 && r.rec.Last().GetRun().GetStatus() != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
			t.Errorf("run %d ended %s, want success", r.rec.RunID, r.rec.Last().GetRun().GetStatus())
		}
	}
	t.Logf("%d jobs checked, %d of them retried after a lost attempt, %d executions", jobs, retried, len(ex))
	if kills == 0 {
		t.Errorf("the soak killed no runner")
	}
}
