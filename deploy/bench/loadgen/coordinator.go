package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// coordinator is the coordinator under test: a process this program
// started (and stops), or one it was pointed at.
type coordinator struct {
	Addr  string
	Token string
	// PID is 0 when unknown (--addr without --pid).
	PID int

	cmd     *exec.Cmd
	dir     string
	etcdURL string
	logFile *os.File
	exited  chan struct{}
	waitErr error
}

// startCoordinator starts bin with embedded etcd on a fresh data dir and
// a free loopback port, and waits until it serves. The caller must Stop it.
func startCoordinator(ctx context.Context, bin, logLevel, token string, log *zap.Logger) (*coordinator, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("coordinator binary: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("coordinator binary (run make build, or give --coordinator-bin): %w", err)
	}
	dir, err := os.MkdirTemp("", "gantry-dispatch-bench-")
	if err != nil {
		return nil, fmt.Errorf("coordinator data dir: %w", err)
	}
	c := &coordinator{Token: token, dir: dir, exited: make(chan struct{})}
	c.logFile, err = os.Create(filepath.Join(dir, "coordinator.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("coordinator log: %w", err)
	}
	ready := filepath.Join(dir, "ready")
	// The gRPC port comes back through the ready file; etcd's is chosen
	// here so the benchmark can ask etcd for its size.
	if c.etcdURL, err = freeLoopbackURL(); err != nil {
		c.logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.cmd = exec.Command(abs,
		"--listen", "127.0.0.1:0", "--ready-file", ready,
		"--data-dir", filepath.Join(dir, "data"), "--embedded-etcd-url", c.etcdURL,
		"--registration-token", token,
		"--log-level", logLevel, "--log-format", "console")
	c.cmd.Stdout, c.cmd.Stderr = c.logFile, c.logFile
	// Drop GANTRY_* settings meant for other coordinators (an external
	// etcd, another port): the coordinator under test is a fresh one.
	c.cmd.Env = cleanEnv(os.Environ())
	// Its own process group keeps a terminal's Ctrl-C for us, so we stop it
	// in order; Pdeathsig still kills it if we die without cleaning up.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		c.logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start coordinator: %w", err)
	}
	c.PID = c.cmd.Process.Pid
	go func() { // owned by Stop, which waits for exited
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	addr, err := c.waitReady(ctx, ready, time.Minute)
	if err != nil {
		c.Stop(log)
		return nil, err
	}
	c.Addr = addr
	log.Info("coordinator started", zap.String("addr", addr), zap.Int("pid", c.PID), zap.String("data_dir", dir))
	return c, nil
}

// waitReady polls for the ready file the coordinator writes once serving.
func (c *coordinator) waitReady(ctx context.Context, path string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-c.exited:
			return "", fmt.Errorf("coordinator exited before serving (%v):\n%s", c.waitErr, c.logTail(30))
		case <-deadline.C:
			return "", fmt.Errorf("coordinator not serving after %s:\n%s", timeout, c.logTail(30))
		case <-tick.C:
		}
	}
}

// Exited is closed when a started coordinator exits.
func (c *coordinator) Exited() <-chan struct{} { return c.exited }

// Stop ends a started coordinator (SIGTERM, SIGKILL after 15 s) and
// removes its data dir. It is a no-op for one given by --addr.
func (c *coordinator) Stop(log *zap.Logger) {
	if c.cmd == nil {
		return
	}
	_ = syscall.Kill(-c.PID, syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		log.Warn("coordinator ignored SIGTERM; killing it", zap.Int("pid", c.PID))
		_ = syscall.Kill(-c.PID, syscall.SIGKILL)
		<-c.exited
	}
	if c.waitErr != nil {
		log.Warn("coordinator exited uncleanly", zap.Error(c.waitErr), zap.String("log_tail", c.logTail(10)))
	}
	c.logFile.Close()
	if err := os.RemoveAll(c.dir); err != nil {
		log.Warn("remove coordinator data dir", zap.String("data_dir", c.dir), zap.Error(err))
	}
	c.cmd = nil
}

// logTail returns the last n lines of a started coordinator's log. It
// reads only the end of the file: after a long run the log is large.
func (c *coordinator) logTail(n int) string {
	f, err := os.Open(c.logFile.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	const tailBytes = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		if _, err := f.Seek(-tailBytes, io.SeekEnd); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// storeStats is what the embedded etcd reports about itself.
type storeStats struct {
	// DBSize is the backend size etcd's space quota (2 GiB by default)
	// limits; without compaction it only grows.
	DBSize int64
	// Revision counts the writes (transactions) since etcd started.
	Revision int64
}

// storeStats asks a started coordinator's embedded etcd for its size and
// revision.
func (c *coordinator) storeStats(ctx context.Context) (storeStats, error) {
	if c.etcdURL == "" {
		return storeStats{}, errors.New("embedded etcd unknown: coordinator not started by the load generator")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.etcdURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return storeStats{}, fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, c.etcdURL)
	if err != nil {
		return storeStats{}, fmt.Errorf("etcd status: %w", err)
	}
	return storeStats{DBSize: st.DbSize, Revision: st.Header.GetRevision()}, nil
}

// freeLoopbackURL returns an http URL on a loopback port free right now.
func freeLoopbackURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return "http://" + l.Addr().String(), nil
}

// cleanEnv returns env without GANTRY_* variables.
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GANTRY_") {
			out = append(out, kv)
		}
	}
	return out
}

// randomToken returns a registration token for a started coordinator.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
