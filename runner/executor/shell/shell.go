// Package shell is the executor that runs jobs directly on the runner's
// host with a POSIX shell, as GitLab Runner's shell executor does: no
// isolation, the job's image is ignored, and services are not supported.
// Each attempt gets its own directory under BuildsDir, removed afterwards.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/pkg/source"
	"github.com/gantry-ci/gantry/runner/executor"
)

// Defaults for the zero values of Config and Job fields.
const (
	DefaultShell              = "sh"
	DefaultCancelGrace        = 10 * time.Second
	DefaultAfterScriptTimeout = 5 * time.Minute
	defaultProjectName        = "project"
)

// Config configures an Executor.
type Config struct {
	// BuildsDir holds the attempts' work directories. Required.
	BuildsDir string
	// Shell runs the scripts as `<Shell> -c <script>`; default "sh".
	Shell string
	// DefaultCancelGrace is the SIGTERM→SIGKILL delay for jobs that do not
	// set Job.CancelGrace.
	DefaultCancelGrace time.Duration
}

// Executor runs jobs as shell processes on the runner's host. It is safe
// for concurrent use.
type Executor struct {
	cfg    Config
	logger *zap.Logger
}

var _ executor.Executor = (*Executor)(nil)

// New returns an Executor; cfg's zero fields other than BuildsDir take
// the defaults. Run reports a system failure while BuildsDir is empty.
func New(cfg Config, logger *zap.Logger) *Executor {
	if cfg.Shell == "" {
		cfg.Shell = DefaultShell
	}
	if cfg.DefaultCancelGrace <= 0 {
		cfg.DefaultCancelGrace = DefaultCancelGrace
	}
	return &Executor{cfg: cfg, logger: logger}
}

// Run runs one job attempt; see executor.Executor.
func (e *Executor) Run(ctx context.Context, job *executor.Job, log io.Writer) (executor.Result, error) {
	project, err := validate(job)
	if err != nil {
		return executor.SystemFailure(err.Error()), err
	}
	if e.cfg.BuildsDir == "" {
		return executor.SystemFailure("shell executor: BuildsDir is not configured"), nil
	}
	if n := len(job.Services); n > 0 {
		return executor.SystemFailure(fmt.Sprintf("services need the docker executor; job %s defines %d services",
			jobName(job), n)), nil
	}

	grace := job.CancelGrace
	if grace <= 0 {
		grace = e.cfg.DefaultCancelGrace
	}
	// Absolute, so CI_PROJECT_DIR is usable from anywhere.
	buildsDir, err := filepath.Abs(e.cfg.BuildsDir)
	if err != nil {
		return executor.SystemFailure(fmt.Sprintf("shell executor: BuildsDir: %v", err)), nil
	}
	jobDir := filepath.Join(buildsDir, fmt.Sprintf("%d-%d", job.ID, job.Epoch))
	r := &attempt{
		e:         e,
		job:       job,
		log:       executor.NewSyncWriter(log),
		logger:    e.logger.With(zap.Int64("job_id", job.ID), zap.Int64("epoch", job.Epoch)),
		buildsDir: buildsDir,
		dir:       filepath.Join(jobDir, filepath.FromSlash(project)),
		grace:     grace,
	}
	defer func() {
		if err := removeAll(jobDir); err != nil {
			r.logger.Warn("removing the job directory failed", zap.String("dir", jobDir), zap.Error(err))
		}
	}()
	res := r.run(ctx, jobDir)
	if job.Finished != nil {
		job.Finished(res) // before the job directory is removed
	}
	if err := r.log.Err(); err != nil {
		r.logger.Warn("writing the job log failed; later output was dropped", zap.Error(err))
	}
	r.logger.Info("job attempt finished",
		zap.Stringer("outcome", res.Outcome), zap.Int("exit_code", res.ExitCode))
	return res, nil
}

// validate returns the job's project directory, relative and
// slash-separated, or why the job cannot run.
func validate(job *executor.Job) (string, error) {
	if job == nil {
		return "", fmt.Errorf("%w: nil job", executor.ErrInvalidJob)
	}
	if !slices.ContainsFunc(job.Script, func(c string) bool { return strings.TrimSpace(c) != "" }) {
		return "", fmt.Errorf("%w: job %d has no script", executor.ErrInvalidJob, job.ID)
	}
	if job.ProjectName == "" {
		return defaultProjectName, nil
	}
	clean := path.Clean(job.ProjectName)
	if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: job %d: project name %q leaves the builds directory",
			executor.ErrInvalidJob, job.ID, job.ProjectName)
	}
	return clean, nil
}

func jobName(job *executor.Job) string {
	if job.Name != "" {
		return job.Name
	}
	return strconv.FormatInt(job.ID, 10)
}

// attempt is the state of one Run.
type attempt struct {
	e         *Executor
	job       *executor.Job
	log       *executor.SyncWriter
	logger    *zap.Logger
	buildsDir string
	dir       string // the project directory, the scripts' working directory
	grace     time.Duration
}

func (a *attempt) logf(format string, args ...any) {
	fmt.Fprintf(a.log, format+"\n", args...)
}

func (a *attempt) run(ctx context.Context, jobDir string) executor.Result {
	a.logf("Using Shell executor (%s) ...", a.e.cfg.Shell)
	// A previous run of this very attempt may have crashed mid-way.
	if err := removeAll(jobDir); err != nil {
		return a.systemFailure(ctx, "removing an old job directory", err)
	}
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		return a.systemFailure(ctx, "creating the job directory", err)
	}
	if a.job.Source != nil {
		if err := a.unpackSource(ctx); err != nil {
			return a.systemFailure(ctx, "unpacking the job source", err)
		}
	}
	tracked, err := executor.ListTree(ctx, a.dir)
	if err != nil {
		return a.systemFailure(ctx, "listing the job source", err)
	}
	if err := a.downloadDependencies(ctx); err != nil {
		return a.failure(ctx, err.Error())
	}
	if err := executor.RestoreCaches(ctx, a.job, a.log, func(ctx context.Context, archive io.Reader) error {
		return source.Unpack(ctx, archive, a.dir, source.UnpackOptions{})
	}); err != nil {
		return executor.CanceledBeforeScript()
	}
	if ctx.Err() != nil {
		return executor.CanceledBeforeScript()
	}

	a.logf("Executing \"step_script\" stage of the job script")
	end, err := a.runScript(ctx, scriptSpec{
		build:    true,
		commands: append(append([]string(nil), a.job.BeforeScript...), a.job.Script...),
		timeout:  a.job.Timeout,
	})
	if err != nil && !end.Started {
		return a.systemFailure(ctx, "starting the script", err)
	}
	res := executor.ScriptResult(end, err, a.job.Timeout, "waiting for the script")
	if res.Outcome == executor.OutcomeSystemFailure {
		a.logf("ERROR: Job failed (system failure): %s", res.Message)
	}
	a.runAfterScript(ctx, res.Outcome.JobStatus())
	// After after_script, so its output can be kept; before Finished and
	// the removal of the job directory.
	collect := func(ctx context.Context, c *executor.ArtifactCollector) error {
		c.UseTracked(func(name string) bool { return tracked[name] })
		return executor.CollectDir(ctx, a.dir, c)
	}
	res = executor.UploadJobArtifacts(ctx, a.job, res, a.dir, a.log, collect)
	executor.UploadJobReports(ctx, a.job, res, a.dir, a.log, collect)
	executor.SaveCaches(ctx, a.job, res, a.dir, a.log, collect)
	return res
}

func (a *attempt) unpackSource(ctx context.Context) error {
	rc, err := a.job.Source(ctx)
	if err != nil {
		return fmt.Errorf("fetching job source: %w", err)
	}
	defer rc.Close()
	// Unpack does not interrupt a blocked Read: closing the reader does.
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	return source.Unpack(ctx, rc, a.dir, source.UnpackOptions{})
}

// downloadDependencies unpacks the dependencies' artifacts into the
// project directory, in order, with the same guards as the source: an
// archive may not create, modify or point at anything outside it.
func (a *attempt) downloadDependencies(ctx context.Context) error {
	return executor.DownloadDependencies(ctx, a.job.Dependencies, a.log, func(ctx context.Context, archive io.Reader) error {
		return source.Unpack(ctx, archive, a.dir, source.UnpackOptions{})
	})
}

// systemFailure reports an executor error, or a cancellation when ctx was
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

// runAfterScript runs after_script in the job's directory whatever
// happened to the script; its outcome is only logged, as in GitLab.
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
		commands:  a.job.AfterScript,
		timeout:   timeout,
		extraVars: []executor.Variable{{Key: "CI_JOB_STATUS", Value: status}},
	})
	if w := executor.AfterScriptWarning(end, err, timeout); w != "" {
		a.logf("%s", w)
	}
}

// removeAll removes dir like os.RemoveAll, first making directories
// writable: a job may leave read-only trees (Go's module cache does).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
