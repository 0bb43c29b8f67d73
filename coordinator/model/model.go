// Package model holds the coordinator's domain types (runs, jobs, runners)
// and the pure rules that move a run forward. It knows nothing about etcd or
// gRPC: the store persists these types and the API converts them.
package model

import (
	"slices"
	"time"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// RunStatus is the state of a run.
type RunStatus string

// Run statuses.
const (
	RunPending  RunStatus = "pending"
	RunRunning  RunStatus = "running"
	RunSuccess  RunStatus = "success"
	RunFailed   RunStatus = "failed"
	RunCanceled RunStatus = "canceled"
	// RunBlocked waits for a manual job that may not fail to be played.
	RunBlocked RunStatus = "blocked"
)

// Terminal reports whether the run has ended.
func (s RunStatus) Terminal() bool {
	return s == RunSuccess || s == RunFailed || s == RunCanceled
}

// JobStatus is the state of a job's current attempt.
type JobStatus string

// Job statuses.
const (
	JobCreated  JobStatus = "created"
	JobPending  JobStatus = "pending"
	JobLeased   JobStatus = "leased"
	JobRunning  JobStatus = "running"
	JobSuccess  JobStatus = "success"
	JobFailed   JobStatus = "failed"
	JobCanceled JobStatus = "canceled"
	JobSkipped  JobStatus = "skipped"
	// JobManual is a `when: manual` job whose turn has come; it waits to
	// be played.
	JobManual JobStatus = "manual"
	// JobScheduled is a `when: delayed` job waiting for ScheduledAt.
	JobScheduled JobStatus = "scheduled"
	// JobLost is only an attempt's status: its runner was lost.
	JobLost JobStatus = "lost"
)

// Terminal reports whether the job has ended.
func (s JobStatus) Terminal() bool {
	switch s {
	case JobSuccess, JobFailed, JobCanceled, JobSkipped, JobLost:
		return true
	}
	return false
}

// Active reports whether a runner holds the job.
func (s JobStatus) Active() bool { return s == JobLeased || s == JobRunning }

// FailureReason says why a job did not succeed.
type FailureReason string

// Failure reasons.
const (
	ReasonNone               FailureReason = ""
	ReasonScriptFailure      FailureReason = "script_failure"
	ReasonRunnerSystem       FailureReason = "runner_system_failure"
	ReasonImagePull          FailureReason = "image_pull_failure"
	ReasonTimeout            FailureReason = "job_execution_timeout"
	ReasonCanceled           FailureReason = "canceled"
	ReasonLeaseExpired       FailureReason = "lease_expired"
	ReasonUndeliveredLease   FailureReason = "lease_not_delivered"
	ReasonStaleRunnerSession FailureReason = "runner_lost_job"
)

// Run is one submitted pipeline.
type Run struct {
	ID           int64     `json:"id"`
	Status       RunStatus `json:"status"`
	Ref          string    `json:"ref,omitempty"`
	SHA          string    `json:"sha,omitempty"`
	Submitter    string    `json:"submitter,omitempty"`
	ProjectName  string    `json:"project_name"`
	PipelinePath string    `json:"pipeline_path"`
	Stages       []string  `json:"stages"`
	JobIDs       []int64   `json:"job_ids"`
	// SourceDigest names the source archive blob (sha256 hex), or "".
	SourceDigest string    `json:"source_digest,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	// CancelRequested is set when a user cancels the run.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Name is workflow:name; Source is GitLab's pipeline source.
	Name   string `json:"name,omitempty"`
	Source string `json:"source,omitempty"`
	// AutoCancel is workflow:auto_cancel:on_new_commit: conservative
	// (""), interruptible or none.
	AutoCancel string `json:"auto_cancel,omitempty"`
	// AllowedFailures counts the jobs that failed as allow_failure lets
	// them: the run succeeds with warnings.
	AllowedFailures int `json:"allowed_failures,omitempty"`
	// VariableKeys names the variables submitted with the run, which
	// jobs' dotenv reports do not override.
	VariableKeys []string `json:"variable_keys,omitempty"`
	// Tests and Coverage summarize the jobs' reports (Summarize).
	Tests    *TestSummary `json:"tests,omitempty"`
	Coverage *float64     `json:"coverage,omitempty"`
}

// Attempt is the record of one lease of a job.
type Attempt struct {
	Epoch          int64         `json:"epoch"`
	RunnerID       string        `json:"runner_id"`
	RunnerName     string        `json:"runner_name,omitempty"`
	Status         JobStatus     `json:"status"`
	FailureReason  FailureReason `json:"failure_reason,omitempty"`
	FailureMessage string        `json:"failure_message,omitempty"`
	LeasedAt       time.Time     `json:"leased_at"`
	EndedAt        time.Time     `json:"ended_at,omitzero"`
}

// Job is one job of a run.
type Job struct {
	ID           int64     `json:"id"`
	RunID        int64     `json:"run_id"`
	Name         string    `json:"name"`
	Stage        string    `json:"stage"`
	StageIndex   int       `json:"stage_index"`
	Status       JobStatus `json:"status"`
	Tags         []string  `json:"tags,omitempty"`
	AllowFailure bool      `json:"allow_failure,omitempty"`
	Image        string    `json:"image,omitempty"`
	// Spec is the job's execution spec (a gantry.v1.JobSpec in protobuf's
	// binary form), opaque to the store and the scheduling rules. It is
	// set only on jobs being created: the store keeps it under a key of
	// its own, written once, so that the job record every transition
	// rewrites stays small (Store.JobSpec reads it back).
	Spec []byte `json:"-"`

	// Epoch is the current attempt number: bumped on every lease, carried
	// by everything a runner says about the job.
	Epoch      int64  `json:"epoch"`
	RunnerID   string `json:"runner_id,omitempty"`
	RunnerName string `json:"runner_name,omitempty"`
	// SessionLease is the etcd lease of the runner session holding the
	// job; the job's lease key is bound to it, so it disappears when the
	// session stops being renewed.
	SessionLease int64 `json:"session_lease,omitempty"`

	FailureReason  FailureReason `json:"failure_reason,omitempty"`
	FailureMessage string        `json:"failure_message,omitempty"`
	ExitCode       int           `json:"exit_code"`
	LogSize        int64         `json:"log_size,omitempty"`

	CreatedAt  time.Time `json:"created_at"`
	QueuedAt   time.Time `json:"queued_at,omitzero"`
	LeasedAt   time.Time `json:"leased_at,omitzero"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`

	Attempts []Attempt `json:"attempts,omitempty"`

	// Retry is the job's `retry:` (nil when not set).
	Retry *pipeline.Retry `json:"retry,omitempty"`

	// When is on_success (""), on_failure, always, manual or delayed;
	// StartIn is a delayed job's delay, ScheduledAt when it starts.
	When        string        `json:"when,omitempty"`
	StartIn     time.Duration `json:"start_in,omitempty"`
	ScheduledAt time.Time     `json:"scheduled_at,omitzero"`
	// UsesNeeds: the job waits for Needs (job names of the run) instead
	// of every job of the earlier stages; none means it starts at once.
	UsesNeeds bool     `json:"uses_needs,omitempty"`
	Needs     []string `json:"needs,omitempty"`
	// AllowFailureExitCodes limits AllowFailure to these exit codes.
	AllowFailureExitCodes []int `json:"allow_failure_exit_codes,omitempty"`
	// ResourceGroup: one job of the group runs at a time, across runs.
	ResourceGroup string `json:"resource_group,omitempty"`
	// Interruptible jobs are canceled when a newer run of the same ref
	// starts (workflow:auto_cancel).
	Interruptible bool `json:"interruptible,omitempty"`
	// MatrixGroup, FailFast and MaxParallel: a GitHub Actions matrix.
	MatrixGroup string `json:"matrix_group,omitempty"`
	FailFast    bool   `json:"fail_fast,omitempty"`
	MaxParallel int    `json:"max_parallel,omitempty"`
	// CancelRequested: the job is to be canceled (fail-fast, auto-cancel)
	// without its run.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Artifact is the archive the job's current attempt uploaded.
	Artifact *Artifact `json:"artifact,omitempty"`
	// ArtifactsExpireIn is artifacts:expire_in: 0 for the coordinator's
	// default, negative for never.
	ArtifactsExpireIn time.Duration `json:"artifacts_expire_in,omitempty"`
	// ArtifactsExposeAs is artifacts:expose_as.
	ArtifactsExposeAs string `json:"artifacts_expose_as,omitempty"`
	// ArtifactsAccess is artifacts:access ("" for all).
	ArtifactsAccess string `json:"artifacts_access,omitempty"`
	// Coverage is the percentage the job's `coverage:` found in its log.
	Coverage *float64 `json:"coverage,omitempty"`
	// Reports is what the current attempt's artifacts:reports said.
	Reports *Reports `json:"reports,omitempty"`
}

// RetryReason names a failure as `retry:when` does.
// Artifact describes a job's artifact archive; its bytes live in the blob
// store under BlobKey.
type Artifact struct {
	Name      string    `json:"name,omitempty"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	BlobKey   string    `json:"blob_key"`
	Epoch     int64     `json:"epoch"`
	CreatedAt time.Time `json:"created_at"`
	// ExpireAt is when the expiry collector deletes it (zero: kept).
	ExpireAt time.Time `json:"expire_at,omitzero"`
	// DeletedAt is set once the collector deleted its bytes: the record
	// stays, so that users see what there was and when it went.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	// ExposeAs is artifacts:expose_as: the name under which user
	// interfaces link the archive.
	ExposeAs string `json:"expose_as,omitempty"`
	// Access is artifacts:access (public: false is developer): who may
	// download it through the API; "" is everyone.
	Access string `json:"access,omitempty"`
}

// FailureAllowed reports whether the job failed in a way its
// allow_failure permits: the run then succeeds with a warning.
func (j *Job) FailureAllowed() bool {
	if j.Status != JobFailed || !j.AllowFailure {
		return false
	}
	if len(j.AllowFailureExitCodes) == 0 {
		return true
	}
	return j.FailureReason == ReasonScriptFailure && slices.Contains(j.AllowFailureExitCodes, j.ExitCode)
}

func RetryReason(r FailureReason) []string {
	switch r {
	case ReasonScriptFailure:
		return []string{"script_failure"}
	case ReasonTimeout:
		return []string{"job_execution_timeout", "stuck_or_timeout_failure"}
	case ReasonRunnerSystem, ReasonImagePull, ReasonLeaseExpired, ReasonStaleRunnerSession, ReasonUndeliveredLease:
		return []string{"runner_system_failure"}
	}
	return nil
}

// RetriesFailure reports whether the job's `retry:` asks to retry a
// failure with reason and exit code, given how many failed attempts were
// already retried.
func (j *Job) RetriesFailure(reason FailureReason, exitCode, retried int) bool {
	if j.Retry == nil || retried >= j.Retry.Max {
		return false
	}
	covered := false
	for _, r := range RetryReason(reason) {
		covered = covered || j.Retry.Covers(r)
	}
	if !covered {
		return false
	}
	if reason == ReasonScriptFailure && len(j.Retry.ExitCodes) > 0 {
		return slices.Contains(j.Retry.ExitCodes, exitCode)
	}
	return true
}

// SystemRetries is how many lost attempts the job survives: its own
// `retry:max` when its `retry:` covers runner system failures, else def.
func (j *Job) SystemRetries(def int) int {
	if j.Retry != nil && j.Retry.Covers("runner_system_failure") {
		return j.Retry.Max
	}
	return def
}

// Runner is a registered runner agent.
type Runner struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Tags         []string  `json:"tags,omitempty"`
	RunUntagged  bool      `json:"run_untagged"`
	Capacity     int       `json:"capacity,omitempty"`
	Version      string    `json:"version,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
	LastSeenAt   time.Time `json:"last_seen_at,omitzero"`
}

// CanRun reports whether a runner with tags and runUntagged may take a job
// with jobTags: the runner must carry every tag of the job, and a job
// without tags goes only to runners that accept untagged jobs (GitLab's
// rule).
func CanRun(runnerTags []string, runUntagged bool, jobTags []string) bool {
	if len(jobTags) == 0 {
		return runUntagged
	}
	for _, t := range jobTags {
		if !slices.Contains(runnerTags, t) {
			return false
		}
	}
	return true
}
