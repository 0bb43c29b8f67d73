package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/gantry-ci/gantry/coordinator/etcdserver/etcdtest"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/pkg/pipeline"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

type fixture struct {
	st    *store.Store
	sched *scheduler.Scheduler
	ctx   context.Context
}

func newFixture(t *testing.T, cfg scheduler.Config) *fixture {
	st := store.New(etcdtest.New(t), "", zaptest.NewLogger(t))
	sched := scheduler.New(st, cfg, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := sched.Run(ctx); err != nil {
			t.Errorf("scheduler: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fixture{st: st, sched: sched, ctx: ctx}
}

// submit creates a run whose jobs are in the given stages, with tags.
func (f *fixture) submit(t *testing.T, tags []string, stages ...int) *store.RunState {
	t.Helper()
	rs, err := f.st.CreateRun(f.ctx, len(stages), func(runID int64, ids []int64) (*model.Run, []*model.Job, error) {
		run := &model.Run{ID: runID, Status: model.RunPending, JobIDs: ids}
		var jobs []*model.Job
		for i, id := range ids {
			jobs = append(jobs, &model.Job{ID: id, RunID: runID, Name: "job", StageIndex: stages[i], Status: model.JobCreated, Tags: tags,
				Spec: specBytes(runID, id)})
		}
		model.Advance(run, jobs, time.Now())
		return run, jobs, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// specBytes is the stored form of a minimal job spec.
func specBytes(runID, jobID int64) []byte {
	b, err := proto.Marshal(&gantryv1.JobSpec{RunId: runID, JobId: jobID})
	if err != nil {
		panic(err)
	}
	return b
}

func (f *fixture) attach(t *testing.T, id string, capacity int, active map[int64]int64) *scheduler.Session {
	t.Helper()
	ss, err := f.sched.Attach(f.ctx, &model.Runner{ID: id, Name: "runner-" + id}, scheduler.Hello{RunUntagged: true, Capacity: capacity, Tags: []string{"docker"}, Active: active})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// next waits for the next message to a session.
func next(t *testing.T, ss *scheduler.Session) *gantryv1.ConnectResponse {
	t.Helper()
	select {
	case m, ok := <-ss.Out():
		if !ok {
			t.Fatal("session closed")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message for the runner")
	}
	return nil
}

// heartbeat renews a session like a connected runner does, until the
// test ends.
func (f *fixture) heartbeat(t *testing.T, ss *scheduler.Session) {
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = f.sched.Heartbeat(ctx, ss, false, nil)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (f *fixture) job(t *testing.T, runID, jobID int64) *model.Job {
	t.Helper()
	rs, err := f.st.GetRun(f.ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	return rs.Job(jobID)
}

func TestDispatchRespectsCapacityAndStages(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	rs := f.submit(t, nil, 0, 0, 1)
	ss := f.attach(t, "a", 1, nil)

	first := next(t, ss).GetLease()
	if first == nil || first.Epoch != 1 {
		t.Fatalf("first message %v, want a lease with epoch 1", first)
	}
	select {
	case m := <-ss.Out():
		t.Fatalf("runner with capacity 1 got a second lease: %v", m)
	default:
	}
	if err := f.sched.StartJob(f.ctx, "a", first.JobId, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", first.JobId, 1, scheduler.Completion{Status: model.JobSuccess}); err != nil {
		t.Fatal(err)
	}
	// A resent completion is accepted without change.
	if err := f.sched.CompleteJob(f.ctx, "a", first.JobId, 1, scheduler.Completion{Status: model.JobSuccess}); err != nil {
		t.Fatalf("resent completion: %v", err)
	}
	second := next(t, ss).GetLease()
	if second.JobId == first.JobId || second.JobId == rs.Jobs[2].ID {
		t.Fatalf("second lease for job %d; want the other stage-0 job", second.JobId)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", second.JobId, 1, scheduler.Completion{Status: model.JobSuccess}); err != nil {
		t.Fatal(err)
	}
	third := next(t, ss).GetLease()
	if third.JobId != rs.Jobs[2].ID {
		t.Fatalf("third lease for job %d, want the stage-1 job %d", third.JobId, rs.Jobs[2].ID)
	}
}

func TestFencing(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	f.submit(t, nil, 0)
	ss := f.attach(t, "a", 1, nil)
	l := next(t, ss).GetLease()
	if err := f.sched.CheckFence(f.ctx, "a", l.JobId, l.Epoch); err != nil {
		t.Fatalf("current holder refused: %v", err)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", l.JobId, l.Epoch+1, scheduler.Completion{Status: model.JobSuccess}); !errors.Is(err, scheduler.ErrStaleEpoch) {
		t.Fatalf("wrong epoch: %v, want ErrStaleEpoch", err)
	}
	if err := f.sched.CompleteJob(f.ctx, "b", l.JobId, l.Epoch, scheduler.Completion{Status: model.JobSuccess}); !errors.Is(err, scheduler.ErrNotHeld) {
		t.Fatalf("other runner: %v, want ErrNotHeld", err)
	}
	if err := f.sched.CheckFence(f.ctx, "b", l.JobId, l.Epoch); !errors.Is(err, scheduler.ErrNotHeld) {
		t.Fatalf("other runner's fence: %v, want ErrNotHeld", err)
	}
}

// A runner that stops heartbeating loses its lease when its session's etcd
// lease expires; the job goes to another runner with a new epoch, and the
// old holder is fenced off.
func TestExpiredLeaseIsRetriedElsewhere(t *testing.T) {
	f := newFixture(t, scheduler.Config{LeaseTTL: 2 * time.Second, HeartbeatInterval: time.Second})
	rs := f.submit(t, []string{"docker"}, 0)
	a := f.attach(t, "a", 1, nil)
	l := next(t, a).GetLease()
	f.sched.Detach(a) // stream gone, no heartbeats

	b := f.attach(t, "b", 1, nil)
	f.heartbeat(t, b)
	retry := next(t, b).GetLease() // arrives once a's session lease expired
	if retry.JobId != l.JobId || retry.Epoch != 2 {
		t.Fatalf("retry lease %v, want job %d epoch 2", retry, l.JobId)
	}
	j := f.job(t, rs.Run.ID, l.JobId)
	if len(j.Attempts) != 2 || j.Attempts[0].FailureReason != model.ReasonLeaseExpired || j.Attempts[0].RunnerName != "runner-a" {
		t.Fatalf("attempts %+v: want the first marked lease_expired on runner-a", j.Attempts)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", l.JobId, 1, scheduler.Completion{Status: model.JobSuccess}); !errors.Is(err, scheduler.ErrStaleEpoch) {
		t.Fatalf("zombie completion: %v, want ErrStaleEpoch", err)
	}
	if err := f.sched.CompleteJob(f.ctx, "b", l.JobId, 2, scheduler.Completion{Status: model.JobFailed, FailureReason: model.ReasonScriptFailure}); err != nil {
		t.Fatal(err)
	}
	if got := f.job(t, rs.Run.ID, l.JobId); got.Status != model.JobFailed || got.RunnerID != "b" {
		t.Fatalf("final job %s by %s", got.Status, got.RunnerID)
	}
}

// A runner that reconnects with its job keeps it: the lease key moves to
// the new session, so the old session's expiry does not requeue it.
func TestReattachKeepsTheJob(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	rs := f.submit(t, nil, 0)
	a := f.attach(t, "a", 1, nil)
	l := next(t, a).GetLease()
	f.sched.Detach(a)
	a2 := f.attach(t, "a", 1, map[int64]int64{l.JobId: l.Epoch})
	if err := f.st.RevokeSessionLease(f.ctx, a.Lease); err != nil {
		t.Fatal(err)
	}
	leases, _, err := f.st.Leases(f.ctx)
	if err != nil || len(leases) != 1 || leases[0].Epoch != 1 {
		t.Fatalf("leases after old session expired: %+v %v", leases, err)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", l.JobId, l.Epoch, scheduler.Completion{Status: model.JobSuccess}); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, rs.Run.ID, l.JobId); j.Status != model.JobSuccess || j.Epoch != 1 {
		t.Fatalf("job %s epoch %d", j.Status, j.Epoch)
	}
	_ = a2
}

// A runner that comes back without the job it was leased (it crashed)
// gets nothing stale, and the job is requeued at once.
func TestReconnectWithoutJobRequeues(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	f.submit(t, nil, 0)
	a := f.attach(t, "a", 1, nil)
	l := next(t, a).GetLease()
	f.sched.Detach(a)
	a2 := f.attach(t, "a", 1, nil)
	retry := next(t, a2).GetLease()
	if retry.JobId != l.JobId || retry.Epoch != 2 {
		t.Fatalf("got %v, want job %d again at epoch 2", retry, l.JobId)
	}
}

// A runner announcing an attempt that is not current is told to stop it.
func TestStaleAttemptIsCanceledOnHello(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	f.submit(t, nil, 0)
	a := f.attach(t, "a", 1, nil)
	l := next(t, a).GetLease()
	f.sched.Detach(a)
	b := f.attach(t, "b", 1, map[int64]int64{l.JobId: l.Epoch})
	c := next(t, b).GetCancel()
	if c == nil || c.JobId != l.JobId {
		t.Fatalf("runner b was not told to stop the attempt it does not hold: %v", c)
	}
}

func TestCancelRunReachesTheRunner(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	rs := f.submit(t, nil, 0, 1)
	a := f.attach(t, "a", 1, nil)
	l := next(t, a).GetLease()
	run, err := f.sched.CancelRun(f.ctx, rs.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !run.CancelRequested || run.Status.Terminal() {
		t.Fatalf("run after cancel: %+v", run)
	}
	c := next(t, a).GetCancel()
	if c == nil || c.JobId != l.JobId {
		t.Fatalf("no cancel for the running job: %v", c)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", l.JobId, l.Epoch, scheduler.Completion{Status: model.JobCanceled, FailureReason: model.ReasonCanceled}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.st.GetRun(f.ctx, rs.Run.ID)
	if got.Run.Status != model.RunCanceled || got.Jobs[1].Status != model.JobCanceled {
		t.Fatalf("run %s, second job %s", got.Run.Status, got.Jobs[1].Status)
	}
}

func TestPendingReason(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	if got := f.sched.PendingReason([]string{"gpu", "linux"}); got != "no online runner has all the tags [gpu, linux]" {
		t.Fatalf("reason %q", got)
	}
	ss := f.attach(t, "a", 1, nil)
	if got := f.sched.PendingReason([]string{"docker"}); got != "waiting to be dispatched" {
		t.Fatalf("reason %q", got)
	}
	rs := f.submit(t, []string{"docker"}, 0, 1)
	if l := next(t, ss).GetLease(); l == nil {
		t.Fatal("no lease")
	}
	if got := f.sched.PendingReason([]string{"docker"}); got != "all 1 matching runners are busy" {
		t.Fatalf("reason %q", got)
	}
	pending, err := f.sched.PendingJobs(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Job.ID != rs.Jobs[1].ID || pending[0].Reason != "waiting for the jobs of earlier stages to finish" {
		t.Fatalf("pending jobs %+v", pending)
	}
	if err := f.sched.Drain("a", "test"); err != nil {
		t.Fatal(err)
	}
	if got := f.sched.PendingReason([]string{"docker"}); got != "all 1 matching runners are draining" {
		t.Fatalf("reason %q", got)
	}
}

// A run of many jobs does not starve a small run submitted after it: the
// dispatcher takes turns between runs.
func TestDispatchIsFairAcrossRuns(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	big := f.submit(t, nil, make([]int, 30)...)
	small := f.submit(t, nil, 0)
	ss := f.attach(t, "a", 2, nil)
	got := map[int64]bool{}
	for range 2 {
		got[next(t, ss).GetLease().GetJobId()] = true
	}
	if !got[small.Jobs[0].ID] || !got[big.Jobs[0].ID] {
		t.Fatalf("first two leases went to jobs %v; want the big run's first job and the small run's job", got)
	}
}

// A drained runner gets no new leases and is told to drain.
func TestDrainStopsLeasing(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	ss := f.attach(t, "a", 2, nil)
	if err := f.sched.Drain("a", "operator"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ss); m.GetDrain() == nil {
		t.Fatalf("first message %v, want a drain", m)
	}
	// Heartbeats from the runner saying it is not (yet) draining do not
	// undo the drain.
	if err := f.sched.Heartbeat(f.ctx, ss, false, nil); err != nil {
		t.Fatal(err)
	}
	f.submit(t, nil, 0)
	if err := f.sched.Drain("nobody", "operator"); !errors.Is(err, scheduler.ErrNotConnected) {
		t.Fatalf("drain of an unknown runner: %v", err)
	}
	// The job waits for a runner that is not draining, and the drained
	// one never got it.
	other := f.attach(t, "b", 1, nil)
	if next(t, other).GetLease() == nil {
		t.Fatal("no lease for the other runner")
	}
	select {
	case m := <-ss.Out():
		t.Fatalf("draining runner got %v", m)
	default:
	}
}

// Heartbeats reconcile: a held job the runner stops mentioning is lost and
// requeued; an attempt the runner runs but does not hold is stopped.
func TestHeartbeatReconciles(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	rs := f.submit(t, nil, 0)
	jobID := rs.Jobs[0].ID
	ss := f.attach(t, "a", 1, nil)
	l := next(t, ss).GetLease()
	if l == nil || l.JobId != jobID {
		t.Fatalf("lease %v", l)
	}
	// The runner still runs it: nothing happens.
	if err := f.sched.Heartbeat(f.ctx, ss, false, map[int64]int64{jobID: 1}); err != nil {
		t.Fatal(err)
	}
	// One heartbeat without it may have crossed the lease; two may not.
	for range 2 {
		if err := f.sched.Heartbeat(f.ctx, ss, false, map[int64]int64{}); err != nil {
			t.Fatal(err)
		}
	}
	j := f.job(t, rs.Run.ID, jobID)
	if len(j.Attempts) == 0 || j.Attempts[0].FailureReason != model.ReasonStaleRunnerSession {
		t.Fatalf("job %s attempts %+v; want the first attempt lost", j.Status, j.Attempts)
	}
	// The job comes back (as a retry) with epoch 2.
	l2 := next(t, ss).GetLease()
	if l2 == nil || l2.JobId != jobID || l2.Epoch != 2 {
		t.Fatalf("second lease %v, want job %d epoch 2", l2, jobID)
	}
	// A runner that reports the old epoch is told to stop it.
	if err := f.sched.Heartbeat(f.ctx, ss, false, map[int64]int64{jobID: 1}); err != nil {
		t.Fatal(err)
	}
	c := next(t, ss).GetCancel()
	if c == nil || c.JobId != jobID || c.Epoch != 1 {
		t.Fatalf("want a cancel of epoch 1, got %v", c)
	}
}

// `retry:` retries script failures it covers, up to max, and sets the
// budget for lost runners.
func TestRetryFromPipeline(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	rs, err := f.st.CreateRun(f.ctx, 1, func(runID int64, ids []int64) (*model.Run, []*model.Job, error) {
		run := &model.Run{ID: runID, Status: model.RunPending, JobIDs: ids}
		jobs := []*model.Job{{ID: ids[0], RunID: runID, Name: "flaky", Status: model.JobCreated,
			Retry: &pipeline.Retry{Max: 1, When: []string{"script_failure"}, ExitCodes: []int{3}},
			Spec:  specBytes(runID, ids[0])}}
		model.Advance(run, jobs, time.Now())
		return run, jobs, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	jobID := rs.Jobs[0].ID
	ss := f.attach(t, "a", 1, nil)
	l := next(t, ss).GetLease()
	fail := scheduler.Completion{Status: model.JobFailed, FailureReason: model.ReasonScriptFailure, ExitCode: 3}
	if err := f.sched.CompleteJob(f.ctx, "a", jobID, l.Epoch, fail); err != nil {
		t.Fatal(err)
	}
	// A resend of the same completion is accepted.
	if err := f.sched.CompleteJob(f.ctx, "a", jobID, l.Epoch, fail); err != nil {
		t.Fatalf("resent completion: %v", err)
	}
	l2 := next(t, ss).GetLease()
	if l2 == nil || l2.Epoch != 2 {
		t.Fatalf("want a retry with epoch 2, got %v", l2)
	}
	if err := f.sched.CompleteJob(f.ctx, "a", jobID, 2, fail); err != nil {
		t.Fatal(err)
	}
	j := f.job(t, rs.Run.ID, jobID)
	if j.Status != model.JobFailed || len(j.Attempts) != 2 {
		t.Fatalf("after max retries: %s with %d attempts, want failed after 2", j.Status, len(j.Attempts))
	}
	if !(&model.Job{Retry: &pipeline.Retry{Max: 2}}).RetriesFailure(model.ReasonTimeout, 0, 1) {
		t.Error("retry without when must retry a timeout")
	}
	if (&model.Job{Retry: &pipeline.Retry{Max: 2, ExitCodes: []int{3}}}).RetriesFailure(model.ReasonScriptFailure, 1, 0) {
		t.Error("exit_codes must limit script failure retries")
	}
	if got := (&model.Job{Retry: &pipeline.Retry{Max: 0}}).SystemRetries(2); got != 0 {
		t.Errorf("retry: 0 gives %d system retries, want 0", got)
	}
	if got := (&model.Job{Retry: &pipeline.Retry{Max: 1, When: []string{"script_failure"}}}).SystemRetries(2); got != 2 {
		t.Errorf("retry for script failures only gives %d system retries, want the default 2", got)
	}
}
