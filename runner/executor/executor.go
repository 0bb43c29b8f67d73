// Package executor defines how a runner executes one job attempt: the job
// description an executor receives, the outcome it reports, and the small
// interface every executor (docker, shell) implements.
//
// Executors know nothing about gRPC or the coordinator: the runner's agent
// converts a lease into a Job, hands the executor a log writer, and turns
// the Result into a completion report.
package executor

import (
	"context"
	"errors"
	"io"
	"time"
)

// Executor runs one job attempt to its end.
//
// Run blocks until the job has finished and everything the executor created
// for it (containers, networks, volumes, work directories) has been removed,
// including on failure, timeout and cancellation.
//
// Cancellation: when ctx is cancelled the executor stops the script
// (SIGTERM, then SIGKILL after Job.CancelGrace), still runs after_script,
// cleans up, and returns a Result with Outcome OutcomeCanceled.
//
// Run returns a non-nil error only when it could not report an outcome at
// all; every expected failure (script failure, timeout, missing image,
// Docker errors) is reported in the Result.
type Executor interface {
	Run(ctx context.Context, job *Job, log io.Writer) (Result, error)
}

// Job is everything an executor needs to run one attempt of a job.
type Job struct {
	// ID and Epoch identify the attempt; executors use them to name and
	// label what they create so leftovers can be found and removed.
	ID    int64
	Epoch int64
	RunID int64
	Name  string
	Stage string
	// ProjectName names the workspace directory (/builds/<ProjectName>).
	ProjectName string

	Image    Image
	Services []Service

	BeforeScript []string
	Script       []string
	AfterScript  []string

	// Variables are exported to the script, services and after_script, in
	// order; later entries override earlier ones with the same key.
	Variables []Variable

	// Timeout bounds before_script+script; zero means no timeout.
	Timeout time.Duration
	// CancelGrace is how long a cancelled or timed-out script gets between
	// SIGTERM and SIGKILL. Zero means the executor's default.
	CancelGrace time.Duration
	// AfterScriptTimeout bounds after_script; zero means 5 minutes (as GitLab).
	AfterScriptTimeout time.Duration

	// Finished, if set, is called once with the outcome as soon as the
	// script and after_script have ended and all their output has been
	// written to the log, before the executor removes what it created:
	// the caller can report the job while cleanup goes on. Run still
	// returns only after cleanup, with the same Result.
	Finished func(Result)

	// Source opens the job's source archive (a gzip-compressed tar). It may
	// be nil when the job has no source. It is called at most once.
	Source func(ctx context.Context) (io.ReadCloser, error)

	// Dependencies are the artifact archives of the jobs this one depends
	// on, unpacked into the workspace in order after the source (a later
	// one overwrites what an earlier one wrote), before before_script.
	Dependencies []Dependency

	// Artifacts, if set, says which workspace files to keep once the
	// script and after_script have ended, and for which outcomes. The
	// executor collects them into one gzip-compressed tar (paths relative
	// to the workspace) and passes it to UploadArtifacts, before Finished
	// is called. A collection or upload failure fails the job (as in
	// GitLab), with the reason in the log and the Result's message.
	Artifacts       *Artifacts
	UploadArtifacts func(ctx context.Context, archive io.Reader) error
	// MaxArtifactBytes bounds the compressed archive; 0 means no limit.
	MaxArtifactBytes int64

	// Reports are the job's artifacts:reports files, uploaded after the
	// artifacts whatever the outcome but canceled (UploadJobReports), as
	// one archive. UploadReports returns lines for the job log saying
	// what the coordinator read in them.
	Reports       []Report
	UploadReports func(ctx context.Context, archive io.Reader) ([]string, error)

	// Caches are restored after the dependencies (policy pull or
	// pull-push: the first key found) and saved after the artifacts
	// (policy push or pull-push, under the first key, when When matches
	// the outcome). OpenCache returns an error wrapping ErrNoCache when
	// a key has no cache. A cache that cannot be restored or saved is a
	// warning in the log, never a job failure (as in GitLab).
	Caches      []Cache
	OpenCache   func(ctx context.Context, key string) (io.ReadCloser, error)
	UploadCache func(ctx context.Context, key string, archive io.Reader) error
}

// ErrNoCache means no cache is saved under a key.
var ErrNoCache = errors.New("no cache under this key")

// Cache is one `cache:` entry, keys resolved.
type Cache struct {
	// Keys are the key to restore first, then the fallback keys; the
	// cache is saved under Keys[0].
	Keys      []string
	Paths     []string
	Untracked bool
	// Policy is pull-push (""), pull or push.
	Policy string
	// When is on_success (""), on_failure or always: when to save.
	When string
}

// Dependency is one job's artifact archive to unpack before the script.
type Dependency struct {
	// JobName is for log lines ("Downloading artifacts for build ...").
	JobName string
	// Open opens the gzip-compressed tar; it is called at most once.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Artifacts selects the files a job keeps (GitLab's `artifacts:`).
type Artifacts struct {
	// Paths and Exclude are globs relative to the workspace, matched as
	// GitLab matches them (pipeline.MatchGlob: `**` crosses directories;
	// a directory path takes everything under it).
	Paths   []string
	Exclude []string
	// Untracked adds the files git does not track (only when the
	// workspace is a git checkout).
	Untracked bool
	// When is on_success (the default), on_failure or always.
	When string
}

// Image is the container image a job runs in.
type Image struct {
	Name string
	// Entrypoint overrides the image's ENTRYPOINT when EntrypointSet is
	// true; an empty Entrypoint with EntrypointSet clears it (GitLab's
	// `entrypoint: [""]`).
	Entrypoint    []string
	EntrypointSet bool
}

// Service is a container started beside the job container and reachable
// from it by its aliases.
type Service struct {
	Name string
	// Alias is an extra hostname for the service; it is reachable under
	// the names derived from Name as well (see docker executor).
	Alias         string
	Entrypoint    []string
	EntrypointSet bool
	Command       []string
	Variables     []Variable
}

// Variable is one environment variable.
type Variable struct {
	Key   string
	Value string
	// Raw values are not expanded (see WithDefaults).
	Raw bool
}

// Outcome is how a job attempt ended.
type Outcome int

// Outcomes an executor reports.
const (
	// OutcomeSuccess means every script command succeeded.
	OutcomeSuccess Outcome = iota + 1
	// OutcomeScriptFailure means the script exited non-zero (ExitCode).
	OutcomeScriptFailure
	// OutcomeTimeout means the script ran past Job.Timeout and was stopped.
	OutcomeTimeout
	// OutcomeCanceled means ctx was cancelled and the script was stopped.
	OutcomeCanceled
	// OutcomeImagePullFailure means the job or a service image was
	// missing locally and could not be pulled.
	OutcomeImagePullFailure
	// OutcomeSystemFailure means the executor itself failed (Docker
	// daemon errors, workspace errors...): not the script's fault.
	OutcomeSystemFailure
)

// String returns the outcome's name, for logs.
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeScriptFailure:
		return "script_failure"
	case OutcomeTimeout:
		return "timeout"
	case OutcomeCanceled:
		return "canceled"
	case OutcomeImagePullFailure:
		return "image_pull_failure"
	case OutcomeSystemFailure:
		return "system_failure"
	default:
		return "unknown"
	}
}

// Result is the outcome of a job attempt.
type Result struct {
	Outcome Outcome
	// ExitCode of the script (0 on success, -1 when it never ran).
	ExitCode int
	// Message explains a failure in words a user can act on, e.g.
	// `image "foo:1" not found locally and pull failed: ...`.
	Message string
}

// ErrInvalidJob is returned (wrapped) when a Job cannot be run as given,
// e.g. it has no script.
var ErrInvalidJob = errors.New("invalid job")
