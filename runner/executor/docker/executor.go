// Package docker is the executor that runs each job attempt in Docker
// containers, as GitLab Runner's docker executor does: a job container from
// the job's image, service containers beside it on a private bridge network,
// and a volume holding the workspace. Everything it creates is named and
// labelled after the runner, job and epoch, and removed when the attempt
// ends; Prune removes what a crashed runner left behind.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/runner/executor"
)

// DockerAPI is the part of the Docker Engine client the executor uses;
// *client.Client satisfies it.
type DockerAPI interface {
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)

	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerAttach(ctx context.Context, containerID string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerWait(ctx context.Context, containerID string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerKill(ctx context.Context, containerID, signal string) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	CopyFromContainer(ctx context.Context, containerID, srcPath string) (io.ReadCloser, container.PathStat, error)

	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, networkID string) error

	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
}

var (
	_ DockerAPI         = (*client.Client)(nil)
	_ executor.Executor = (*Executor)(nil)
)

// PullPolicy says when the executor pulls an image.
type PullPolicy string

// Pull policies, as GitLab Runner names them.
const (
	// PullIfNotPresent pulls only images missing locally (the default).
	PullIfNotPresent PullPolicy = "if-not-present"
	// PullAlways pulls every image before each job.
	PullAlways PullPolicy = "always"
	// PullNever uses local images only.
	PullNever PullPolicy = "never"
)

// Defaults for the zero values of Config and Job fields.
const (
	DefaultCancelGrace        = 10 * time.Second
	DefaultBuildsDir          = "/builds"
	DefaultServiceWaitTimeout = 30 * time.Second
	DefaultAfterScriptTimeout = 5 * time.Minute
	defaultProjectName        = "project"
	// cleanupTimeout bounds the removal of an attempt's resources.
	cleanupTimeout = 2 * time.Minute
)

// Config configures an Executor. Zero values mean the defaults.
type Config struct {
	// RunnerID identifies this runner in resource names and labels. It
	// should be set and unique among the runners sharing a Docker engine:
	// Prune removes everything labelled with it.
	RunnerID string
	// PullPolicy defaults to PullIfNotPresent.
	PullPolicy PullPolicy
	// DefaultCancelGrace is the SIGTERM→SIGKILL delay for jobs that do not
	// set Job.CancelGrace.
	DefaultCancelGrace time.Duration
	// BuildsDir is where the workspace volume is mounted in containers.
	BuildsDir string
	// ServiceWaitTimeout bounds the wait for services to become ready.
	ServiceWaitTimeout time.Duration
	// WarmSpares is how many job networks and volumes are kept created
	// ahead of jobs (0 disables it). A runner sets it to its concurrency;
	// Close removes the unused ones.
	WarmSpares int
	// ContainerStarted, if set, learns how long the engine took to
	// create and start each container, by role (build, after-script,
	// service): for metrics.
	ContainerStarted func(role string, took time.Duration)
}

func (c Config) withDefaults() Config {
	if c.PullPolicy == "" {
		c.PullPolicy = PullIfNotPresent
	}
	if c.DefaultCancelGrace <= 0 {
		c.DefaultCancelGrace = DefaultCancelGrace
	}
	if c.BuildsDir == "" {
		c.BuildsDir = DefaultBuildsDir
	}
	if c.ServiceWaitTimeout <= 0 {
		c.ServiceWaitTimeout = DefaultServiceWaitTimeout
	}
	if c.ContainerStarted == nil {
		c.ContainerStarted = func(string, time.Duration) {}
	}
	return c
}

// Executor runs jobs in Docker containers. It is safe for concurrent use:
// each Run works on its own attempt's resources.
type Executor struct {
	cli    DockerAPI
	cfg    Config
	logger *zap.Logger

	spares     chan spare
	warmCtx    context.Context
	warmCancel context.CancelFunc
	warmMu     sync.Mutex
	warmWG     sync.WaitGroup
	refilling  bool
	closed     bool
}

// New returns an Executor using cli; cfg's zero fields take the defaults.
//
// A *client.Client created WithAPIVersionNegotiation negotiates lazily and
// racily on first use: call its NegotiateAPIVersion before sharing it.
func New(cli DockerAPI, cfg Config, logger *zap.Logger) *Executor {
	cfg = cfg.withDefaults()
	warmCtx, warmCancel := context.WithCancel(context.Background())
	e := &Executor{
		cli:        cli,
		cfg:        cfg,
		logger:     logger.With(zap.String("runner_id", cfg.RunnerID)),
		spares:     make(chan spare, max(cfg.WarmSpares, 0)),
		warmCtx:    warmCtx,
		warmCancel: warmCancel,
	}
	return e
}

// Warm starts creating the spare networks and volumes (see WarmSpares).
func (e *Executor) Warm() { e.refill() }

// Run runs one job attempt; see executor.Executor.
func (e *Executor) Run(ctx context.Context, job *executor.Job, log io.Writer) (executor.Result, error) {
	if err := e.validate(job); err != nil {
		return executor.Result{
			Outcome:  executor.OutcomeSystemFailure,
			ExitCode: -1,
			Message:  err.Error(),
		}, err
	}
	a := e.newAttempt(job, log)
	defer a.cleanup(ctx)
	res := a.run(ctx)
	if job.Finished != nil {
		// Report before cleanup: the outcome and the log are final.
		job.Finished(res)
	}
	if err := a.log.Err(); err != nil {
		a.logger.Warn("writing the job log failed; later output was dropped", zap.Error(err))
	}
	a.logger.Info("job attempt finished",
		zap.Stringer("outcome", res.Outcome), zap.Int("exit_code", res.ExitCode))
	return res, nil
}

func (e *Executor) validate(job *executor.Job) error {
	switch {
	case job == nil:
		return fmt.Errorf("%w: nil job", executor.ErrInvalidJob)
	case job.Image.Name == "":
		return fmt.Errorf("%w: job %d has no image", executor.ErrInvalidJob, job.ID)
	case !executor.HasCommands(job.Script):
		return fmt.Errorf("%w: job %d has no script", executor.ErrInvalidJob, job.ID)
	}
	for i, s := range job.Services {
		if s.Name == "" {
			return fmt.Errorf("%w: job %d: service %d has no image", executor.ErrInvalidJob, job.ID, i)
		}
	}
	if _, err := projectDir(job.ProjectName); err != nil {
		return fmt.Errorf("%w: job %d: %w", executor.ErrInvalidJob, job.ID, err)
	}
	return nil
}

// projectDir validates a project name and returns it as a relative,
// slash-separated path ("project" when empty).
func projectDir(name string) (string, error) {
	if name == "" {
		return defaultProjectName, nil
	}
	clean := path.Clean(name)
	if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("project name %q leaves the builds directory", name)
	}
	return clean, nil
}

// attempt is the state of one Run: what it created and where it logs.
type attempt struct {
	e      *Executor
	cli    DockerAPI
	job    *executor.Job
	log    *executor.SyncWriter
	logger *zap.Logger
	names  names
	// network and volume are the job's own; from a warm spare when spare.
	network, volume string
	spare           bool
	project         string // relative to BuildsDir
	grace           time.Duration
	// tracked names what the job's source put in the workspace (set
	// before the container starts, read after it ended).
	tracked map[string]bool
}

func (e *Executor) newAttempt(job *executor.Job, log io.Writer) *attempt {
	project, _ := projectDir(job.ProjectName) // validated by Run
	n := newNames(e.cfg.RunnerID, job.ID, job.Epoch)
	grace := job.CancelGrace
	if grace <= 0 {
		grace = e.cfg.DefaultCancelGrace
	}
	return &attempt{
		e:       e,
		cli:     e.cli,
		job:     job,
		log:     executor.NewSyncWriter(log),
		logger:  e.logger.With(zap.Int64("job_id", job.ID), zap.Int64("epoch", job.Epoch)),
		names:   n,
		network: n.network(),
		volume:  n.volume(),
		project: project,
		grace:   grace,
	}
}

// workspace is the job's working directory inside containers.
func (a *attempt) workspace() string {
	return path.Join(a.e.cfg.BuildsDir, a.project)
}

// logf writes one line to the job log.
func (a *attempt) logf(format string, args ...any) {
	fmt.Fprintf(a.log, format+"\n", args...)
}

// run performs the attempt up to (not including) cleanup.
func (a *attempt) run(ctx context.Context) executor.Result {
	// A previous run of this very attempt may have crashed mid-way.
	leftCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	err := a.e.removeResources(leftCtx, a.names.filter())
	cancel()
	if err != nil {
		return a.systemFailure(ctx, "removing leftovers of a previous run of this attempt", err)
	}
	a.logf("Using Docker executor with image %s ...", a.job.Image.Name)
	if res, ok := a.ensureImages(ctx); !ok {
		return res
	}
	if err := a.createNetworkAndVolume(ctx); err != nil {
		return a.systemFailure(ctx, "creating the job network and volume", err)
	}
	if len(a.job.Services) > 0 {
		svcs, err := a.startServices(ctx)
		if err != nil {
			return a.systemFailure(ctx, "starting services", err)
		}
		a.waitServices(ctx, svcs)
	}
	if ctx.Err() != nil {
		return executor.CanceledBeforeScript()
	}

	end, err := a.runScript(ctx, scriptSpec{
		role:     roleBuild,
		name:     a.names.build(),
		commands: append(append([]string(nil), a.job.BeforeScript...), a.job.Script...),
		timeout:  a.job.Timeout,
		prepare: func(ctx context.Context, id string) error {
			// Dependencies are downloaded before the script's stage, as
			// GitLab logs it.
			if err := a.prepareWorkspace(ctx, id); err != nil {
				return err
			}
			a.logf("Executing \"step_script\" stage of the job script")
			return nil
		},
	})
	if err != nil && !end.Started {
		var depErr *executor.DependencyError
		if errors.As(err, &depErr) {
			return a.failure(ctx, depErr.Error())
		}
		return a.systemFailure(ctx, "running the job container", err)
	}
	res := executor.ScriptResult(end, err, a.job.Timeout, "waiting for the job container")
	if res.Outcome == executor.OutcomeSystemFailure {
		a.logf("ERROR: Job failed (system failure): %s", res.Message)
	}
	a.runAfterScript(ctx, res.Outcome.JobStatus())
	res = a.uploadArtifacts(ctx, res)
	executor.UploadJobReports(ctx, a.job, res, a.workspace(), a.log, a.collectArtifacts)
	executor.SaveCaches(ctx, a.job, res, a.workspace(), a.log, a.collectArtifacts)
	return res
}

// systemFailure reports a Docker error, or a cancellation when ctx was
// cancelled meanwhile (the error is then most likely its consequence).
func (a *attempt) systemFailure(ctx context.Context, what string, err error) executor.Result {
	return a.failure(ctx, fmt.Sprintf("%s: %v", what, err))
}

// failure is systemFailure with the message made.
func (a *attempt) failure(ctx context.Context, msg string) executor.Result {
	if ctx.Err() != nil {
		return executor.CanceledBeforeScript()
	}
	a.logf("ERROR: Job failed (system failure): %s", msg)
	return executor.SystemFailure(msg)
}

// runAfterScript runs after_script in a fresh container, whatever happened
// to the script, with CI_JOB_STATUS set to status. Its outcome is only
// logged, as in GitLab.
func (a *attempt) runAfterScript(ctx context.Context, status string) {
	if !executor.HasCommands(a.job.AfterScript) {
		return
	}
	timeout := a.job.AfterScriptTimeout
	if timeout <= 0 {
		timeout = DefaultAfterScriptTimeout
	}
	a.logf("Running after_script")
	// The job's ctx may be cancelled: after_script runs regardless.
	end, err := a.runScript(context.WithoutCancel(ctx), scriptSpec{
		role:      roleAfterScript,
		name:      a.names.afterScript(),
		commands:  a.job.AfterScript,
		timeout:   timeout,
		extraVars: []executor.Variable{{Key: "CI_JOB_STATUS", Value: status}},
	})
	if w := executor.AfterScriptWarning(end, err, timeout); w != "" {
		a.logf("%s", w)
	}
}
