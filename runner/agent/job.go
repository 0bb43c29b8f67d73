package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/logship"
	"github.com/gantry-ci/gantry/runner/mask"
)

// start begins a leased attempt unless it already runs.
func (a *Agent) start(kill context.Context, l *gantryv1.JobLease) {
	a.mu.Lock()
	if cur, ok := a.jobs[l.GetJobId()]; ok && cur.epoch >= l.GetEpoch() {
		a.mu.Unlock()
		return
	}
	if a.done {
		a.mu.Unlock()
		a.log.Warn("lease arrived after the runner drained; not starting it (the coordinator requeues it)", zap.Int64("job_id", l.GetJobId()))
		return
	}
	ctx, cancel := context.WithCancel(kill)
	j := &job{id: l.GetJobId(), epoch: l.GetEpoch(), cancel: cancel}
	a.jobs[j.id] = j
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer cancel()
		a.runJob(ctx, kill, j, l)
		a.mu.Lock()
		if a.jobs[j.id] == j {
			delete(a.jobs, j.id)
		}
		a.mu.Unlock()
		a.nudge()
		select {
		case a.jobEnded <- struct{}{}:
		default:
		}
	}()
}

// runJob executes one attempt and reports it. ctx is canceled when the
// coordinator cancels the job; calls to the coordinator use kill so the
// outcome of a canceled job is still reported.
func (a *Agent) runJob(ctx, kill context.Context, j *job, l *gantryv1.JobLease) {
	spec := l.GetSpec()
	log := a.log.With(zap.Int64("run_id", spec.GetRunId()), zap.Int64("job_id", j.id), zap.Int64("epoch", j.epoch), zap.String("job", spec.GetName()))
	log.Info("job started")

	// The spool comes first: a runner whose disk is broken must not
	// leave a started job behind.
	ship, err := logship.New(appender{a, j}, j.id, j.epoch, retryable, logship.Options{Dir: a.cfg.LogSpoolDir, MaxBytes: a.cfg.LogBufferBytes})
	if err != nil {
		a.abandon(j, log, "log spool", err) // heartbeat reconciliation gives the job back
		return
	}
	j.ship.Store(ship)
	defer func() {
		if err := ship.Remove(); err != nil { // Run removed it already; this reports a failed removal
			log.Warn("remove log spool", zap.Error(err))
		}
	}()
	var logw io.Writer = ship
	var cov *coverageScanner
	if expr := spec.GetCoverageRegex(); expr != "" {
		if cov, err = newCoverageScanner(expr); err != nil {
			log.Warn("coverage regex", zap.Error(err)) // the coordinator validated it; never fail a job for it
		} else {
			logw = io.MultiWriter(ship, cov) // the scanner never fails a write
		}
	}
	out := mask.New(logw, maskedValues(spec))

	err = retryCall(kill, func(c context.Context) error {
		_, err := a.client.StartJob(c, &gantryv1.StartJobRequest{JobId: j.id, Epoch: j.epoch})
		return err
	})
	if err != nil {
		a.abandon(j, log, "start", err)
		return
	}

	var g errgroup.Group
	g.Go(func() error {
		if err := ship.Run(kill); err != nil {
			if errors.Is(err, logship.ErrStale) {
				j.cancel() // no longer ours: stop executing
			}
			return err
		}
		return nil
	})
	var once sync.Once
	report := func(res executor.Result) {
		once.Do(func() { a.report(kill, j, log, out, ship, &g, res, cov) })
	}
	ej := a.executorJob(j, spec)
	ej.Finished = report
	res, err := a.exec.Run(ctx, ej, out)
	a.countOutcome(res, err)
	if err != nil {
		res = executor.Result{Outcome: executor.OutcomeSystemFailure, ExitCode: -1, Message: err.Error()}
		fmt.Fprintf(out, "\nERROR: %s\n", err)
	}
	report(res) // a no-op when the executor reported before its cleanup
}

// report flushes the log and records the outcome with the coordinator.
// out is the masking writer in front of ship: it is flushed before the
// shipper closes so held-back bytes are neither lost nor misplaced.
func (a *Agent) report(kill context.Context, j *job, log *zap.Logger, out *mask.Writer, ship *logship.Shipper, g *errgroup.Group, res executor.Result, cov *coverageScanner) {
	// GitLab's closing line, so a log read alone says how the job ended.
	switch res.Outcome {
	case executor.OutcomeSuccess:
		fmt.Fprintf(out, "Job succeeded\n")
	case executor.OutcomeCanceled:
		fmt.Fprintf(out, "ERROR: Job canceled\n")
	default:
		fmt.Fprintf(out, "ERROR: Job failed: %s\n", completion(j, res, 0).GetFailureMessage())
	}
	if err := out.Flush(); err != nil {
		log.Warn("flush masked log", zap.Error(err)) // the shipper never fails a write
	}
	ship.Close()
	if err := g.Wait(); err != nil {
		a.abandon(j, log, "ship log", err)
		return
	}
	req := completion(j, res, ship.Size())
	if cov != nil {
		if v, ok := cov.Coverage(); ok {
			req.Coverage = &v
		}
	}
	err := retryCall(kill, func(c context.Context) error {
		_, err := a.client.CompleteJob(c, req)
		return err
	})
	if err != nil {
		a.abandon(j, log, "complete", err)
		return
	}
	log.Info("job finished", zap.Stringer("outcome", res.Outcome), zap.Int("exit_code", res.ExitCode))
}

// abandon gives up on reporting an attempt: the coordinator refused it
// (a newer attempt exists) or the runner is being killed.
func (a *Agent) abandon(j *job, log *zap.Logger, step string, err error) {
	j.cancel()
	a.mu.Lock()
	j.stale = true
	a.mu.Unlock()
	log.Warn("job attempt abandoned", zap.String("step", step), zap.Error(err))
}

// completion turns an executor result into a completion report.
func completion(j *job, res executor.Result, logSize int64) *gantryv1.CompleteJobRequest {
	req := &gantryv1.CompleteJobRequest{JobId: j.id, Epoch: j.epoch, ExitCode: int32(res.ExitCode), FailureMessage: res.Message, LogSize: logSize}
	switch res.Outcome {
	case executor.OutcomeSuccess:
		req.Status = gantryv1.JobStatus_JOB_STATUS_SUCCESS
		req.FailureMessage = ""
	case executor.OutcomeScriptFailure:
		req.Status, req.FailureReason = gantryv1.JobStatus_JOB_STATUS_FAILED, gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE
		if req.FailureMessage == "" {
			req.FailureMessage = fmt.Sprintf("script exited with code %d", res.ExitCode)
		}
	case executor.OutcomeTimeout:
		req.Status, req.FailureReason = gantryv1.JobStatus_JOB_STATUS_FAILED, gantryv1.FailureReason_FAILURE_REASON_JOB_TIMEOUT
	case executor.OutcomeCanceled:
		req.Status, req.FailureReason = gantryv1.JobStatus_JOB_STATUS_CANCELED, gantryv1.FailureReason_FAILURE_REASON_CANCELED
	case executor.OutcomeImagePullFailure:
		req.Status, req.FailureReason = gantryv1.JobStatus_JOB_STATUS_FAILED, gantryv1.FailureReason_FAILURE_REASON_IMAGE_PULL_FAILURE
	default:
		req.Status, req.FailureReason = gantryv1.JobStatus_JOB_STATUS_FAILED, gantryv1.FailureReason_FAILURE_REASON_RUNNER_SYSTEM_FAILURE
	}
	return req
}

// executorJob converts a lease's spec for the executor.
func (a *Agent) executorJob(j *job, spec *gantryv1.JobSpec) *executor.Job {
	ej := &executor.Job{
		ID: j.id, Epoch: j.epoch, RunID: spec.GetRunId(), Name: spec.GetName(), Stage: spec.GetStage(),
		ProjectName:  spec.GetProjectName(),
		BeforeScript: spec.GetBeforeScript(), Script: spec.GetScript(), AfterScript: spec.GetAfterScript(),
		Variables:   append(a.runnerVariables(), vars(spec.GetVariables())...),
		Timeout:     spec.GetTimeout().AsDuration(),
		CancelGrace: a.cfg.CancelGrace,
	}
	if img := spec.GetImage(); img != nil {
		ej.Image = executor.Image{Name: img.GetName(), Entrypoint: img.GetEntrypoint(), EntrypointSet: img.GetEntrypointSet()}
	}
	for _, s := range spec.GetServices() {
		ej.Services = append(ej.Services, executor.Service{
			Name: s.GetName(), Alias: s.GetAlias(), Entrypoint: s.GetEntrypoint(), EntrypointSet: s.GetEntrypointSet(),
			Command: s.GetCommand(), Variables: vars(s.GetVariables()),
		})
	}
	if spec.GetHasSource() {
		ej.Source = func(ctx context.Context) (io.ReadCloser, error) { return a.download(ctx, j) }
	}
	a.withArtifacts(ej, j, spec)
	return ej
}

// maskedValues collects the values of the job's masked variables.
func maskedValues(spec *gantryv1.JobSpec) []string {
	var out []string
	add := func(vs []*gantryv1.Variable) {
		for _, v := range vs {
			if v.GetMasked() && v.GetValue() != "" {
				out = append(out, v.GetValue())
			}
		}
	}
	add(spec.GetVariables())
	for _, s := range spec.GetServices() {
		add(s.GetVariables())
	}
	return out
}

func vars(in []*gantryv1.Variable) []executor.Variable {
	out := make([]executor.Variable, 0, len(in))
	for _, v := range in {
		out = append(out, executor.Variable{Key: v.GetKey(), Value: v.GetValue(), Raw: v.GetRaw()})
	}
	return out
}

// download opens the run's source archive as a stream.
func (a *Agent) download(ctx context.Context, j *job) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := a.client.DownloadSource(ctx, &gantryv1.DownloadSourceRequest{JobId: j.id, Epoch: j.epoch})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("download source: %w", err)
	}
	return &streamReader{what: "download source", cancel: cancel, recv: func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetChunk(), err
	}}, nil
}

// runnerVariables are GitLab's predefined variables about the runner,
// first so that the job's own override them.
func (a *Agent) runnerVariables() []executor.Variable {
	tags := make([]string, len(a.cfg.Tags))
	for i, t := range a.cfg.Tags {
		tags[i] = strconv.Quote(t)
	}
	return []executor.Variable{
		{Key: "CI_RUNNER_DESCRIPTION", Value: a.cfg.Name, Raw: true},
		{Key: "CI_RUNNER_TAGS", Value: "[" + strings.Join(tags, ", ") + "]", Raw: true},
		{Key: "CI_RUNNER_VERSION", Value: a.cfg.Version, Raw: true},
	}
}
