package model

import (
	"slices"
	"time"
)

// Advance applies the run's scheduling rules to its jobs and recomputes the
// run's status, in place. It is pure: the caller persists what changed.
//
// The rules are GitLab's stage rules: the jobs of a stage become pending
// once every job of the earlier stages has ended; once a job that may not
// fail has failed, the jobs of later stages are skipped. A run whose
// cancellation was requested has its unstarted jobs canceled; the jobs a
// runner holds end when the runner reports them.
func Advance(run *Run, jobs []*Job, now time.Time) {
	if run.Status.Terminal() {
		return
	}
	if run.CancelRequested {
		for _, j := range jobs {
			if j.Status == JobCreated || j.Status == JobPending {
				j.Status = JobCanceled
				j.FailureReason = ReasonCanceled
				j.FailureMessage = "run canceled before the job started"
				j.FinishedAt = now
			}
		}
	}

	byStage := map[int][]*Job{}
	var stages []int
	for _, j := range jobs {
		if _, ok := byStage[j.StageIndex]; !ok {
			stages = append(stages, j.StageIndex)
		}
		byStage[j.StageIndex] = append(byStage[j.StageIndex], j)
	}
	slices.Sort(stages)

	earlierDone, earlierFailed := true, false
	for _, s := range stages {
		stageDone := true
		for _, j := range byStage[s] {
			switch {
			case j.Status != JobCreated:
			case earlierFailed:
				j.Status = JobSkipped
				j.FinishedAt = now
			case earlierDone:
				j.Status = JobPending
				j.QueuedAt = now
			}
			if !j.Status.Terminal() {
				stageDone = false
			}
			if blocksLaterStages(j) {
				earlierFailed = true
			}
		}
		earlierDone = earlierDone && stageDone
	}
	run.Status = runStatus(run, jobs)
	if run.Status != RunPending && run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	if run.Status.Terminal() {
		run.FinishedAt = now
	}
}

// blocksLaterStages reports whether j's end keeps later stages from running.
func blocksLaterStages(j *Job) bool {
	switch j.Status {
	case JobFailed:
		return !j.AllowFailure
	case JobCanceled:
		return true
	}
	return false
}

func runStatus(run *Run, jobs []*Job) RunStatus {
	allDone, started := true, false
	failed, canceled := false, false
	for _, j := range jobs {
		if !j.Status.Terminal() {
			allDone = false
		}
		switch j.Status {
		case JobLeased, JobRunning, JobSuccess:
			started = true
		case JobFailed:
			started = true
			failed = failed || !j.AllowFailure
		case JobCanceled:
			canceled = true
		}
	}
	switch {
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
