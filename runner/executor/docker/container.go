package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/runner/executor"
)

const (
	// drainTimeout bounds how long the output of an exited container may
	// take to arrive before the attach stream is closed.
	drainTimeout = 10 * time.Second
	// killTimeout bounds the wait for a container to exit after SIGKILL.
	killTimeout = time.Minute
)

// createNetworkAndVolume creates the job's bridge network and its
// workspace volume. Creation is not interrupted by cancellation: a request
// abandoned halfway could leave a resource we do not know about.
func (a *attempt) createNetworkAndVolume(ctx context.Context) error {
	if s, ok := a.e.takeSpare(); ok {
		a.network, a.volume, a.spare = s.network, s.volume, true
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := a.cli.NetworkCreate(ctx, a.network, network.CreateOptions{
		Driver: "bridge",
		Labels: a.names.labels(""),
	}); err != nil {
		return fmt.Errorf("creating network %s: %w", a.network, err)
	}
	if _, err := a.cli.VolumeCreate(ctx, volume.CreateOptions{
		Name:   a.volume,
		Driver: "local",
		Labels: a.names.labels(""),
	}); err != nil {
		return fmt.Errorf("creating volume %s: %w", a.volume, err)
	}
	return nil
}

// hostConfig attaches a container to the job's network and volume.
func (a *attempt) hostConfig() *container.HostConfig {
	return &container.HostConfig{
		NetworkMode: container.NetworkMode(a.network),
		Mounts: []mount.Mount{{
			Type:   mount.TypeVolume,
			Source: a.volume,
			Target: a.e.cfg.BuildsDir,
		}},
	}
}

// entrypoint converts a job's entrypoint override to Docker's: nil keeps
// the image's ENTRYPOINT, an empty non-nil list clears it. GitLab's
// `entrypoint: [""]` means "clear" too.
func entrypoint(ep []string, set bool) strslice.StrSlice {
	if !set {
		return nil
	}
	if len(ep) == 0 || (len(ep) == 1 && ep[0] == "") {
		return strslice.StrSlice{}
	}
	return strslice.StrSlice(ep)
}

// mergeStderr sends the script's stderr down its stdout: Docker carries
// the two on separate pipes, which would reorder an error message and the
// command echo before it in the log.
const mergeStderr = "exec 2>&1\n"

// scriptSpec is one script container: the job's or after_script's.
type scriptSpec struct {
	role     string
	name     string
	commands []string
	// timeout bounds the script once started; zero means none.
	timeout time.Duration
	// extraVars are exported after the job's variables.
	extraVars []executor.Variable
	// prepare, if set, runs on the created container before it starts.
	prepare func(ctx context.Context, id string) error
}

// runScript runs spec's commands in a new container from the job image and
// waits for it to exit. Cancelling ctx, or spec.timeout elapsing, stops the
// container: SIGTERM, then SIGKILL after the grace period.
func (a *attempt) runScript(ctx context.Context, spec scriptSpec) (executor.ScriptEnd, error) {
	end := executor.ScriptEnd{ExitCode: -1}
	// Creating, attaching and waiting must outlive a cancellation: the
	// container is then stopped and reaped, not abandoned.
	bg := context.WithoutCancel(ctx)
	vars := append(a.scriptVariables(), spec.extraVars...)
	cfg := &container.Config{
		Image:        a.job.Image.Name,
		Entrypoint:   entrypoint(a.job.Image.Entrypoint, a.job.Image.EntrypointSet),
		Cmd:          strslice.StrSlice{"sh", "-c", mergeStderr + executor.ShellScript(vars, spec.commands)},
		Env:          envList(vars),
		WorkingDir:   a.workspace(),
		Labels:       a.names.labels(spec.role),
		AttachStdout: true,
		AttachStderr: true,
	}
	host := a.hostConfig()
	// An init process as PID 1 forwards SIGTERM to the shell, which, unlike
	// a PID 1 shell, is then terminated by it.
	initProcess := true
	host.Init = &initProcess
	createStart := time.Now()
	created, err := a.cli.ContainerCreate(bg, cfg, host, nil, nil, spec.name)
	if err != nil {
		return end, fmt.Errorf("creating container %s: %w", spec.name, err)
	}
	took := time.Since(createStart) // plus the start, below; not the workspace copy
	id := created.ID
	if spec.prepare != nil {
		if err := spec.prepare(ctx, id); err != nil {
			return end, err
		}
	}
	if ctx.Err() != nil {
		return end, ctx.Err()
	}

	// Attach before starting, so no output is lost.
	att, err := a.cli.ContainerAttach(bg, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return end, fmt.Errorf("attaching to container %s: %w", spec.name, err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if _, err := stdcopy.StdCopy(a.log, a.log, att.Reader); err != nil {
			a.logger.Debug("container output stream ended", zap.String("container", spec.name), zap.Error(err))
		}
	}()
	exited := false
	defer func() {
		// Output of an exited container is still in flight; otherwise the
		// stream may never end on its own.
		if exited {
			select {
			case <-copied:
			case <-time.After(drainTimeout):
				a.logger.Warn("container output did not end after exit", zap.String("container", spec.name))
			}
		}
		att.Close()
		<-copied
	}()

	startStart := time.Now()
	if err := a.cli.ContainerStart(bg, id, container.StartOptions{}); err != nil {
		return end, fmt.Errorf("starting container %s: %w", spec.name, err)
	}
	a.e.cfg.ContainerStarted(spec.role, took+time.Since(startStart))
	end.Started = true
	exit, stopWatch := a.watchExit(bg, id)
	defer stopWatch()

	var timeout <-chan time.Time
	if spec.timeout > 0 {
		t := time.NewTimer(spec.timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case st := <-exit:
		exited = st.err == nil
		end.ExitCode = st.code
		return end, st.err
	case <-ctx.Done():
		end.Stopped = executor.StopCanceled
		a.logf("WARNING: Job canceled, stopping script")
	case <-timeout:
		end.Stopped = executor.StopTimeout
		if spec.role == roleBuild {
			a.logf("ERROR: Job failed: execution took longer than %v seconds", spec.timeout)
		}
	}
	st := a.stopContainer(bg, id, exit)
	exited = st.err == nil
	end.ExitCode = st.code
	return end, st.err
}

// scriptVariables are the job's variables plus CI_PROJECT_DIR and
// CI_BUILDS_DIR, unless the job sets them.
func (a *attempt) scriptVariables() []executor.Variable {
	return executor.WithDefaults(a.job.Variables,
		executor.Variable{Key: "CI_PROJECT_DIR", Value: a.workspace()},
		executor.Variable{Key: "CI_BUILDS_DIR", Value: a.e.cfg.BuildsDir})
}

// exitStatus is a container's exit code, or why it is unknown.
type exitStatus struct {
	code int
	err  error
}

// watchExit waits for container id to stop running. The returned channel
// receives exactly one status; stop ends the wait and must be called.
func (a *attempt) watchExit(ctx context.Context, id string) (<-chan exitStatus, func()) {
	ctx, cancel := context.WithCancel(ctx)
	resC, errC := a.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	out := make(chan exitStatus, 1)
	done := make(chan struct{})
	// The client's goroutine blocks on its unbuffered result channel until
	// someone receives, so this one always receives.
	go func() {
		defer close(done)
		select {
		case r := <-resC:
			st := exitStatus{code: int(r.StatusCode)}
			if r.Error != nil && r.Error.Message != "" {
				st.err = errors.New(r.Error.Message)
			}
			out <- st
		case err := <-errC:
			out <- exitStatus{code: -1, err: fmt.Errorf("waiting for container: %w", err)}
		}
	}()
	return out, func() {
		cancel()
		<-done
	}
}

// stopContainer sends SIGTERM, then SIGKILL after the grace period, and
// returns the container's exit status.
func (a *attempt) stopContainer(ctx context.Context, id string, exit <-chan exitStatus) exitStatus {
	if err := a.cli.ContainerKill(ctx, id, "SIGTERM"); err != nil {
		a.logger.Debug("sending SIGTERM failed", zap.String("container_id", id), zap.Error(err))
	}
	grace := time.NewTimer(a.grace)
	defer grace.Stop()
	select {
	case st := <-exit:
		return st
	case <-grace.C:
	}
	a.logger.Info("script ignored SIGTERM; killing it", zap.Duration("grace", a.grace))
	if err := a.cli.ContainerKill(ctx, id, "SIGKILL"); err != nil {
		a.logger.Debug("sending SIGKILL failed", zap.String("container_id", id), zap.Error(err))
	}
	kill := time.NewTimer(killTimeout)
	defer kill.Stop()
	select {
	case st := <-exit:
		return st
	case <-kill.C:
		return exitStatus{code: -1, err: fmt.Errorf("container %s did not exit %v after SIGKILL", id, killTimeout)}
	}
}
