package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// process is a coordinator or runner this program started and stops.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startProcess starts bin with args, its output in logPath. It gets its
// own process group (a terminal's Ctrl-C stays ours, so we stop it in
// order) and dies with us through Pdeathsig if we die without cleaning up.
func startProcess(name, bin, logPath string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = cleanEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() { // owned by stop, which waits for exited
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM (a runner drains, a coordinator shuts down) and
// waits; after 30 s it kills the process group.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s ignored SIGTERM and was killed:\n%s", p.name, p.logTail(10))
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s exited uncleanly (%v):\n%s", p.name, p.waitErr, p.logTail(10))
	}
	return nil
}

// logTail returns the last n lines of the process's log.
func (p *process) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// fleet is one coordinator (embedded etcd) and one runner, and a client.
type fleet struct {
	dir         string
	bin         string
	addr        string
	coordinator *process
	runner      *process
	conn        *grpc.ClientConn
	pipeline    gantryv1.PipelineServiceClient
	admin       gantryv1.AdminServiceClient
}

// startFleet starts a coordinator with its data under dir and a runner
// with the given executor, and waits until the runner is connected. The
// caller must stop it.
func startFleet(ctx context.Context, cfg *Config, dir, executor string, maxArtifact int64) (*fleet, error) {
	f := &fleet{dir: dir, bin: cfg.Bin}
	token := randomToken()
	ready := filepath.Join(dir, "coordinator.addr")
	var err error
	f.coordinator, err = startProcess("coordinator", filepath.Join(cfg.Bin, "gantry-coordinator"), filepath.Join(dir, "coordinator.log"),
		"--listen", "127.0.0.1:0", "--ready-file", ready, "--data-dir", filepath.Join(dir, "data"),
		"--registration-token", token, "--max-artifact-size", strconv.FormatInt(maxArtifact, 10),
		"--log-level", "warn", "--log-format", "console")
	if err != nil {
		return nil, err
	}
	if f.addr, err = waitFile(ctx, ready, f.coordinator, time.Minute); err != nil {
		_ = f.stop()
		return nil, err
	}
	args := []string{"--coordinator", f.addr, "--config", filepath.Join(dir, "runner.yml"),
		"--registration-token", token, "--name", "bench-" + executor, "--executor", executor,
		"--log-spool-dir", filepath.Join(dir, "spool"), "--log-level", "warn", "--log-format", "console"}
	if executor == "shell" {
		args = append(args, "--builds-dir", filepath.Join(dir, "builds"))
	} else {
		args = append(args, "--pull-policy", "never")
	}
	if f.runner, err = startProcess("runner", filepath.Join(cfg.Bin, "gantry-runner"), filepath.Join(dir, "runner.log"), args...); err != nil {
		_ = f.stop()
		return nil, err
	}
	f.conn, err = grpc.NewClient(f.addr, append(protocol.ClientInterceptors(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		_ = f.stop()
		return nil, fmt.Errorf("dial coordinator: %w", err)
	}
	f.pipeline, f.admin = gantryv1.NewPipelineServiceClient(f.conn), gantryv1.NewAdminServiceClient(f.conn)
	if err := f.waitRunner(ctx, time.Minute); err != nil {
		_ = f.stop()
		return nil, err
	}
	return f, nil
}

// waitFile polls for the ready file a coordinator writes once serving.
func waitFile(ctx context.Context, path string, p *process, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b)), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-p.exited:
			return "", fmt.Errorf("%s exited before serving (%v):\n%s", p.name, p.waitErr, p.logTail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s not serving after %s:\n%s", p.name, timeout, p.logTail(20))
}

// waitRunner polls ListRunners until the runner is connected.
func (f *fleet) waitRunner(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := f.admin.ListRunners(ctx, &gantryv1.ListRunnersRequest{})
		if err == nil {
			for _, r := range resp.GetRunners() {
				if r.GetConnected() {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.runner.exited:
			return fmt.Errorf("runner exited (%v):\n%s", f.runner.waitErr, f.runner.logTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("runner not connected after %s:\n%s", timeout, f.runner.logTail(20))
}

// stop stops the runner, then the coordinator.
func (f *fleet) stop() error {
	var errs []error
	if f.conn != nil {
		_ = f.conn.Close()
	}
	if f.runner != nil {
		errs = append(errs, f.runner.stop())
	}
	if f.coordinator != nil {
		errs = append(errs, f.coordinator.stop())
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// cli runs the gantry CLI against the fleet's coordinator and returns its
// stdout, or an error with its stderr.
func (f *fleet) cli(ctx context.Context, args ...string) (string, *os.ProcessState, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(f.bin, "gantry"), append([]string{"--coordinator", f.addr, "--color", "never"}, args...)...)
	cmd.Env = cleanEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return "", cmd.ProcessState, fmt.Errorf("gantry %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), cmd.ProcessState, nil
}

// jobLog reads a finished job's whole log.
func (f *fleet) jobLog(ctx context.Context, runID int64, job string) (string, error) {
	stream, err := f.pipeline.FollowLog(ctx, &gantryv1.FollowLogRequest{RunId: runID, JobName: job})
	if err != nil {
		return "", fmt.Errorf("log of %s: %w", job, err)
	}
	var b strings.Builder
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", fmt.Errorf("log of %s: %w", job, err)
		}
		b.Write(m.GetData())
	}
}

// waitRun follows a run until it ends and returns its last state.
func (f *fleet) waitRun(ctx context.Context, runID int64) (*gantryv1.WatchRunResponse, error) {
	stream, err := f.pipeline.WatchRun(ctx, &gantryv1.WatchRunRequest{RunId: runID})
	if err != nil {
		return nil, fmt.Errorf("watch run %d: %w", runID, err)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("watch run %d: %w", runID, err)
		}
		switch m.GetRun().GetStatus() {
		case gantryv1.RunStatus_RUN_STATUS_SUCCESS, gantryv1.RunStatus_RUN_STATUS_FAILED,
			gantryv1.RunStatus_RUN_STATUS_CANCELED, gantryv1.RunStatus_RUN_STATUS_BLOCKED:
			return m, nil
		}
	}
}

// cleanEnv returns env without GANTRY_* variables: the processes under
// test are configured by their flags alone.
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GANTRY_") {
			out = append(out, kv)
		}
	}
	return out
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
