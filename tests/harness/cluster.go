package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Coordinator starts gantry-coordinator on addr with its data in dir.
func Coordinator(t testing.TB, dir, addr, token string, extra ...string) *Process {
	t.Helper()
	ready := filepath.Join(dir, "coordinator.ready")
	_ = os.Remove(ready)
	args := append([]string{"--listen", addr, "--data-dir", filepath.Join(dir, "data"),
		"--registration-token", token, "--ready-file", ready, "--log-level", "debug"}, extra...)
	p := Start(t, dir, "coordinator", filepath.Join(Binaries(t), "gantry-coordinator"), args...)
	WaitFile(t, ready, 60*time.Second, p)
	return p
}

// Runner starts gantry-runner named name with its config in dir.
func Runner(t testing.TB, dir, name, addr, token string, extra ...string) *Process {
	t.Helper()
	args := append([]string{"--coordinator", addr, "--config", filepath.Join(dir, name+".yml"),
		"--registration-token", token, "--name", name, "--log-level", "debug"}, extra...)
	return Start(t, dir, name, filepath.Join(Binaries(t), "gantry-runner"), args...)
}

// RunnerID reads the id a runner saved at registration, waiting for it.
func RunnerID(t testing.TB, dir, name string, p *Process) string {
	t.Helper()
	cfg := WaitFileContaining(t, filepath.Join(dir, name+".yml"), "runner-id:", 30*time.Second, p)
	for _, line := range strings.Split(cfg, "\n") {
		if v, ok := strings.CutPrefix(line, "runner-id:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	t.Fatalf("no runner-id in %s", cfg)
	return ""
}

// WaitFileContaining waits until path contains substr.
func WaitFileContaining(t testing.TB, path, substr string, timeout time.Duration, p *Process) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), substr) {
			return string(b)
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited:\n%s", p.Name, p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s never contained %q", path, substr)
	return ""
}

// Client is a gRPC connection to a coordinator speaking the protocol.
type Client struct {
	Conn     *grpc.ClientConn
	Pipeline gantryv1.PipelineServiceClient
	Admin    gantryv1.AdminServiceClient
	Runner   gantryv1.RunnerServiceClient
}

// Dial connects to a coordinator; the connection closes with the test.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	conn, err := grpc.NewClient(addr, append(protocol.ClientInterceptors(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &Client{Conn: conn, Pipeline: gantryv1.NewPipelineServiceClient(conn), Admin: gantryv1.NewAdminServiceClient(conn), Runner: gantryv1.NewRunnerServiceClient(conn)}
}

// WaitRun follows a run with WatchRun until done reports true for a
// snapshot, re-watching across coordinator restarts, and returns it.
func (c *Client) WaitRun(ctx context.Context, t testing.TB, runID int64, done func(*gantryv1.WatchRunResponse) bool) *gantryv1.WatchRunResponse {
	t.Helper()
	var last *gantryv1.WatchRunResponse
	for ctx.Err() == nil {
		stream, err := c.Pipeline.WatchRun(ctx, &gantryv1.WatchRunRequest{RunId: runID}, grpc.WaitForReady(true))
		if err != nil {
			continue
		}
		for {
			m, err := stream.Recv()
			if err != nil {
				break
			}
			last = m
			if done(m) {
				return m
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // the coordinator is restarting
		}
	}
	t.Fatalf("run %d: condition not reached: %v; last state: %v", runID, ctx.Err(), last)
	return nil
}

// RunEnded reports whether the run has reached a final status.
func RunEnded(m *gantryv1.WatchRunResponse) bool {
	switch m.GetRun().GetStatus() {
	case gantryv1.RunStatus_RUN_STATUS_SUCCESS, gantryv1.RunStatus_RUN_STATUS_FAILED, gantryv1.RunStatus_RUN_STATUS_CANCELED:
		return true
	}
	return false
}

// Job returns the named job of a run snapshot.
func Job(m *gantryv1.WatchRunResponse, name string) *gantryv1.Job {
	for _, j := range m.GetJobs() {
		if j.GetName() == name {
			return j
		}
	}
	return nil
}

// Log returns a job's whole log.
func (c *Client) Log(ctx context.Context, t testing.TB, jobID int64) string {
	t.Helper()
	stream, err := c.Pipeline.FollowLog(ctx, &gantryv1.FollowLogRequest{JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		m, err := stream.Recv()
		if err != nil {
			break
		}
		b.Write(m.GetData())
	}
	return b.String()
}

// WriteTree writes files (path -> contents) under dir.
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
