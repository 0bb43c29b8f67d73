// Package apistatus gives the API's run and job statuses the words users
// read in the CLI and the dashboard, so both say the same.
package apistatus

import gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"

// RunText names a run status ("passed", "blocked", ...).
func RunText(s gantryv1.RunStatus) string {
	switch s {
	case gantryv1.RunStatus_RUN_STATUS_PENDING:
		return "pending"
	case gantryv1.RunStatus_RUN_STATUS_RUNNING:
		return "running"
	case gantryv1.RunStatus_RUN_STATUS_SUCCESS:
		return "passed"
	case gantryv1.RunStatus_RUN_STATUS_FAILED:
		return "failed"
	case gantryv1.RunStatus_RUN_STATUS_CANCELED:
		return "canceled"
	case gantryv1.RunStatus_RUN_STATUS_BLOCKED:
		return "blocked"
	}
	return "unknown"
}

// RunEnded reports whether a run reached a final status.
func RunEnded(s gantryv1.RunStatus) bool {
	switch s {
	case gantryv1.RunStatus_RUN_STATUS_SUCCESS, gantryv1.RunStatus_RUN_STATUS_FAILED, gantryv1.RunStatus_RUN_STATUS_CANCELED:
		return true
	}
	return false
}

// JobText names a job status ("starting" for a lease not yet started).
func JobText(s gantryv1.JobStatus) string {
	switch s {
	case gantryv1.JobStatus_JOB_STATUS_CREATED:
		return "created"
	case gantryv1.JobStatus_JOB_STATUS_PENDING:
		return "pending"
	case gantryv1.JobStatus_JOB_STATUS_LEASED:
		return "starting"
	case gantryv1.JobStatus_JOB_STATUS_RUNNING:
		return "running"
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS:
		return "passed"
	case gantryv1.JobStatus_JOB_STATUS_FAILED:
		return "failed"
	case gantryv1.JobStatus_JOB_STATUS_CANCELED:
		return "canceled"
	case gantryv1.JobStatus_JOB_STATUS_SKIPPED:
		return "skipped"
	case gantryv1.JobStatus_JOB_STATUS_LOST:
		return "lost"
	case gantryv1.JobStatus_JOB_STATUS_MANUAL:
		return "manual"
	case gantryv1.JobStatus_JOB_STATUS_SCHEDULED:
		return "scheduled"
	}
	return "unknown"
}

// JobActive reports whether a runner holds the job's current attempt.
func JobActive(s gantryv1.JobStatus) bool {
	return s == gantryv1.JobStatus_JOB_STATUS_LEASED || s == gantryv1.JobStatus_JOB_STATUS_RUNNING
}
