package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
)

// Completion is a runner's report of how an attempt ended.
type Completion struct {
	Status         model.JobStatus // success, failed or canceled
	FailureReason  model.FailureReason
	FailureMessage string
	ExitCode       int
	LogSize        int64
	// Coverage is what the job's `coverage:` regex found, if anything.
	Coverage *float64
}

// fenced returns the job if runnerID holds its attempt epoch.
func fenced(rs *store.RunState, jobID int64, runnerID string, epoch int64) (*model.Job, error) {
	j := rs.Job(jobID)
	if j == nil {
		return nil, fmt.Errorf("job %d: %w", jobID, store.ErrNotFound)
	}
	if j.Epoch != epoch {
		return nil, fmt.Errorf("job %d: attempt %d is not current (current is %d): %w", jobID, epoch, j.Epoch, ErrStaleEpoch)
	}
	if j.RunnerID != runnerID {
		return nil, fmt.Errorf("job %d attempt %d: %w", jobID, epoch, ErrNotHeld)
	}
	return j, nil
}

// CheckFence verifies that runnerID holds attempt epoch of jobID and that
// the attempt has not ended. It answers from the session when it can.
func (s *Scheduler) CheckFence(ctx context.Context, runnerID string, jobID, epoch int64) error {
	s.mu.Lock()
	ss := s.sessions[runnerID]
	s.mu.Unlock()
	if ss != nil {
		if e, ok := ss.holds(jobID); ok && e == epoch {
			return nil
		}
	}
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return err
	}
	rs, err := s.store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	j, err := fenced(rs, jobID, runnerID, epoch)
	if err != nil {
		return err
	}
	if !j.Status.Active() {
		return fmt.Errorf("job %d attempt %d already ended as %s: %w", jobID, epoch, j.Status, ErrStaleEpoch)
	}
	return nil
}

// StartJob records that the runner began an attempt.
func (s *Scheduler) StartJob(ctx context.Context, runnerID string, jobID, epoch int64) error {
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return err
	}
	now := s.now()
	_, err = s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j, err := fenced(rs, jobID, runnerID, epoch)
		if err != nil {
			return err
		}
		switch j.Status {
		case model.JobRunning:
			return nil // a resend
		case model.JobLeased:
			j.Status, j.StartedAt = model.JobRunning, now
			setAttempt(j, model.JobRunning, model.ReasonNone, "", now)
			model.Advance(rs.Run, rs.Jobs, now)
			return nil
		default:
			return fmt.Errorf("job %d attempt %d already ended as %s: %w", jobID, epoch, j.Status, ErrStaleEpoch)
		}
	})
	return err
}

// CompleteJob records how an attempt ended. A resend of the same
// completion succeeds without changing anything.
func (s *Scheduler) CompleteJob(ctx context.Context, runnerID string, jobID, epoch int64, c Completion) error {
	if !c.Status.Terminal() || c.Status == model.JobSkipped || c.Status == model.JobLost {
		return fmt.Errorf("complete job %d with status %q: %w", jobID, c.Status, ErrInvalidTransition)
	}
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return err
	}
	now := s.now()
	var runStatus model.RunStatus
	var retrying, ended bool
	var started time.Time
	var cancel []model.Job
	_, err = s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		runStatus, retrying, ended, cancel = rs.Run.Status, false, false, nil
		if resentCompletion(rs.Job(jobID), runnerID, epoch, c.Status) {
			return nil
		}
		j, err := fenced(rs, jobID, runnerID, epoch)
		if err != nil {
			return err
		}
		if j.Status.Terminal() {
			if j.Status == c.Status {
				return nil
			}
			return fmt.Errorf("job %d attempt %d already ended as %s: %w", jobID, epoch, j.Status, ErrStaleEpoch)
		}
		if c.Status == model.JobFailed && !rs.Run.CancelRequested && j.RetriesFailure(c.FailureReason, c.ExitCode, retriedFailures(j)) {
			// `retry:` asks for another attempt: requeue at the front.
			setAttempt(j, model.JobFailed, c.FailureReason, c.FailureMessage, now)
			j.Status, j.QueuedAt = model.JobPending, now
			j.RunnerID, j.RunnerName, j.SessionLease = "", "", 0
			j.ExitCode, j.LogSize = c.ExitCode, c.LogSize
			retrying = true
			model.Advance(rs.Run, rs.Jobs, now)
			runStatus = rs.Run.Status
			return nil
		}
		retrying, ended = false, true
		j.Status, j.FinishedAt = c.Status, now
		j.FailureReason, j.FailureMessage, j.ExitCode, j.LogSize = c.FailureReason, c.FailureMessage, c.ExitCode, c.LogSize
		if j.Coverage != nil || c.Coverage != nil {
			j.Coverage = c.Coverage
			rs.Run.Summarize(rs.Jobs) // the run's mean coverage moves
		}
		if j.StartedAt.IsZero() {
			j.StartedAt = now
		}
		started = j.StartedAt
		setAttempt(j, c.Status, c.FailureReason, c.FailureMessage, now)
		model.Advance(rs.Run, rs.Jobs, now)
		runStatus = rs.Run.Status
		if !rs.Run.CancelRequested {
			cancel = toCancel(rs)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.cancelHeld(cancel, "a job of its matrix failed (fail-fast)")
	s.ended.Store(jobID, epoch)
	s.releaseJob(runnerID, jobID)
	fields := []zap.Field{zap.Int64("run_id", runID), zap.Int64("job_id", jobID), zap.Int64("epoch", epoch), zap.String("runner_id", runnerID), zap.String("status", string(c.Status))}
	if retrying {
		s.cfg.Observer.JobRetried(c.FailureReason)
		s.log.Info("job attempt failed; retrying as its retry: asks", fields...)
		return nil
	}
	if ended {
		s.cfg.Observer.JobEnded(c.Status, now.Sub(started))
	}
	s.log.Info("job completed", fields...)
	if runStatus.Terminal() {
		s.log.Info("run finished", zap.Int64("run_id", runID), zap.String("status", string(runStatus)))
	}
	return nil
}

// RecordArtifact records the artifact archive the runner uploaded for the
// attempt it holds, and returns the job.
func (s *Scheduler) RecordArtifact(ctx context.Context, runnerID string, jobID, epoch int64, a model.Artifact) (*model.Job, error) {
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return nil, err
	}
	var out model.Job
	_, err = s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j, err := fenced(rs, jobID, runnerID, epoch)
		if err != nil {
			return err
		}
		if !j.Status.Active() {
			return fmt.Errorf("job %d attempt %d already ended as %s; artifacts come before the completion: %w", jobID, epoch, j.Status, ErrInvalidTransition)
		}
		art := a
		art.ExposeAs, art.Access = j.ArtifactsExposeAs, j.ArtifactsAccess
		if keep := cmp.Or(j.ArtifactsExpireIn, s.cfg.ArtifactsExpireIn); keep > 0 {
			art.ExpireAt = art.CreatedAt.Add(keep)
		}
		j.Artifact = &art
		out = *j
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RecordReports records what the report files the runner uploaded for
// the attempt it holds said, and updates the run's test and coverage
// summary. The reports of an attempt replace those of earlier ones.
func (s *Scheduler) RecordReports(ctx context.Context, runnerID string, jobID, epoch int64, r model.Reports) error {
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return err
	}
	_, err = s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j, err := fenced(rs, jobID, runnerID, epoch)
		if err != nil {
			return err
		}
		if !j.Status.Active() {
			return fmt.Errorf("job %d attempt %d already ended as %s; reports come before the completion: %w", jobID, epoch, j.Status, ErrInvalidTransition)
		}
		rep := r
		rep.Epoch = epoch
		j.Reports = &rep
		rs.Run.Summarize(rs.Jobs)
		return nil
	})
	return err
}

// resentCompletion reports whether an ended attempt already records this
// completion (the runner resent it, e.g. after a lost answer).
func resentCompletion(j *model.Job, runnerID string, epoch int64, st model.JobStatus) bool {
	if j == nil {
		return false
	}
	for _, a := range j.Attempts {
		if a.Epoch == epoch && a.RunnerID == runnerID && a.Status == st {
			return true
		}
	}
	return false
}

// retriedFailures counts the job's attempts that failed (not lost) and
// were retried.
func retriedFailures(j *model.Job) int {
	n := 0
	for _, a := range j.Attempts {
		if a.Epoch != j.Epoch && a.Status == model.JobFailed {
			n++
		}
	}
	return n
}

// setAttempt updates the record of the job's current attempt.
func setAttempt(j *model.Job, st model.JobStatus, reason model.FailureReason, msg string, now time.Time) {
	if len(j.Attempts) == 0 {
		return
	}
	a := &j.Attempts[len(j.Attempts)-1]
	if a.Epoch != j.Epoch {
		return
	}
	a.Status, a.FailureReason, a.FailureMessage = st, reason, msg
	if st.Terminal() {
		a.EndedAt = now
	}
}

func (s *Scheduler) releaseJob(runnerID string, jobID int64) {
	s.mu.Lock()
	ss := s.sessions[runnerID]
	s.mu.Unlock()
	if ss != nil {
		ss.release(jobID)
		s.Kick()
	}
}

// loseAttempt ends an attempt whose runner lost it (lease expired, lease
// never delivered, runner came back without it). The job is requeued at
// the front of the queue while it has system retries left, else failed.
func (s *Scheduler) loseAttempt(ctx context.Context, runID, jobID, epoch int64, reason model.FailureReason, msg string) error {
	now := s.now()
	var runnerID string
	var final model.JobStatus // "" when requeued
	var started time.Time
	_, err := s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j := rs.Job(jobID)
		if j == nil || j.Epoch != epoch || !j.Status.Active() {
			return errNotPending // already handled
		}
		runnerID, started = j.RunnerID, j.StartedAt
		setAttempt(j, model.JobLost, reason, msg, now)
		lost := 0
		for _, a := range j.Attempts {
			if a.FailureReason == model.ReasonLeaseExpired || a.FailureReason == model.ReasonStaleRunnerSession {
				lost++
			}
		}
		switch {
		case rs.Run.CancelRequested:
			j.Status, j.FailureReason, j.FailureMessage, j.FinishedAt = model.JobCanceled, model.ReasonCanceled, "run canceled", now
		case lost > j.SystemRetries(s.cfg.MaxSystemRetries):
			j.Status, j.FailureReason, j.FinishedAt = model.JobFailed, reason, now
			j.FailureMessage = fmt.Sprintf("%s (after %d retries)", msg, j.SystemRetries(s.cfg.MaxSystemRetries))
		default:
			j.Status, j.QueuedAt = model.JobPending, now
			j.RunnerID, j.RunnerName, j.SessionLease = "", "", 0
		}
		final = ""
		if j.Status != model.JobPending {
			final = j.Status
		}
		model.Advance(rs.Run, rs.Jobs, now)
		return nil
	})
	if errors.Is(err, errNotPending) {
		return nil
	}
	if err != nil {
		return err
	}
	s.observeLost(reason, final, started, now)
	s.ended.Store(jobID, epoch)
	if runnerID != "" {
		s.releaseJob(runnerID, jobID)
	}
	s.log.Warn("job attempt lost", zap.Int64("run_id", runID), zap.Int64("job_id", jobID), zap.Int64("epoch", epoch),
		zap.String("runner_id", runnerID), zap.String("reason", string(reason)), zap.String("detail", msg))
	return nil
}

// failAttempt fails an attempt for a coordinator-side reason.
func (s *Scheduler) failAttempt(ctx context.Context, runID, jobID, epoch int64, msg string) error {
	now := s.now()
	_, err := s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j := rs.Job(jobID)
		if j == nil || j.Epoch != epoch || j.Status.Terminal() {
			return nil
		}
		j.Status, j.FailureReason, j.FailureMessage, j.FinishedAt = model.JobFailed, model.ReasonRunnerSystem, msg, now
		setAttempt(j, model.JobFailed, model.ReasonRunnerSystem, msg, now)
		model.Advance(rs.Run, rs.Jobs, now)
		return nil
	})
	return err
}

// leaseGone handles a deleted lease key.
func (s *Scheduler) leaseGone(ctx context.Context, jobID int64) error {
	runID, err := s.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return err
	}
	rs, err := s.store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	j := rs.Job(jobID)
	if j == nil || !j.Status.Active() {
		return nil // the job ended; its lease key went with it
	}
	return s.loseAttempt(ctx, runID, jobID, j.Epoch, model.ReasonLeaseExpired,
		fmt.Sprintf("runner %s stopped renewing its lease", nameOr(j.RunnerName, j.RunnerID)))
}

// recoverOrphans requeues held jobs of active runs whose lease key is gone.
func (s *Scheduler) recoverOrphans(ctx context.Context, held map[int64]bool) error {
	ids, err := s.store.ActiveRunIDs(ctx)
	if err != nil {
		return err
	}
	for _, runID := range ids {
		rs, err := s.store.GetRun(ctx, runID)
		if err != nil {
			return err
		}
		for _, j := range rs.Jobs {
			if j.Status.Active() && !held[j.ID] {
				if err := s.loseAttempt(ctx, runID, j.ID, j.Epoch, model.ReasonLeaseExpired,
					fmt.Sprintf("runner %s's lease expired while no coordinator was watching", nameOr(j.RunnerName, j.RunnerID))); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CancelRun cancels a run: its unstarted jobs at once, its held jobs by
// telling their runners to stop.
func (s *Scheduler) CancelRun(ctx context.Context, runID int64) (*model.Run, error) {
	now := s.now()
	var run model.Run
	var held []model.Job
	_, err := s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		if !rs.Run.Status.Terminal() {
			rs.Run.CancelRequested = true
			model.Advance(rs.Run, rs.Jobs, now)
		}
		run, held = *rs.Run, nil
		for _, j := range rs.Jobs {
			if j.Status.Active() {
				held = append(held, model.Job{ID: j.ID, Epoch: j.Epoch, RunnerID: j.RunnerID})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range held {
		s.mu.Lock()
		ss := s.sessions[j.RunnerID]
		s.mu.Unlock()
		if ss != nil {
			ss.send(cancelMsg(j.ID, j.Epoch, "run canceled"))
		}
	}
	s.log.Info("run cancel requested", zap.Int64("run_id", runID))
	return &run, nil
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
