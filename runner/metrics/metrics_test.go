package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/pkg/health"
	"github.com/gantry-ci/gantry/runner/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeAgent struct {
	running   int
	connected atomic.Bool
	buffered  int64
}

func (a *fakeAgent) JobsRunning() int        { return a.running }
func (a *fakeAgent) Connected() bool         { return a.connected.Load() }
func (a *fakeAgent) LogBytesBuffered() int64 { return a.buffered }

// serve starts the runner's HTTP side on a free port until the test ends.
func serve(t *testing.T, m *metrics.Runner, a *fakeAgent) string {
	t.Helper()
	srv, err := metrics.Listen("127.0.0.1:0", m, func() error {
		if !a.Connected() {
			return errors.New("not connected to a coordinator")
		}
		return nil
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv.Addr()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	m := metrics.New(4, zaptest.NewLogger(t))
	a := &fakeAgent{running: 2, buffered: 512}
	m.Watch(a)
	m.LogBytesSent(300)
	m.ArtifactBytesSent("cache", 1000)
	m.ArtifactBytesSent("unknown", 1) // not a kind: ignored
	m.ExecutorError("image_pull_failure")
	m.ContainerStarted("build", 150*time.Millisecond)
	addr := serve(t, m, a)
	base := "http://" + addr

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "not connected") {
		t.Errorf("/readyz before connecting: %d %q, want 503", code, body)
	}
	url, err := health.ReadyURL(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := health.Probe(context.Background(), url, 5*time.Second); err == nil {
		t.Error("Probe succeeded while not connected")
	}
	a.connected.Store(true)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz once connected: %d", code)
	}
	if err := health.Probe(context.Background(), url, 5*time.Second); err != nil {
		t.Errorf("Probe once connected: %v", err)
	}

	_, text := get(t, base+"/metrics")
	for _, want := range []string{
		"gantry_runner_jobs_running 2",
		"gantry_runner_capacity 4",
		"gantry_runner_connected 1",
		"gantry_runner_log_bytes_buffered 512",
		"gantry_runner_log_bytes_sent_total 300",
		`gantry_runner_artifact_bytes_sent_total{kind="cache"} 1000`,
		`gantry_runner_artifact_bytes_sent_total{kind="artifacts"} 0`,
		`gantry_runner_executor_errors_total{kind="image_pull_failure"} 1`,
		`gantry_runner_executor_errors_total{kind="system_failure"} 0`,
		`gantry_runner_container_start_seconds_count{role="build"} 1`,
		`gantry_runner_container_start_seconds_count{role="service"} 0`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestReadyURL(t *testing.T) {
	for listen, want := range map[string]string{
		":7422":          "http://127.0.0.1:7422/readyz",
		"0.0.0.0:7422":   "http://127.0.0.1:7422/readyz",
		"[::]:7422":      "http://127.0.0.1:7422/readyz",
		"10.0.0.5:7422":  "http://10.0.0.5:7422/readyz",
		"localhost:7422": "http://localhost:7422/readyz",
	} {
		if got, err := health.ReadyURL(listen); err != nil || got != want {
			t.Errorf("ReadyURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	if _, err := health.ReadyURL("no-port"); err == nil {
		t.Error("ReadyURL without a port: no error")
	}
}

func TestLint(t *testing.T) {
	m := metrics.New(1, zaptest.NewLogger(t))
	m.Watch(&fakeAgent{})
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "gantry_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
