package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gantry-ci/gantry/coordinator"
	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// The dashboard against a real coordinator (embedded etcd, real gRPC, its
// own HTTP listener), with a runner played at the protocol level so the
// test decides when a job starts, what it logs and when it ends.

const (
	registrationToken = "web-test-registration"
	adminToken        = "web-test-admin"
)

type coord struct {
	base     string // http://host:port of the dashboard
	pipeline gantryv1.PipelineServiceClient
	runner   gantryv1.RunnerServiceClient
	admin    gantryv1.AdminServiceClient
	// stop stops the coordinator and returns what Run returned.
	stop func() error
}

// startCoordinator runs a coordinator in this process until the test ends.
func startCoordinator(t *testing.T) *coord {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := coordinator.Config{
		Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), EtcdPrefix: "/gantry/",
		EmbeddedEtcdURL: "http://127.0.0.1:0", RegistrationToken: registrationToken,
		ReadyFile: filepath.Join(dir, "grpc.ready"), HTTPListen: "127.0.0.1:0", HTTPReadyFile: filepath.Join(dir, "http.ready"),
		AdminToken: adminToken, ShutdownGrace: 5 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- coordinator.Run(ctx, cfg, zaptest.NewLogger(t)) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("coordinator: %v", err)
		}
	})
	grpcAddr := waitFile(t, cfg.ReadyFile, done)
	httpAddr := waitFile(t, cfg.HTTPReadyFile, done)
	conn, err := grpc.NewClient(grpcAddr, append(protocol.ClientInterceptors(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &coord{
		base:     "http://" + httpAddr,
		pipeline: gantryv1.NewPipelineServiceClient(conn),
		runner:   gantryv1.NewRunnerServiceClient(conn),
		admin:    gantryv1.NewAdminServiceClient(conn),
		stop:     stop,
	}
}

func waitFile(t *testing.T, path string, done <-chan error) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		select {
		case err := <-done:
			t.Fatalf("coordinator exited: %v", err)
		case <-deadline:
			t.Fatalf("coordinator did not write %s", path)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *coord) submit(t *testing.T, ctx context.Context, pipeline string) *gantryv1.SubmitRunResponse {
	t.Helper()
	stream, err := c.pipeline.SubmitRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&gantryv1.SubmitRunRequest{Msg: &gantryv1.SubmitRunRequest_Header{Header: &gantryv1.SubmitHeader{
		Pipeline: []byte(pipeline), PipelinePath: ".gantry.yml", Ref: "main", Sha: "0123456789abcdef0123",
		Submitter: "ada@example.com", ProjectName: "webtest",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return resp
}

// fakeRunner speaks the runner protocol by hand.
type fakeRunner struct {
	id, token string
	client    gantryv1.RunnerServiceClient
	stream    grpc.BidiStreamingClient[gantryv1.ConnectRequest, gantryv1.ConnectResponse]
	ctx       context.Context
}

func (c *coord) connectRunner(t *testing.T, ctx context.Context, name string) *fakeRunner {
	t.Helper()
	reg, err := c.runner.Register(ctx, &gantryv1.RegisterRequest{RegistrationToken: registrationToken, Name: name, RunUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	rctx := protocol.WithToken(ctx, reg.GetRunnerToken())
	stream, err := c.runner.Connect(rctx)
	if err != nil {
		t.Fatal(err)
	}
	hello := &gantryv1.RunnerHello{Version: "test-1.2.3", Capacity: 1, RunUntagged: true, Name: name}
	if err := stream.Send(&gantryv1.ConnectRequest{Msg: &gantryv1.ConnectRequest_Hello{Hello: hello}}); err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("welcome: %v %v", m, err)
	}
	return &fakeRunner{id: reg.GetRunnerId(), token: reg.GetRunnerToken(), client: c.runner, stream: stream, ctx: rctx}
}

func (r *fakeRunner) lease(t *testing.T) *gantryv1.JobLease {
	t.Helper()
	for {
		m, err := r.stream.Recv()
		if err != nil {
			t.Fatalf("waiting for a lease: %v", err)
		}
		if l := m.GetLease(); l != nil {
			return l
		}
	}
}

func (r *fakeRunner) start(t *testing.T, l *gantryv1.JobLease) {
	t.Helper()
	if _, err := r.client.StartJob(r.ctx, &gantryv1.StartJobRequest{JobId: l.GetJobId(), Epoch: l.GetEpoch()}); err != nil {
		t.Fatal(err)
	}
}

func (r *fakeRunner) log(t *testing.T, l *gantryv1.JobLease, offset int64, data string) int64 {
	t.Helper()
	if _, err := r.client.AppendLog(r.ctx, &gantryv1.AppendLogRequest{JobId: l.GetJobId(), Epoch: l.GetEpoch(), Offset: offset, Data: []byte(data)}); err != nil {
		t.Fatal(err)
	}
	return offset + int64(len(data))
}

func (r *fakeRunner) complete(t *testing.T, l *gantryv1.JobLease, size int64, coverage *float64) {
	t.Helper()
	_, err := r.client.CompleteJob(r.ctx, &gantryv1.CompleteJobRequest{JobId: l.GetJobId(), Epoch: l.GetEpoch(),
		Status: gantryv1.JobStatus_JOB_STATUS_SUCCESS, LogSize: size, Coverage: coverage})
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, rawURL string) (int, string) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

// events reads Server-Sent Events from a URL until the test's context
// ends; Next returns the next one.
type events struct {
	resp *http.Response
	sc   *bufio.Scanner
}

type event struct{ name, id, data string }

func openEvents(t *testing.T, ctx context.Context, rawURL string) *events {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", rawURL, resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	return &events{resp: resp, sc: sc}
}

func (e *events) next(t *testing.T) event {
	t.Helper()
	var ev event
	var data []string
	for e.sc.Scan() {
		line := e.sc.Text()
		switch {
		case line == "":
			if ev.name == "" && data == nil {
				continue // the retry preamble
			}
			ev.data = strings.Join(data, "\n")
			return ev
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	t.Fatalf("event stream ended: %v", e.sc.Err())
	return ev
}

// nextUntil skips events until match accepts one.
func (e *events) nextUntil(t *testing.T, match func(event) bool) event {
	t.Helper()
	for {
		if ev := e.next(t); match(ev) {
			return ev
		}
	}
}

const pipelineYAML = `
stages: [build, test]
build:
  stage: build
  script: [make]
unit:
  stage: test
  needs: [build]
  script: [go test ./...]
  coverage: '/total: (\d+\.\d+)%/'
gpu:
  stage: test
  needs: []
  tags: [gpu]
  script: [nvidia-smi]
`

func jobID(t *testing.T, jobs []*gantryv1.Job, name string) int64 {
	t.Helper()
	for _, j := range jobs {
		if j.GetName() == name {
			return j.GetId()
		}
	}
	t.Fatalf("no job %s", name)
	return 0
}

func TestDashboardAgainstCoordinator(t *testing.T) {
	c := startCoordinator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	code, body := get(t, c.base+"/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	mustContain(t, "empty runs list", body, "No runs yet")
	if code, body := get(t, c.base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz next to the dashboard: %d %q", code, body)
	}

	sub := c.submit(t, ctx, pipelineYAML)
	runID := sub.GetRun().GetId()
	build, unit, gpu := jobID(t, sub.GetJobs(), "build"), jobID(t, sub.GetJobs(), "unit"), jobID(t, sub.GetJobs(), "gpu")
	runPath := "/runs/" + itoa(runID)

	t.Run("runs list and filters", func(t *testing.T) {
		_, body := get(t, c.base+"/")
		mustContain(t, "runs list", body, `id="run-`+itoa(runID)+`"`, `href="`+runPath+`"`, "main", "ada@example.com", "0123456789ab", `data-status="pending"`, `data-live="/runs/events?"`)
		_, body = get(t, c.base+"/?status=failed")
		mustContain(t, "runs filtered by failed", body, "No run matches the filters")
		_, body = get(t, c.base+"/?ref=MAI&submitter=ada")
		mustContain(t, "runs filtered by ref and submitter", body, `id="run-`+itoa(runID)+`"`)
	})

	t.Run("queue says why each job waits", func(t *testing.T) {
		_, body := get(t, c.base+"/queue")
		mustContain(t, "queue", body, "Tags: (untagged)", "Tags: gpu", `href="`+runPath+`/jobs/`+itoa(build)+`"`, `id="pending-`+itoa(gpu)+`"`, "no online runner", "No job was leased in the last 24 h")
	})

	r := c.connectRunner(t, ctx, "web-runner")
	l := r.lease(t)
	if l.GetJobId() != build {
		t.Fatalf("leased job %d, want build (%d)", l.GetJobId(), build)
	}

	t.Run("runners page", func(t *testing.T) {
		_, body := get(t, c.base+"/runners")
		mustContain(t, "runners", body, "web-runner", `data-status="online"`, "1/1", `href="/jobs/`+itoa(build)+`"`, "test-1.2.3",
			`action="/runners/`+r.id+`/drain"`, `name="admin_token"`)
	})

	runEvents := openEvents(t, ctx, c.base+runPath+"/events")
	first := runEvents.next(t)
	if first.name != "update" || !strings.Contains(first.data, `id="job-`+itoa(build)+`"`) {
		t.Fatalf("first run event: %+v", first)
	}

	r.start(t, l)
	const firstPart = "\x1b[32;1m$ make\x1b[0;m\nsection_start:1700000000:compile[collapsed=true]\r\x1b[0KCompiling <main>\ncc -o app\nsection_end:1700000004:compile\r\x1b[0K\n\x1b[31mwarn"
	size := r.log(t, l, 0, firstPart)

	jobPath := runPath + "/jobs/" + itoa(build)
	t.Run("job page renders the log so far", func(t *testing.T) {
		_, body := get(t, c.base+jobPath)
		mustContain(t, "job page", body,
			`<span class="fg-2 bold">$ make</span>`, `id="L1"`, `href="#L1"`,
			`<details class="section" data-section="compile">`, "Compiling &lt;main&gt;", `<span class="dur">4s</span>`, `id="L3"`,
			`data-follow="`+jobPath+`/log/events?from=4"`, `data-live="`+jobPath+`/events"`)
		if strings.Contains(body, "warn") {
			t.Errorf("the unfinished last line is on the page while the job runs:\n%s", body)
		}
	})

	logEvents := openEvents(t, ctx, c.base+jobPath+"/log/events?from=4")
	size = r.log(t, l, size, "ing\ntotal: 81.5%\n")
	ev := logEvents.next(t)
	var items []struct{ K, H string }
	if err := json.Unmarshal([]byte(ev.data), &items); err != nil {
		t.Fatalf("log event %+v: %v", ev, err)
	}
	if ev.name != "log" || ev.id != "6" || len(items) != 2 {
		t.Fatalf("log event: %+v", ev)
	}
	// The red started on the page's last line lasts: the log is rendered
	// from its start.
	mustContain(t, "log event", items[0].H+items[1].H, `id="L4"`, `<span class="fg-1">warning</span>`, `id="L5"`, `<span class="fg-1">total: 81.5%</span>`)

	ev = runEvents.nextUntil(t, func(e event) bool { return strings.Contains(e.data, `data-status="running"`) })
	mustContain(t, "run update while build runs", ev.data, `data-status="running"`)

	coverage := 81.5
	r.complete(t, l, size, &coverage)
	ev = logEvents.nextUntil(t, func(e event) bool { return e.name == "end" })
	ev = runEvents.nextUntil(t, func(e event) bool {
		return regexp.MustCompile(`id="job-` + itoa(build) + `"[^§]*?data-status="passed"`).MatchString(e.data)
	})
	mustContain(t, "run update after build passed", ev.data, "81.5%", "mean of 1 job")

	t.Run("run page shows the graph and coverage", func(t *testing.T) {
		_, body := get(t, c.base+runPath)
		mustContain(t, "run page", body, `<svg`, `id="node-`+itoa(unit)+`"`, `class="edge st-passed"`, ">build<", ">test<", "81.5%",
			`data-live="`+runPath+`/events"`)
	})

	t.Run("raw log", func(t *testing.T) {
		_, body := get(t, c.base+jobPath+"/raw")
		if !strings.HasPrefix(body, "\x1b[32;1m$ make") || !strings.HasSuffix(body, "total: 81.5%\n") {
			t.Errorf("raw log: %q", body)
		}
	})

	t.Run("drain needs the admin token and a same-origin form", func(t *testing.T) {
		drainURL := c.base + "/runners/" + r.id + "/drain"
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		post := func(token string, header http.Header) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, drainURL, strings.NewReader(url.Values{"admin_token": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			return resp
		}
		if resp := post("wrong", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("wrong token: %d, want 403", resp.StatusCode)
		}
		if resp := post(adminToken, http.Header{"Sec-Fetch-Site": {"cross-site"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
		}
		resp := post(adminToken, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/runners?drained=") {
			t.Fatalf("drain: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, body := get(t, c.base+resp.Header.Get("Location"))
		mustContain(t, "runners after drain", body, "is draining", `data-status="draining"`)
	})

	t.Run("errors", func(t *testing.T) {
		for path, want := range map[string]int{"/runs/999": 404, "/runs/x": 404, runPath + "/jobs/999": 404, "/nope": 404, "/jobs/999": 404} {
			if code, _ := get(t, c.base+path); code != want {
				t.Errorf("GET %s: %d, want %d", path, code, want)
			}
		}
	})

	t.Run("security headers", func(t *testing.T) {
		resp, err := http.Get(c.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP: %q", csp)
		}
	})
}

// A coordinator stopping ends the event streams it serves, which would
// otherwise hold its HTTP shutdown until that gives up with an error.
func TestShutdownEndsEventStreams(t *testing.T) {
	c := startCoordinator(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.submit(t, ctx, "job:\n  script: [true]\n")
	var open []*events
	for _, path := range []string{"/queue/events", "/runs/1/events", "/runs/1/jobs/1/log/events"} {
		open = append(open, openEvents(t, ctx, c.base+path))
	}
	open[0].next(t)
	open[1].next(t)
	if err := c.stop(); err != nil {
		t.Fatalf("coordinator stopped with %v", err)
	}
	for _, e := range open {
		if _, err := io.Copy(io.Discard, e.resp.Body); err != nil {
			t.Errorf("stream after shutdown: %v", err)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
