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
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// errNotPending means the job left the queue before we could lease it.
var errNotPending = errors.New("job no longer pending")

// liveSessions returns the sessions with free capacity.
func (s *Scheduler) liveSessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		if ss.free() > 0 {
			out = append(out, ss)
		}
	}
	return out
}

// dispatch leases as many queued jobs as runners can take.
func (s *Scheduler) dispatch(ctx context.Context) {
	entries := s.queued()
	if len(entries) == 0 {
		return
	}
	sessions := s.liveSessions()
	for _, e := range entries {
		if len(sessions) == 0 || ctx.Err() != nil {
			return
		}
		ss := pick(sessions, e.Tags)
		if ss == nil || !ss.reserve(e.JobID) {
			continue
		}
		if err := s.lease(ctx, ss, e); err != nil {
			ss.release(e.JobID)
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				// The session's etcd lease lapsed (missed heartbeats):
				// close it so the runner reconnects with a fresh one.
				s.log.Warn("runner session expired; closing it", zap.String("runner_id", ss.Runner.ID))
				s.Detach(ss)
				sessions = slices.DeleteFunc(sessions, func(o *Session) bool { return o == ss })
				continue
			}
			if ctx.Err() == nil {
				s.log.Error("lease job", zap.Int64("job_id", e.JobID), zap.String("runner_id", ss.Runner.ID), zap.Error(err))
			}
		}
	}
}

// pick returns the session with the most free capacity that can run a job
// with tags, or nil.
func pick(sessions []*Session, tags []string) *Session {
	var best *Session
	bestFree := 0
	for _, ss := range sessions {
		if !model.CanRun(ss.Tags, ss.Untagged, tags) {
			continue
		}
		if f := ss.free(); f > bestFree {
			best, bestFree = ss, f
		}
	}
	return best
}

// lease moves a pending job to leased on ss in one guarded transaction and
// sends the lease to the runner.
func (s *Scheduler) lease(ctx context.Context, ss *Session, e store.QueueEntry) error {
	var spec []byte
	var epoch int64
	var queuedAt time.Time
	now := s.now()
	_, err := s.store.UpdateRun(ctx, e.RunID, func(rs *store.RunState) error {
		j := rs.Job(e.JobID)
		if j == nil || j.Status != model.JobPending || rs.Run.CancelRequested {
			return errNotPending
		}
		j.Status = model.JobLeased
		j.Epoch++
		j.RunnerID, j.RunnerName, j.SessionLease = ss.Runner.ID, ss.Runner.Name, ss.Lease
		j.LeasedAt = now
		j.FailureReason, j.FailureMessage = model.ReasonNone, ""
		j.Attempts = append(j.Attempts, model.Attempt{Epoch: j.Epoch, RunnerID: ss.Runner.ID, RunnerName: ss.Runner.Name, Status: model.JobLeased, LeasedAt: now})
		model.Advance(rs.Run, rs.Jobs, now)
		spec, epoch, queuedAt = j.Spec, j.Epoch, j.QueuedAt
		return nil
	})
	if errors.Is(err, errNotPending) {
		ss.release(e.JobID)
		return nil
	}
	if err != nil {
		return err
	}
	js := &gantryv1.JobSpec{}
	if err := protojson.Unmarshal(spec, js); err != nil {
		// A spec we wrote ourselves does not decode: fail the job rather
		// than leasing it forever.
		ss.release(e.JobID)
		return s.failAttempt(ctx, e.RunID, e.JobID, epoch, fmt.Sprintf("corrupt job spec: %v", err))
	}
	l := &gantryv1.JobLease{JobId: e.JobID, Epoch: epoch, Ttl: durationpb.New(s.cfg.LeaseTTL), Spec: js, QueuedAt: timestamppb.New(queuedAt)}
	s.log.Info("job leased", zap.Int64("run_id", e.RunID), zap.Int64("job_id", e.JobID), zap.Int64("epoch", epoch), zap.String("runner_id", ss.Runner.ID))
	if !ss.deliver(l) {
		ss.release(e.JobID)
		return s.loseAttempt(ctx, e.RunID, e.JobID, epoch, model.ReasonUndeliveredLease, "lease not delivered: runner stream closed")
	}
	return nil
}

// PendingReason explains in words why a queued job with tags waits.
func (s *Scheduler) PendingReason(tags []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	matching, free := 0, 0
	for _, ss := range s.sessions {
		if model.CanRun(ss.Tags, ss.Untagged, tags) {
			matching++
			if ss.free() > 0 {
				free++
			}
		}
	}
	switch {
	case matching == 0 && len(tags) == 0:
		return "no connected runner accepts untagged jobs"
	case matching == 0:
		return fmt.Sprintf("no connected runner has all the tags [%s]", strings.Join(tags, ", "))
	case free == 0:
		return fmt.Sprintf("all %d matching runners are busy", matching)
	default:
		return "waiting to be dispatched"
	}
}
