package scheduler

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
)

// Observer learns of scheduling events, for metrics. Its methods run on
// the scheduler's goroutines, LeaseGranted on the dispatch path: they
// must be cheap and must not block.
type Observer interface {
	// LeaseGranted says a job's lease reached its runner's stream. wait
	// is the time since the job became ready (queued); latency is the
	// time since it could have been leased: ready, and a slot free on
	// the runner that took it.
	LeaseGranted(wait, latency time.Duration)
	// LeaseExpired says a runner stopped renewing the lease of an
	// attempt, which was then lost.
	LeaseExpired()
	// JobRetried says a job goes back to the queue after an attempt that
	// ended for reason (a lost attempt, or a failure `retry:` retries).
	JobRetried(reason model.FailureReason)
	// JobEnded says a job that started reached its final status, took
	// after it started.
	JobEnded(status model.JobStatus, took time.Duration)
}

// noObserver is the Observer of a scheduler configured without one.
type noObserver struct{}

func (noObserver) LeaseGranted(time.Duration, time.Duration) {}
func (noObserver) LeaseExpired()                             {}
func (noObserver) JobRetried(model.FailureReason)            {}
func (noObserver) JobEnded(model.JobStatus, time.Duration)   {}

// observeLease reports a lease just delivered to ss, of a job that
// became ready at queuedAt.
func (s *Scheduler) observeLease(ss *Session, queuedAt time.Time) {
	now := s.now()
	since := queuedAt
	if freed := ss.freedAt.Load(); freed > since.UnixNano() {
		since = time.Unix(0, freed)
	}
	s.cfg.Observer.LeaseGranted(now.Sub(queuedAt), now.Sub(since))
}

// WaitReason says in a word why a job that has not started waits (Explain
// says it in a sentence); metrics use it as a label.
type WaitReason string

// Wait reasons.
const (
	// WaitNeeds: jobs of earlier stages, or its needs, have not ended.
	WaitNeeds WaitReason = "needs"
	// WaitManual: a manual job waiting to be played.
	WaitManual WaitReason = "manual"
	// WaitDelayed: a `when: delayed` job whose time has not come.
	WaitDelayed WaitReason = "delayed"
	// WaitLimit: its resource group or matrix max-parallel is full.
	WaitLimit WaitReason = "limit"
	// WaitNoRunner: no connected runner has the job's tags.
	WaitNoRunner WaitReason = "no_runner"
	// WaitDraining: every matching runner is draining.
	WaitDraining WaitReason = "draining"
	// WaitBusy: every matching runner is at capacity.
	WaitBusy WaitReason = "busy"
	// WaitDispatch: a matching runner has room; the job is about to be
	// leased.
	WaitDispatch WaitReason = "dispatching"
)

// WaitReasons lists every WaitReason.
var WaitReasons = []WaitReason{WaitNeeds, WaitManual, WaitDelayed, WaitLimit, WaitNoRunner, WaitDraining, WaitBusy, WaitDispatch}

// TagSet is tags as one label value: sorted, comma-separated ("" for
// none).
func TagSet(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	if len(tags) == 1 {
		return tags[0]
	}
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	return strings.Join(slices.Compact(sorted), ",")
}

// WaitKey groups waiting jobs.
type WaitKey struct {
	// Tags is the jobs' TagSet.
	Tags   string
	Reason WaitReason
}

// JobCounts counts the jobs of active runs.
type JobCounts struct {
	// Waiting counts the jobs that have not started (created, pending,
	// manual or delayed) by tag set and reason.
	Waiting map[WaitKey]int
	// Held is how many jobs runners hold (leased or running).
	Held int
}

// CountJobs counts the jobs of active runs that wait, and why, and those
// runners hold. It reads every active run, as PendingJobs does.
func (s *Scheduler) CountJobs(ctx context.Context) (JobCounts, error) {
	out := JobCounts{Waiting: map[WaitKey]int{}}
	ids, err := s.store.ActiveRunIDs(ctx)
	if err != nil {
		return out, err
	}
	fits := map[string]WaitReason{} // tag set -> runner fit, once per call
	for _, id := range ids {
		rs, err := s.store.GetRun(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // ended and removed meanwhile
		}
		if err != nil {
			return out, err
		}
		for _, j := range rs.Jobs {
			if j.Status.Active() {
				out.Held++
				continue
			}
			if reason := s.waitReason(j, fits); reason != "" {
				out.Waiting[WaitKey{Tags: TagSet(j.Tags), Reason: reason}]++
			}
		}
	}
	return out, nil
}

// waitReason is Explain's reason in a word, "" for a job that does not
// wait; fits caches the runner fit of each tag set.
func (s *Scheduler) waitReason(j *model.Job, fits map[string]WaitReason) WaitReason {
	switch j.Status {
	case model.JobCreated:
		return WaitNeeds
	case model.JobManual:
		return WaitManual
	case model.JobScheduled:
		return WaitDelayed
	case model.JobPending:
	default:
		return ""
	}
	s.mu.Lock()
	free, _ := s.limitFreeLocked(j.RunID, store.LimitsOf(j))
	s.mu.Unlock()
	if !free {
		return WaitLimit
	}
	key := TagSet(j.Tags)
	if r, ok := fits[key]; ok {
		return r
	}
	r := s.runnerFit(j.Tags).reason()
	fits[key] = r
	return r
}

// observeLost reports a lost attempt: its job was requeued (final "") or
// ended with final status.
func (s *Scheduler) observeLost(reason model.FailureReason, final model.JobStatus, started, now time.Time) {
	if reason == model.ReasonLeaseExpired {
		s.cfg.Observer.LeaseExpired()
	}
	switch {
	case final == "":
		s.cfg.Observer.JobRetried(reason)
	case !started.IsZero():
		s.cfg.Observer.JobEnded(final, now.Sub(started))
	}
}
