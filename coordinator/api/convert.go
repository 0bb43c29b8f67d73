package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/coordinator/model"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var runStatuses = map[model.RunStatus]gantryv1.RunStatus{
	model.RunPending:  gantryv1.RunStatus_RUN_STATUS_PENDING,
	model.RunRunning:  gantryv1.RunStatus_RUN_STATUS_RUNNING,
	model.RunSuccess:  gantryv1.RunStatus_RUN_STATUS_SUCCESS,
	model.RunFailed:   gantryv1.RunStatus_RUN_STATUS_FAILED,
	model.RunCanceled: gantryv1.RunStatus_RUN_STATUS_CANCELED,
	model.RunBlocked:  gantryv1.RunStatus_RUN_STATUS_BLOCKED,
}

var jobStatuses = map[model.JobStatus]gantryv1.JobStatus{
	model.JobCreated:   gantryv1.JobStatus_JOB_STATUS_CREATED,
	model.JobPending:   gantryv1.JobStatus_JOB_STATUS_PENDING,
	model.JobLeased:    gantryv1.JobStatus_JOB_STATUS_LEASED,
	model.JobRunning:   gantryv1.JobStatus_JOB_STATUS_RUNNING,
	model.JobSuccess:   gantryv1.JobStatus_JOB_STATUS_SUCCESS,
	model.JobFailed:    gantryv1.JobStatus_JOB_STATUS_FAILED,
	model.JobCanceled:  gantryv1.JobStatus_JOB_STATUS_CANCELED,
	model.JobSkipped:   gantryv1.JobStatus_JOB_STATUS_SKIPPED,
	model.JobLost:      gantryv1.JobStatus_JOB_STATUS_LOST,
	model.JobManual:    gantryv1.JobStatus_JOB_STATUS_MANUAL,
	model.JobScheduled: gantryv1.JobStatus_JOB_STATUS_SCHEDULED,
}

var reasons = map[model.FailureReason]gantryv1.FailureReason{
	model.ReasonScriptFailure:      gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE,
	model.ReasonRunnerSystem:       gantryv1.FailureReason_FAILURE_REASON_RUNNER_SYSTEM_FAILURE,
	model.ReasonImagePull:          gantryv1.FailureReason_FAILURE_REASON_IMAGE_PULL_FAILURE,
	model.ReasonTimeout:            gantryv1.FailureReason_FAILURE_REASON_JOB_TIMEOUT,
	model.ReasonCanceled:           gantryv1.FailureReason_FAILURE_REASON_CANCELED,
	model.ReasonLeaseExpired:       gantryv1.FailureReason_FAILURE_REASON_LEASE_EXPIRED,
	model.ReasonUndeliveredLease:   gantryv1.FailureReason_FAILURE_REASON_LEASE_NOT_DELIVERED,
	model.ReasonStaleRunnerSession: gantryv1.FailureReason_FAILURE_REASON_RUNNER_LOST_JOB,
}

func jobStatusFromProto(s gantryv1.JobStatus) model.JobStatus {
	for k, v := range jobStatuses {
		if v == s {
			return k
		}
	}
	return ""
}

func reasonFromProto(r gantryv1.FailureReason) model.FailureReason {
	switch r {
	case gantryv1.FailureReason_FAILURE_REASON_UNSPECIFIED:
		return model.ReasonNone
	case gantryv1.FailureReason_FAILURE_REASON_RUNNER_SYSTEM_FAILURE:
		return model.ReasonRunnerSystem
	}
	for k, v := range reasons {
		if v == r {
			return k
		}
	}
	return model.ReasonRunnerSystem
}

func runToProto(r *model.Run) *gantryv1.Run {
	return &gantryv1.Run{
		Id: r.ID, Status: runStatuses[r.Status], Ref: r.Ref, Sha: r.SHA, Submitter: r.Submitter,
		PipelinePath: r.PipelinePath, Stages: r.Stages, ProjectName: r.ProjectName,
		CreatedAt: ts(r.CreatedAt), StartedAt: ts(r.StartedAt), FinishedAt: ts(r.FinishedAt),
		Name: r.Name, Source: r.Source, AllowedFailures: int32(r.AllowedFailures),
		Tests: testsToProto(r.Tests), Coverage: r.Coverage,
	}
}

func jobToProto(j *model.Job) *gantryv1.Job {
	pj := &gantryv1.Job{
		Id: j.ID, RunId: j.RunID, Name: j.Name, Stage: j.Stage, StageIndex: int32(j.StageIndex),
		Status: jobStatuses[j.Status], FailureReason: reasons[j.FailureReason], FailureMessage: j.FailureMessage,
		ExitCode: int32(j.ExitCode), Tags: j.Tags, AllowFailure: j.AllowFailure,
		RunnerId: j.RunnerID, RunnerName: j.RunnerName, Epoch: j.Epoch, Image: j.Image,
		CreatedAt: ts(j.CreatedAt), QueuedAt: ts(j.QueuedAt), StartedAt: ts(j.StartedAt), FinishedAt: ts(j.FinishedAt),
		Attempts: attemptsToProto(j.Attempts),
		When:     whenOf(j), Needs: j.Needs, NeedsSet: j.UsesNeeds, ResourceGroup: j.ResourceGroup,
		ScheduledAt: ts(j.ScheduledAt), Interruptible: j.Interruptible,
		Artifact: artifactToProto(j), Coverage: j.CoveragePercent(),
	}
	switch {
	case j.Coverage != nil:
		pj.CoverageSource = "log"
	case pj.Coverage != nil:
		pj.CoverageSource = "report"
	}
	if r := j.Reports; r != nil {
		pj.Tests, pj.CoverageReport, pj.Warnings = testsToProto(r.Tests), coverageToProto(r.Coverage), r.Warnings
	}
	return pj
}

func whenOf(j *model.Job) string {
	if j.When == "" {
		return "on_success"
	}
	return j.When
}

func attemptsToProto(in []model.Attempt) []*gantryv1.Attempt {
	out := make([]*gantryv1.Attempt, 0, len(in))
	for _, a := range in {
		out = append(out, &gantryv1.Attempt{
			Epoch: a.Epoch, RunnerId: a.RunnerID, RunnerName: a.RunnerName, Status: jobStatuses[a.Status],
			FailureReason: reasons[a.FailureReason], FailureMessage: a.FailureMessage,
			LeasedAt: ts(a.LeasedAt), EndedAt: ts(a.EndedAt),
		})
	}
	return out
}
