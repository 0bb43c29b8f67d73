package model

import (
	"slices"
	"time"
)

// Advance applies the run's scheduling rules to its jobs and recomputes the
// run's status, in place. It is pure: the caller persists what changed.
//
// The rules are GitLab's. A created job waits for its predecessors: the
// jobs it needs when it uses `needs`, otherwise every job of the earlier
// stages. Once they have all ended (a manual job that may fail and was
// not played counts as ended for stage order, not for needs), its `when`
// decides: on_success, manual and delayed jobs go ahead only if no
// predecessor failed (failures allowed by allow_failure do not count;
// with needs, a skipped need skips the job too) and are skipped
// otherwise; on_failure jobs go ahead only if one failed; always jobs go
// ahead in any case. Going ahead means pending for on_success, on_failure
// and always, manual for manual, scheduled (until ScheduledAt) for
// delayed. A canceled predecessor counts as failed.
//
// A run whose cancellation was requested, and a job whose was, has its
// unstarted jobs canceled; the jobs a runner holds end when the runner
// reports them. In a fail-fast matrix group, a failure requests the
// cancellation of the group's other unfinished jobs.
func Advance(run *Run, jobs []*Job, now time.Time) {
	if run.Status.Terminal() {
		return
	}
	failFast(jobs)
	for _, j := range jobs {
		if (run.CancelRequested || j.CancelRequested) && j.waiting() {
			j.Status = JobCanceled
			j.FailureReason = ReasonCanceled
			j.FailureMessage = "canceled before the job started"
			if !run.CancelRequested {
				j.FailureMessage = "canceled before the job started: " + j.cancelCause(jobs)
			}
			j.FinishedAt = now
		}
	}
	if !run.CancelRequested {
		release(jobs, now)
	}
	run.Status = runStatus(run, jobs)
	run.AllowedFailures = AllowedFailures(jobs)
	if run.Status != RunPending && run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	if run.Status.Terminal() {
		run.FinishedAt = now
	}
}

// waiting reports whether the job has not been handed to a runner yet.
func (j *Job) waiting() bool {
	switch j.Status {
	case JobCreated, JobPending, JobManual, JobScheduled:
		return true
	}
	return false
}

func (j *Job) cancelCause(jobs []*Job) string {
	if j.MatrixGroup != "" {
		for _, o := range jobs {
			if o.MatrixGroup == j.MatrixGroup && o.Status == JobFailed && !o.FailureAllowed() {
				return "job " + o.Name + " of its matrix failed (fail-fast)"
			}
		}
	}
	return "a newer run of the same ref started"
}

// failFast requests the cancellation of the unfinished jobs of each
// fail-fast matrix group with a failed job.
func failFast(jobs []*Job) {
	var failed []string
	for _, j := range jobs {
		if j.MatrixGroup != "" && j.FailFast && j.Status == JobFailed && !j.FailureAllowed() && !slices.Contains(failed, j.MatrixGroup) {
			failed = append(failed, j.MatrixGroup)
		}
	}
	for _, j := range jobs {
		if j.MatrixGroup != "" && slices.Contains(failed, j.MatrixGroup) && !j.Status.Terminal() {
			j.CancelRequested = true
		}
	}
}

// release moves created jobs whose predecessors have ended on, repeating
// until nothing changes (a job skipped at once may release others).
func release(jobs []*Job, now time.Time) {
	byName := make(map[string]*Job, len(jobs))
	for _, j := range jobs {
		byName[j.Name] = j
	}
	for changed := true; changed; {
		changed = false
		for _, j := range jobs {
			if j.Status != JobCreated {
				continue
			}
			ended, failed, skipped := predecessors(j, jobs, byName)
			if !ended {
				continue
			}
			changed = true
			ahead := !failed && !(j.UsesNeeds && skipped)
			switch j.When {
			case "on_failure":
				ahead = failed
			case "always":
				ahead = true
			}
			switch {
			case !ahead:
				j.Status = JobSkipped
				j.FinishedAt = now
			case j.When == "manual":
				j.Status = JobManual
			case j.When == "delayed":
				j.Status = JobScheduled
				j.ScheduledAt = now.Add(j.StartIn)
			default:
				j.Status = JobPending
				j.QueuedAt = now
			}
		}
	}
}

// predecessors reports whether the jobs j waits for have all ended, and
// whether one of them failed (without leave) or was skipped.
func predecessors(j *Job, jobs []*Job, byName map[string]*Job) (ended, failed, skipped bool) {
	check := func(p *Job, viaNeeds bool) bool {
		switch {
		case p.Status == JobManual && p.AllowFailure && !viaNeeds:
			return true // a manual job that may fail does not hold later stages
		case !p.Status.Terminal():
			return false
		case p.Status == JobFailed && !p.FailureAllowed(), p.Status == JobCanceled:
			failed = true
		case p.Status == JobSkipped:
			skipped = true
		}
		return true
	}
	if j.UsesNeeds {
		for _, name := range j.Needs {
			if p := byName[name]; p != nil && !check(p, true) {
				return false, false, false
			}
		}
		return true, failed, skipped
	}
	for _, p := range jobs {
		if p.StageIndex < j.StageIndex && !check(p, false) {
			return false, false, false
		}
	}
	return true, failed, skipped
}

func runStatus(run *Run, jobs []*Job) RunStatus {
	allDone, started, blocked := true, false, false
	failed, canceled := false, false
	for _, j := range jobs {
		switch {
		case j.Status == JobManual && j.AllowFailure:
			// An optional manual job left unplayed does not keep the run open.
		case j.Status == JobManual:
			blocked = true
			allDone = false
		case !j.Status.Terminal():
			allDone = false
		}
		switch j.Status {
		case JobLeased, JobRunning, JobSuccess:
			started = true
		case JobFailed:
			started = true
			failed = failed || !j.FailureAllowed()
		case JobCanceled:
			canceled = true
		}
	}
	active := slices.ContainsFunc(jobs, func(j *Job) bool {
		return j.Status == JobPending || j.Status.Active() || j.Status == JobScheduled
	})
	switch {
	case blocked && !active && !run.CancelRequested:
		return RunBlocked
	case !allDone && started:
		return RunRunning
	case !allDone:
		return RunPending
	case run.CancelRequested || (canceled && !failed):
		return RunCanceled
	case failed:
		return RunFailed
	default:
		return RunSuccess
	}
}

// AllowedFailures counts the jobs that failed as allow_failure permits.
func AllowedFailures(jobs []*Job) int {
	n := 0
	for _, j := range jobs {
		if j.FailureAllowed() {
			n++
		}
	}
	return n
}
