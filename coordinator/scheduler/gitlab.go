package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
)

// ErrNotPlayable means PlayJob named a job that is not manual or delayed.
var ErrNotPlayable = errors.New("job cannot be played")

// PlayJob starts a manual job, or a delayed one at once (GitLab's play
// button), and returns it.
func (s *Scheduler) PlayJob(ctx context.Context, runID int64, name string) (*model.Job, error) {
	now := s.now()
	var played model.Job
	_, err := s.store.UpdateRun(ctx, runID, func(rs *store.RunState) error {
		j := rs.JobByName(name)
		if j == nil {
			names := make([]string, 0, len(rs.Jobs))
			for _, o := range rs.Jobs {
				if o.Status == model.JobManual || o.Status == model.JobScheduled {
					names = append(names, fmt.Sprintf("%q", o.Name))
				}
			}
			hint := "it has no manual or delayed job waiting"
			if len(names) > 0 {
				hint = "jobs waiting to be played: " + strings.Join(names, ", ")
			}
			return fmt.Errorf("run %d has no job named %q (%s): %w", runID, name, hint, store.ErrNotFound)
		}
		if j.Status != model.JobManual && j.Status != model.JobScheduled {
			return fmt.Errorf("job %q of run %d is %s; only manual jobs and delayed jobs not started yet can be played: %w", name, runID, j.Status, ErrNotPlayable)
		}
		if rs.Run.Status.Terminal() {
			if rs.Run.CancelRequested || rs.Run.Status == model.RunCanceled {
				return fmt.Errorf("run %d was canceled: %w", runID, ErrNotPlayable)
			}
			// As in GitLab, playing a manual job of a finished run (a
			// deploy after the tests passed) runs it: the run reopens
			// and ends again with it.
			rs.Run.Status, rs.Run.FinishedAt = model.RunRunning, time.Time{}
		}
		j.Status, j.QueuedAt = model.JobPending, now
		model.Advance(rs.Run, rs.Jobs, now)
		played = *j
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("job played", zap.Int64("run_id", runID), zap.Int64("job_id", played.ID), zap.String("job", name))
	return &played, nil
}

// startDelayed promotes the delayed jobs that are due, every interval.
func (s *Scheduler) startDelayed(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		due, err := s.store.DueJobs(ctx, s.now())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("read delayed jobs", zap.Error(err))
			continue
		}
		for _, e := range due {
			if err := s.promote(ctx, e); err != nil && ctx.Err() == nil {
				s.log.Error("start delayed job", zap.Int64("job_id", e.JobID), zap.Error(err))
			}
		}
	}
}

func (s *Scheduler) promote(ctx context.Context, e store.DelayedEntry) error {
	now := s.now()
	_, err := s.store.UpdateRun(ctx, e.RunID, func(rs *store.RunState) error {
		j := rs.Job(e.JobID)
		if j == nil || j.Status != model.JobScheduled || j.ScheduledAt.After(now) {
			return nil
		}
		j.Status, j.QueuedAt = model.JobPending, now
		model.Advance(rs.Run, rs.Jobs, now)
		return nil
	})
	return err
}

// cancelHeld asks the runners holding the given jobs to cancel them.
func (s *Scheduler) cancelHeld(held []model.Job, reason string) {
	for _, j := range held {
		s.mu.Lock()
		ss := s.sessions[j.RunnerID]
		s.mu.Unlock()
		if ss != nil {
			ss.send(cancelMsg(j.ID, j.Epoch, reason))
		}
	}
}

// toCancel lists the held jobs of a run whose cancellation was requested.
func toCancel(rs *store.RunState) []model.Job {
	var out []model.Job
	for _, j := range rs.Jobs {
		if j.Status.Active() && (rs.Run.CancelRequested || j.CancelRequested) {
			out = append(out, model.Job{ID: j.ID, Epoch: j.Epoch, RunnerID: j.RunnerID})
		}
	}
	return out
}

// SupersedeOlderRuns applies workflow:auto_cancel:on_new_commit when run
// starts: older active runs of the same project and ref are canceled
// (conservative, the default: only if none of their jobs that are not
// interruptible has started) or lose their interruptible jobs
// (interruptible); none leaves them alone. Runs of tags, schedules and
// merge requests are not superseded, as in GitLab (only branch pushes).
func (s *Scheduler) SupersedeOlderRuns(ctx context.Context, run *model.Run) error {
	if run.AutoCancel == "none" || run.Ref == "" || (run.Source != "" && run.Source != "push") {
		return nil
	}
	ids, err := s.store.ActiveRunsOfRef(ctx, run.ProjectName, run.Ref)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id >= run.ID {
			continue
		}
		if err := s.supersede(ctx, id, run); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (s *Scheduler) supersede(ctx context.Context, id int64, by *model.Run) error {
	now := s.now()
	var held []model.Job
	var what string
	_, err := s.store.UpdateRun(ctx, id, func(rs *store.RunState) error {
		held, what = nil, ""
		old := rs.Run
		if old.Status.Terminal() || old.ProjectName != by.ProjectName || old.Ref != by.Ref || (old.Source != "" && old.Source != "push") {
			return nil
		}
		started := func(j *model.Job) bool {
			return j.Status.Active() || j.Status.Terminal() && j.Status != model.JobSkipped
		}
		switch by.AutoCancel {
		case "interruptible":
			for _, j := range rs.Jobs {
				if j.Interruptible && (j.Status.Active() || !j.Status.Terminal()) {
					j.CancelRequested = true
					what = "interruptible jobs"
				}
			}
		default: // conservative
			if slices.ContainsFunc(rs.Jobs, func(j *model.Job) bool { return !j.Interruptible && started(j) }) {
				return nil
			}
			old.CancelRequested = true
			what = "run"
		}
		if what == "" {
			return nil
		}
		model.Advance(old, rs.Jobs, now)
		held = toCancel(rs)
		return nil
	})
	if err != nil {
		return err
	}
	if what != "" {
		s.log.Info("older run superseded", zap.Int64("run_id", id), zap.Int64("by_run_id", by.ID), zap.String("canceled", what))
		s.cancelHeld(held, fmt.Sprintf("superseded by run %d of the same ref", by.ID))
	}
	return nil
}
