package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Hello is what a runner announces when its stream opens.
type Hello struct {
	Tags        []string
	RunUntagged bool
	Capacity    int
	Version     string
	// Draining is set by a runner that was draining before it connected.
	Draining bool
	// Active are the attempts the runner is still executing.
	Active map[int64]int64 // job id -> epoch
}

// Session is one connected runner stream. Messages for the runner are read
// from Out by the stream's sender; the session tracks the attempts the
// runner holds so capacity and fencing checks need no etcd read.
type Session struct {
	Runner   *model.Runner
	Tags     []string
	Untagged bool
	Capacity int
	// Lease is the etcd lease the runner's held jobs are bound to.
	Lease int64

	out chan *gantryv1.ConnectResponse

	mu       sync.Mutex
	held     map[int64]int64 // job id -> epoch
	missing  map[int64]int   // held job id -> heartbeats in a row without it
	closed   bool
	draining bool
	lastSeen time.Time
	// freedAt is when a slot last became free (unix ns), for the
	// dispatch latency metric.
	freedAt atomic.Int64
}

// Out is the stream of messages to send to the runner. It is closed when
// the session is detached or replaced.
func (ss *Session) Out() <-chan *gantryv1.ConnectResponse { return ss.out }

// free returns how many more jobs the runner can take.
func (ss *Session) free() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed || ss.draining {
		return 0
	}
	return ss.Capacity - len(ss.held)
}

// holds reports the epoch the session holds job at, if any.
func (ss *Session) holds(jobID int64) (int64, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	e, ok := ss.held[jobID]
	return e, ok
}

// reserve claims a capacity slot for a job about to be leased.
func (ss *Session) reserve(jobID int64) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed || ss.draining || len(ss.held) >= ss.Capacity {
		return false
	}
	ss.held[jobID] = 0
	return true
}

func (ss *Session) release(jobID int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.held, jobID)
	delete(ss.missing, jobID)
	ss.freedAt.Store(time.Now().UnixNano())
}

// send queues a message for the runner; it fails once the session closed.
func (ss *Session) send(msg *gantryv1.ConnectResponse) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	select {
	case ss.out <- msg:
		return true
	default:
		// The runner is not reading; treat the session as broken.
		return false
	}
}

// deliver records the leased epoch and sends the lease.
func (ss *Session) deliver(l *gantryv1.JobLease) bool {
	ss.mu.Lock()
	if !ss.closed {
		ss.held[l.JobId] = l.Epoch
	}
	ss.mu.Unlock()
	return ss.send(&gantryv1.ConnectResponse{Msg: &gantryv1.ConnectResponse_Lease{Lease: l}})
}

// close marks the session closed and returns the leases that were queued
// for the runner but never taken by the sender.
func (ss *Session) close() []*gantryv1.JobLease {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil
	}
	ss.closed = true
	close(ss.out)
	var undelivered []*gantryv1.JobLease
	for m := range ss.out {
		if l := m.GetLease(); l != nil {
			undelivered = append(undelivered, l)
		}
	}
	return undelivered
}

// Attach starts a session for a runner that said hello, replacing any
// earlier session of the same runner. It re-attaches the attempts the
// runner still runs, cancels the ones that are no longer its own, and
// requeues the ones the coordinator leased to it that it does not have.
func (s *Scheduler) Attach(ctx context.Context, r *model.Runner, h Hello) (*Session, error) {
	if h.Capacity < 1 {
		h.Capacity = 1
	}
	ttl := int64((s.cfg.LeaseTTL + time.Second - 1) / time.Second)
	lease, err := s.store.GrantSessionLease(ctx, ttl)
	if err != nil {
		return nil, err
	}
	ss := &Session{
		Runner: r, Tags: h.Tags, Untagged: h.RunUntagged, Capacity: h.Capacity, Lease: lease,
		out:      make(chan *gantryv1.ConnectResponse, h.Capacity+64),
		held:     map[int64]int64{},
		missing:  map[int64]int{},
		lastSeen: s.now(),
		draining: h.Draining,
	}
	ss.freedAt.Store(ss.lastSeen.UnixNano())
	s.mu.Lock()
	old := s.sessions[r.ID]
	s.sessions[r.ID] = ss
	s.mu.Unlock()
	if old != nil {
		s.requeueUndelivered(ctx, old.close())
	}
	log := s.log.With(zap.String("runner_id", r.ID), zap.String("runner_name", r.Name))
	if err := s.reconcile(ctx, ss, h.Active, log); err != nil {
		s.Detach(ss)
		return nil, err
	}
	log.Info("runner attached", zap.Strings("tags", h.Tags), zap.Int("capacity", h.Capacity), zap.Int("active", len(h.Active)))
	s.Kick()
	return ss, nil
}

// reconcile aligns what the runner says it runs with what etcd says it
// holds.
func (s *Scheduler) reconcile(ctx context.Context, ss *Session, active map[int64]int64, log *zap.Logger) error {
	leases, _, err := s.store.Leases(ctx)
	if err != nil {
		return err
	}
	mine := map[int64]store.LeaseEntry{}
	for _, l := range leases {
		if l.RunnerID == ss.Runner.ID {
			mine[l.JobID] = l
		}
	}
	for jobID, epoch := range active {
		adopted, cancel, err := s.adopt(ctx, ss, jobID, epoch)
		if err != nil {
			return err
		}
		switch {
		case !adopted:
			log.Info("runner holds a stale attempt; telling it to stop", zap.Int64("job_id", jobID), zap.Int64("epoch", epoch))
			ss.send(cancelMsg(jobID, epoch, "this attempt is no longer current"))
		case cancel:
			ss.send(cancelMsg(jobID, epoch, "run canceled"))
		}
		delete(mine, jobID)
	}
	for jobID, l := range mine {
		log.Warn("runner reconnected without a job leased to it; requeueing", zap.Int64("job_id", jobID), zap.Int64("epoch", l.Epoch))
		if err := s.loseAttempt(ctx, l.RunID, jobID, l.Epoch, model.ReasonStaleRunnerSession,
			fmt.Sprintf("runner %s reconnected without this job", ss.Runner.Name)); err != nil {
			return err
		}
	}
	return nil
}

// adopt binds a still-current attempt to the new session. It reports
// whether the attempt is current and whether its run was canceled.
func (s *Scheduler) adopt(ctx context.Context, ss *Session, jobID, epoch int64) (adopted, canceled bool, err error) {
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return false, false, nil //nolint:nilerr // an unknown job is simply not adopted
	}
	_, err = s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j := rs.Job(jobID)
		adopted = j != nil && j.Status.Active() && j.Epoch == epoch && j.RunnerID == ss.Runner.ID
		if adopted {
			j.SessionLease = ss.Lease
			canceled = rs.Run.CancelRequested || j.CancelRequested
		}
		return nil
	})
	if err != nil {
		return false, false, err
	}
	if adopted {
		ss.mu.Lock()
		ss.held[jobID] = epoch
		ss.mu.Unlock()
	}
	return adopted, canceled, nil
}

// Detach ends a session whose stream closed. Its held jobs stay leased:
// the runner may reconnect within the lease TTL and re-attach them; if it
// does not, the session's etcd lease expires and they are requeued.
func (s *Scheduler) Detach(ss *Session) {
	s.mu.Lock()
	if s.sessions[ss.Runner.ID] == ss {
		delete(s.sessions, ss.Runner.ID)
	}
	s.mu.Unlock()
	s.requeueUndelivered(context.Background(), ss.close())
}

// missedHeartbeats is how many heartbeats in a row may leave out a job
// the coordinator leased to the runner before the attempt counts as lost:
// one may miss it because the lease crossed the heartbeat on the wire.
const missedHeartbeats = 2

// CloseSessions detaches every session (coordinator shutdown). Held jobs
// stay leased: their runners re-attach them elsewhere within the TTL.
func (s *Scheduler) CloseSessions() {
	s.mu.Lock()
	all := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		s.Detach(ss)
	}
}

// Heartbeat renews the session's lease and reconciles what the runner
// says it runs (active: job id -> epoch) with what it holds: an attempt
// the runner runs but no longer holds is canceled, and a held attempt the
// runner stopped mentioning is lost and requeued. A draining runner gets
// no new jobs (draining, once started, lasts as long as the session).
func (s *Scheduler) Heartbeat(ctx context.Context, ss *Session, draining bool, active map[int64]int64) error {
	ss.mu.Lock()
	ss.lastSeen = s.now()
	ss.draining = ss.draining || draining
	var unknown []int64
	lost := map[int64]int64{} // job id -> held epoch
	if active != nil {
		for jobID, epoch := range active {
			if e, ok := ss.held[jobID]; !ok || e != epoch {
				unknown = append(unknown, jobID)
			}
		}
		for jobID, epoch := range ss.held {
			if epoch == 0 { // being leased right now
				continue
			}
			if _, ok := active[jobID]; ok {
				delete(ss.missing, jobID)
				continue
			}
			ss.missing[jobID]++
			if ss.missing[jobID] >= missedHeartbeats {
				lost[jobID] = epoch
			}
		}
	}
	ss.mu.Unlock()
	if err := s.store.RenewSessionLease(ctx, ss.Lease); err != nil {
		return err
	}
	for _, jobID := range unknown {
		s.reconcileUnknown(ctx, ss, jobID, active[jobID])
	}
	for jobID, epoch := range lost {
		runID, err := s.store.RunIDForJob(ctx, jobID)
		if err != nil {
			continue
		}
		if err := s.loseAttempt(ctx, runID, jobID, epoch, model.ReasonStaleRunnerSession,
			fmt.Sprintf("runner %s stopped reporting this job in its heartbeats", ss.Runner.Name)); err != nil {
			return err
		}
		ss.mu.Lock()
		delete(ss.missing, jobID)
		ss.mu.Unlock()
	}
	return nil
}

// reconcileUnknown handles an attempt a runner reports that its session
// does not hold: it is adopted if it is still the runner's current attempt
// (the coordinator restarted, say), else the runner is told to stop it.
func (s *Scheduler) reconcileUnknown(ctx context.Context, ss *Session, jobID, epoch int64) {
	// Most often the runner's completion of this attempt crossed the
	// heartbeat: the attempt has ended, and there is nothing to do.
	if runID, err := s.store.RunIDForJob(ctx, jobID); err == nil {
		if rs, err := s.store.GetRun(ctx, runID); err == nil && attemptEnded(rs.Job(jobID), ss.Runner.ID, epoch) {
			return
		}
	}
	adopted, canceled, err := s.adopt(ctx, ss, jobID, epoch)
	switch {
	case err != nil:
		s.log.Warn("reconcile heartbeat", zap.Int64("job_id", jobID), zap.Error(err))
	case !adopted:
		s.log.Info("runner runs an attempt it does not hold; telling it to stop",
			zap.String("runner_id", ss.Runner.ID), zap.Int64("job_id", jobID), zap.Int64("epoch", epoch))
		ss.send(cancelMsg(jobID, epoch, "this attempt is no longer current"))
	case canceled:
		ss.send(cancelMsg(jobID, epoch, "run canceled"))
	}
}

// ErrNotConnected means the runner has no open stream to this coordinator.
var ErrNotConnected = errors.New("runner is not connected")

// Drain tells a connected runner to finish its jobs, take no new ones and
// exit. Draining is the runner's own state from then on: it tells the
// coordinator again when it reconnects, so a coordinator restart does not
// undo it.
func (s *Scheduler) Drain(runnerID, reason string) error {
	s.mu.Lock()
	ss := s.sessions[runnerID]
	s.mu.Unlock()
	if ss == nil {
		return fmt.Errorf("runner %s: %w", runnerID, ErrNotConnected)
	}
	ss.mu.Lock()
	ss.draining = true
	ss.mu.Unlock()
	if !ss.send(&gantryv1.ConnectResponse{Msg: &gantryv1.ConnectResponse_Drain{Drain: &gantryv1.Drain{Reason: reason}}}) {
		return fmt.Errorf("runner %s: %w", runnerID, ErrNotConnected)
	}
	s.log.Info("runner drain requested", zap.String("runner_id", runnerID), zap.String("reason", reason))
	return nil
}

// requeueUndelivered puts back jobs whose lease never reached the runner.
func (s *Scheduler) requeueUndelivered(ctx context.Context, leases []*gantryv1.JobLease) {
	for _, l := range leases {
		runID := l.GetSpec().GetRunId()
		if err := s.loseAttempt(ctx, runID, l.JobId, l.Epoch, model.ReasonUndeliveredLease, "lease not delivered: runner stream closed"); err != nil {
			s.log.Error("requeue undelivered lease", zap.Int64("job_id", l.JobId), zap.Error(err))
		}
	}
}

// ConnectedRunners returns the sessions of connected runners.
func (s *Scheduler) ConnectedRunners() map[string]RunnerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]RunnerState, len(s.sessions))
	for id, ss := range s.sessions {
		ss.mu.Lock()
		jobs := make([]int64, 0, len(ss.held))
		for j := range ss.held {
			jobs = append(jobs, j)
		}
		slices.Sort(jobs)
		out[id] = RunnerState{Draining: ss.draining, Tags: ss.Tags, Untagged: ss.Untagged, Capacity: ss.Capacity, Jobs: jobs, LastSeen: ss.lastSeen}
		ss.mu.Unlock()
	}
	return out
}

// RunnerState is a connected runner as the scheduler sees it.
type RunnerState struct {
	Draining bool
	Tags     []string
	Untagged bool
	Capacity int
	Jobs     []int64
	LastSeen time.Time
}

func cancelMsg(jobID, epoch int64, reason string) *gantryv1.ConnectResponse {
	return &gantryv1.ConnectResponse{Msg: &gantryv1.ConnectResponse_Cancel{Cancel: &gantryv1.CancelJob{JobId: jobID, Epoch: epoch, Reason: reason}}}
}

// attemptEnded reports whether runnerID reported the end of its attempt
// epoch of j (a lost attempt has not ended on the runner).
func attemptEnded(j *model.Job, runnerID string, epoch int64) bool {
	if j == nil {
		return false
	}
	for _, a := range j.Attempts {
		if a.Epoch == epoch && a.RunnerID == runnerID && a.Status.Terminal() && a.Status != model.JobLost {
			return true
		}
	}
	return false
}
