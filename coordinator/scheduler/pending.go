package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
)

// Explain says in words why a job of a run (with the run's jobs) that has
// not started waits, or "" for a job that is not waiting.
func (s *Scheduler) Explain(j *model.Job, jobs []*model.Job) string {
	switch j.Status {
	case model.JobCreated:
		return waitingOn(j, jobs)
	case model.JobPending:
		s.mu.Lock()
		free, why := s.limitFreeLocked(j.RunID, store.LimitsOf(j))
		s.mu.Unlock()
		if !free {
			return why
		}
		return s.PendingReason(j.Tags)
	case model.JobManual:
		return fmt.Sprintf("manual job: waiting to be played (gantry play %d %q)", j.RunID, j.Name)
	case model.JobScheduled:
		return fmt.Sprintf("delayed job: starts at %s (in %s)", j.ScheduledAt.UTC().Format(time.TimeOnly), time.Until(j.ScheduledAt).Round(time.Second))
	}
	return ""
}

// waitingOn names what a created job waits for.
func waitingOn(j *model.Job, jobs []*model.Job) string {
	var open, manual []string
	for _, p := range jobs {
		var before bool
		if j.UsesNeeds {
			before = slices.Contains(j.Needs, p.Name)
		} else {
			before = p.StageIndex < j.StageIndex
		}
		switch {
		case !before || p.Status.Terminal():
		case p.Status == model.JobManual && !p.AllowFailure, p.Status == model.JobManual && j.UsesNeeds:
			manual = append(manual, p.Name)
		case p.Status != model.JobManual:
			open = append(open, p.Name)
		}
	}
	switch {
	case len(manual) > 0 && len(open) == 0:
		return fmt.Sprintf("waiting for manual job %s to be played", strings.Join(quoteAll(manual), ", "))
	case j.UsesNeeds:
		return fmt.Sprintf("waiting on needs: %s", strings.Join(quoteAll(append(open, manual...)), ", "))
	default:
		return "waiting for the jobs of earlier stages to finish"
	}
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strconv.Quote(n)
	}
	return out
}

// PendingReason explains in words why a queued job with tags waits.
func (s *Scheduler) PendingReason(tags []string) string {
	f := s.runnerFit(tags)
	switch f.reason() {
	case WaitNoRunner:
		if len(tags) == 0 {
			return "no online runner accepts untagged jobs (start one with --run-untagged, or give the job tags)"
		}
		return fmt.Sprintf("no online runner has all the tags [%s]", strings.Join(tags, ", "))
	case WaitDraining:
		return fmt.Sprintf("all %d matching runners are draining", f.matching)
	case WaitBusy:
		return fmt.Sprintf("all %d matching runners are busy", f.open)
	default:
		return "waiting to be dispatched"
	}
}

// fit counts the connected runners that can run a job: matching its
// tags, of which open (not draining), of which free (with room).
type fit struct{ matching, open, free int }

func (f fit) reason() WaitReason {
	switch {
	case f.matching == 0:
		return WaitNoRunner
	case f.open == 0:
		return WaitDraining
	case f.free == 0:
		return WaitBusy
	default:
		return WaitDispatch
	}
}

// runnerFit counts the connected runners that can run a job with tags.
func (s *Scheduler) runnerFit(tags []string) fit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f fit
	for _, ss := range s.sessions {
		if !model.CanRun(ss.Tags, ss.Untagged, tags) {
			continue
		}
		f.matching++
		ss.mu.Lock()
		if !ss.draining && !ss.closed {
			f.open++
			if len(ss.held) < ss.Capacity {
				f.free++
			}
		}
		ss.mu.Unlock()
	}
	return f
}

// PendingJob is a job of an active run that has not started, and why.
type PendingJob struct {
	Job    *model.Job
	Reason string
}

// PendingJobs lists the waiting jobs of every active run, oldest run first.
func (s *Scheduler) PendingJobs(ctx context.Context) ([]PendingJob, error) {
	ids, err := s.store.ActiveRunIDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []PendingJob
	for _, id := range ids {
		rs, err := s.store.GetRun(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // ended and removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		for _, j := range rs.Jobs {
			if reason := s.Explain(j, rs.Jobs); reason != "" {
				out = append(out, PendingJob{Job: j, Reason: reason})
			}
		}
	}
	return out, nil
}
