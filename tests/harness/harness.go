// Package harness starts Gantry's real binaries for end-to-end tests:
// coordinators, runners and the CLI as separate processes, with their logs
// kept for failure reports and everything stopped when the test ends.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binaries builds gantry-coordinator, gantry-runner and gantry once per
// test process and returns the directory holding them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "gantry-e2e-bin-")
		if buildErr != nil {
			return
		}
		// Tests run the binaries with the race detector; benchmarks set
		// GANTRY_TEST_RACE=0 to measure what users run.
		args := []string{"build", "-o", binDir + "/"}
		if os.Getenv("GANTRY_TEST_RACE") != "0" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/...")...)
		cmd.Dir = Root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// CleanupBinaries removes the built binaries; call it from TestMain.
func CleanupBinaries() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// BuildTestImages runs deploy/testimages/build.sh.
func BuildTestImages() error {
	cmd := exec.Command(filepath.Join(Root(), "deploy", "testimages", "build.sh"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build test images: %w\n%s", err, out)
	}
	return nil
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Process is a started binary.
type Process struct {
	Name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// Start runs bin with args, logging to a file under dir, and stops it
// (SIGTERM, then SIGKILL after 15s) when the test ends.
func Start(t testing.TB, dir, name, bin string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(15 * time.Second)
		if t.Failed() {
			t.Logf("---- %s log (last 60 lines) ----\n%s", name, p.Tail(60))
		}
	})
	return p
}

// Stop sends SIGTERM and waits up to grace before SIGKILL.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill sends SIGKILL to the process group and waits.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Done is closed when the process exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Log returns the process's whole log.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// Tail returns the last n lines of the log.
func (p *Process) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFile waits until path exists and is not empty, and returns it.
func WaitFile(t testing.TB, path string, timeout time.Duration, p *Process) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited before writing %s:\n%s", p.Name, path, p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not write %s within %s:\n%s", p.Name, path, timeout, p.Tail(40))
	return ""
}

// Result is a finished CLI command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// CLI runs the gantry CLI against a coordinator and waits for it.
func CLI(ctx context.Context, t testing.TB, coordinator string, args ...string) Result {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(Binaries(t), "gantry"), args...)
	cmd.Env = append(os.Environ(), "GANTRY_COORDINATOR="+coordinator, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run gantry %v: %v", args, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}
