package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/runner/executor"
)

const (
	// drainTimeout bounds how long output may keep arriving after the
	// script's process group is gone (a process that left the group may
	// still hold the pipe).
	drainTimeout = 5 * time.Second
	// killTimeout bounds the wait for the shell to exit after SIGKILL.
	killTimeout = time.Minute
)

// scriptSpec is one script run: the job's or after_script's.
type scriptSpec struct {
	build    bool // the job's script, not after_script
	commands []string
	// timeout bounds the script; zero means none.
	timeout   time.Duration
	extraVars []executor.Variable
}

// scriptVariables are the job's variables plus CI_PROJECT_DIR and
// CI_BUILDS_DIR, unless the job sets them.
func (a *attempt) scriptVariables() []executor.Variable {
	return executor.WithDefaults(a.job.Variables,
		executor.Variable{Key: "CI_PROJECT_DIR", Value: a.dir},
		executor.Variable{Key: "CI_BUILDS_DIR", Value: a.buildsDir})
}

// runScript runs spec's commands with `<shell> -c` in the project
// directory, in a process group of their own. Cancelling ctx, or
// spec.timeout elapsing, stops the group: SIGTERM, then SIGKILL after the
// grace period. Whatever is left of the group when the shell exits is
// killed.
func (a *attempt) runScript(ctx context.Context, spec scriptSpec) (executor.ScriptEnd, error) {
	end := executor.ScriptEnd{ExitCode: -1}
	vars := append(a.scriptVariables(), spec.extraVars...)
	cmd := exec.Command(a.e.cfg.Shell, "-c", executor.ShellScript(vars, spec.commands))
	cmd.Dir = a.dir
	cmd.Env = os.Environ()
	for _, v := range vars {
		cmd.Env = append(cmd.Env, v.Key+"="+v.Value) // later duplicates win
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// One pipe for stdout and stderr keeps their lines in order. It is an
	// *os.File, so exec starts no copier of its own and Wait returns when
	// the shell exits, not when every holder of the pipe has closed it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return end, fmt.Errorf("creating the output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return end, fmt.Errorf("starting %s: %w", a.e.cfg.Shell, err)
	}
	end.Started = true
	pgid := cmd.Process.Pid

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(a.log, pr)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		// Background processes the script left behind go with it; then
		// the pipe's last writers are gone and the copier sees EOF.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-copied:
		case <-time.After(drainTimeout):
			a.logger.Warn("script output still open after the script ended; closing it")
		}
		pr.Close()
		<-copied
	}()

	var timeout <-chan time.Time
	if spec.timeout > 0 {
		t := time.NewTimer(spec.timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-exited:
		return exitEnd(end, err)
	case <-ctx.Done():
		end.Stopped = executor.StopCanceled
		a.logf("WARNING: Job canceled, stopping script")
	case <-timeout:
		end.Stopped = executor.StopTimeout
		if spec.build {
			a.logf("ERROR: Job failed: execution took longer than %v seconds", spec.timeout)
		}
	}
	return exitEnd(end, a.stop(pgid, exited))
}

// stop sends SIGTERM to the process group, then SIGKILL after the grace
// period, and returns the shell's Wait error.
func (a *attempt) stop(pgid int, exited <-chan error) error {
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		a.logger.Debug("sending SIGTERM failed", zap.Error(err))
	}
	grace := time.NewTimer(a.grace)
	defer grace.Stop()
	select {
	case err := <-exited:
		return err
	case <-grace.C:
	}
	a.logger.Info("script ignored SIGTERM; killing it", zap.Duration("grace", a.grace))
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		a.logger.Debug("sending SIGKILL failed", zap.Error(err))
	}
	kill := time.NewTimer(killTimeout)
	defer kill.Stop()
	select {
	case err := <-exited:
		return err
	case <-kill.C:
		return fmt.Errorf("the shell did not exit %v after SIGKILL", killTimeout)
	}
}

// exitEnd records the shell's exit status: its code, or 128+signal when a
// signal ended it (as shells and Docker report it).
func exitEnd(end executor.ScriptEnd, err error) (executor.ScriptEnd, error) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		end.ExitCode = 0
		return end, nil
	case errors.As(err, &ee):
		end.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			end.ExitCode = 128 + int(ws.Signal())
		}
		return end, nil
	default:
		return end, err
	}
}
