package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// errNotPending means the job left the queue before we could lease it.
var errNotPending = errors.New("job no longer pending")

// maxConcurrentLeases bounds the lease transactions one dispatch round
// has in flight; leases of one run are combined by the store anyway.
const maxConcurrentLeases = 256

// runnerGroup is the connected runners with one set of tags: a job either
// fits all of them or none.
type runnerGroup struct {
	tags     []string
	untagged bool
	sessions []*Session // with free capacity, in round-robin order
	next     int
}

// take returns a session of the group with a free slot reserved for
// jobID, or nil when the group is full.
func (g *runnerGroup) take(jobID int64) *Session {
	for len(g.sessions) > 0 {
		if g.next >= len(g.sessions) {
			g.next = 0
		}
		ss := g.sessions[g.next]
		if ss.reserve(jobID) {
			g.next++
			return ss
		}
		// Full (or closed): drop it from this round.
		g.sessions = slices.Delete(g.sessions, g.next, g.next+1)
	}
	return nil
}

// groups returns the sessions with free capacity, grouped by tags.
func (s *Scheduler) groups() []*runnerGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	byKey := map[string]*runnerGroup{}
	var out []*runnerGroup
	for _, ss := range s.sessions {
		if ss.free() <= 0 {
			continue
		}
		key := fmt.Sprintf("%t\x00%s", ss.Untagged, strings.Join(ss.Tags, "\x00"))
		g := byKey[key]
		if g == nil {
			g = &runnerGroup{tags: ss.Tags, untagged: ss.Untagged}
			byKey[key] = g
			out = append(out, g)
		}
		g.sessions = append(g.sessions, ss)
	}
	for _, g := range out {
		// Most free capacity first, so load spreads over the fleet.
		slices.SortStableFunc(g.sessions, func(a, b *Session) int { return b.free() - a.free() })
	}
	return out
}

// assignment is a queued job matched with the session that will run it.
type assignment struct {
	entry store.QueueEntry
	ss    *Session
}

// dispatch leases as many queued jobs as runners can take: it matches jobs
// to sessions in queue order, then starts their lease transactions without
// waiting for them, so a job that becomes ready while a round's
// transactions are in flight is leased at once by the next round.
func (s *Scheduler) dispatch(ctx context.Context) {
	entries := s.queued()
	if len(entries) == 0 {
		return
	}
	groups := s.groups()
	var plan []assignment
	s.mu.Lock()
	for _, e := range entries {
		if len(groups) == 0 {
			break
		}
		if free, _ := s.limitFreeLocked(e.RunID, e.Limits); !free {
			continue
		}
		for gi := 0; gi < len(groups); gi++ {
			g := groups[gi]
			if !model.CanRun(g.tags, g.untagged, e.Tags) {
				continue
			}
			if ss := g.take(e.JobID); ss != nil {
				plan = append(plan, assignment{e, ss})
				s.holdLocked(e.JobID, e.RunID, e.Limits)
				break
			}
			groups = slices.Delete(groups, gi, gi+1) // full
			gi--
		}
	}
	for _, a := range plan {
		s.leasing[a.entry.JobID] = struct{}{}
	}
	s.mu.Unlock()
	for i, a := range plan {
		select {
		case s.leaseSlots <- struct{}{}:
		case <-ctx.Done():
			for _, a := range plan[i:] {
				a.ss.release(a.entry.JobID)
				s.leased(a.entry, 0)
			}
			return
		}
		s.leases.Add(1)
		go func() {
			defer s.leases.Done()
			rev := s.leaseOne(ctx, a)
			<-s.leaseSlots
			s.leased(a.entry, rev)
		}()
	}
}

// leased ends a lease transaction: the job (which left the mirrored queue
// if the lease was committed) may be planned again, and if it was not
// leased, the session's slot is free again for another round.
// A job not leased stops counting against its limits; a leased one counts
// until its lease key goes.
func (s *Scheduler) leased(e store.QueueEntry, rev int64) {
	s.mu.Lock()
	delete(s.leasing, e.JobID)
	s.mu.Unlock()
	if rev == 0 {
		s.unhold(e.JobID, e.RunID, e.Limits)
		s.Kick()
	}
}

// dropStale removes a mirrored queue entry that the run, read at rev,
// shows is not pending any more. The watch removes such entries anyway;
// this only keeps dispatch from planning one again and again meanwhile.
func (s *Scheduler) dropStale(e store.QueueEntry, rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.queue[e.JobID]; ok && cur.Rev == e.Rev && e.Rev < rev {
		delete(s.queue, e.JobID)
		s.log.Warn("dropped a stale queue entry", zap.Int64("job_id", e.JobID), zap.Int64("entry_rev", e.Rev), zap.Int64("run_rev", rev))
	}
}

// leaseOne leases one planned job, undoing the reservation on failure.
// It returns the revision the job left the queue at, 0 if it did not.
func (s *Scheduler) leaseOne(ctx context.Context, a assignment) int64 {
	rev, err := s.lease(ctx, a.ss, a.entry)
	if err == nil {
		return rev
	}
	a.ss.release(a.entry.JobID)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		// The session's etcd lease lapsed (missed heartbeats): close it
		// so the runner reconnects with a fresh one.
		s.log.Warn("runner session expired; closing it", zap.String("runner_id", a.ss.Runner.ID))
		s.Detach(a.ss)
		return 0
	}
	if ctx.Err() == nil {
		s.log.Error("lease job", zap.Int64("job_id", a.entry.JobID), zap.String("runner_id", a.ss.Runner.ID), zap.Error(err))
	}
	return 0
}

// lease moves a pending job to leased on ss in one guarded transaction and
// sends the lease to the runner. It returns the lease's revision when the
// runner got it, 0 otherwise.
func (s *Scheduler) lease(ctx context.Context, ss *Session, e store.QueueEntry) (int64, error) {
	var epoch, notPendingAt int64
	var withArtifacts []int64 // jobs of the run that left artifacts
	var dotenv []jobEnv       // and those that left dotenv variables
	var pipelineVars []string
	var queuedAt time.Time
	now := s.now()
	rev, err := s.store.UpdateRun(ctx, e.RunID, func(rs *store.RunState) error {
		j := rs.Job(e.JobID)
		if j == nil || j.Status != model.JobPending || rs.Run.CancelRequested {
			notPendingAt = rs.Revision
			return errNotPending
		}
		j.Status = model.JobLeased
		j.Epoch++
		j.Artifact = nil // an earlier attempt's, if any
		if j.Reports != nil {
			j.Reports = nil
			rs.Run.Summarize(rs.Jobs)
		}
		withArtifacts, dotenv = withArtifacts[:0], dotenv[:0]
		for _, o := range rs.Jobs {
			if o.Artifact != nil {
				withArtifacts = append(withArtifacts, o.ID)
			}
			if o.Reports != nil && len(o.Reports.Dotenv) > 0 {
				dotenv = append(dotenv, jobEnv{o.ID, o.Reports.Dotenv})
			}
		}
		pipelineVars = rs.Run.VariableKeys
		j.RunnerID, j.RunnerName, j.SessionLease = ss.Runner.ID, ss.Runner.Name, ss.Lease
		j.LeasedAt = now
		j.FailureReason, j.FailureMessage = model.ReasonNone, ""
		j.Attempts = append(j.Attempts, model.Attempt{Epoch: j.Epoch, RunnerID: ss.Runner.ID, RunnerName: ss.Runner.Name, Status: model.JobLeased, LeasedAt: now})
		model.Advance(rs.Run, rs.Jobs, now)
		epoch, queuedAt = j.Epoch, j.QueuedAt
		if e.Seen.After(queuedAt) {
			queuedAt = e.Seen // the commit that queued it, as this coordinator learnt it
		}
		return nil
	})
	if errors.Is(err, errNotPending) {
		ss.release(e.JobID)
		s.dropStale(e, notPendingAt)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	spec, err := s.store.JobSpec(ctx, e.JobID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		ss.release(e.JobID)
		return 0, s.loseAttempt(ctx, e.RunID, e.JobID, epoch, model.ReasonUndeliveredLease, fmt.Sprintf("lease not delivered: %v", err))
	}
	js := &gantryv1.JobSpec{}
	if err == nil {
		err = proto.Unmarshal(spec, js)
	}
	if err != nil {
		// A spec we wrote ourselves is missing or does not decode: fail
		// the job rather than leasing it forever.
		ss.release(e.JobID)
		return 0, s.failAttempt(ctx, e.RunID, e.JobID, epoch, fmt.Sprintf("corrupt job spec: %v", err))
	}
	js.Variables = withDotenv(js, dotenv, pipelineVars)
	// Only the dependencies that left artifacts are downloaded.
	js.Dependencies = slices.DeleteFunc(js.Dependencies, func(d *gantryv1.ArtifactDependency) bool {
		return !slices.Contains(withArtifacts, d.GetJobId())
	})
	l := &gantryv1.JobLease{JobId: e.JobID, Epoch: epoch, Ttl: durationpb.New(s.cfg.LeaseTTL), Spec: js, QueuedAt: timestamppb.New(queuedAt)}
	s.log.Info("job leased", zap.Int64("run_id", e.RunID), zap.Int64("job_id", e.JobID), zap.Int64("epoch", epoch), zap.String("runner_id", ss.Runner.ID))
	if !ss.deliver(l) {
		ss.release(e.JobID)
		return 0, s.loseAttempt(ctx, e.RunID, e.JobID, epoch, model.ReasonUndeliveredLease, "lease not delivered: runner stream closed")
	}
	s.observeLease(ss, queuedAt)
	return rev, nil
}

// jobEnv is the dotenv variables a job of the run left.
type jobEnv struct {
	jobID int64
	vars  []model.EnvVar
}

// withDotenv returns the job's variables with the dotenv variables of the
// jobs whose artifacts it takes (its dependencies, in order), as GitLab
// passes them: above the job's own and the file's variables, below the
// run's (pipelineVars, whose keys they do not override). They are raw:
// never expanded.
func withDotenv(js *gantryv1.JobSpec, dotenv []jobEnv, pipelineVars []string) []*gantryv1.Variable {
	vars := js.GetVariables()
	if len(dotenv) == 0 {
		return vars
	}
	for _, d := range js.GetDependencies() {
		for _, e := range dotenv {
			if e.jobID != d.GetJobId() {
				continue
			}
			for _, v := range e.vars {
				if !slices.Contains(pipelineVars, v.Key) {
					vars = append(vars, &gantryv1.Variable{Key: v.Key, Value: v.Value, Raw: true})
				}
			}
		}
	}
	return vars
}
