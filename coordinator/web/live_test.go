package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// These tests use a fake of the two narrow interfaces rather than a real
// coordinator (web_test.go has that): goleak must see every goroutine of
// the process, and an embedded etcd keeps its own running.

// fakeAPI serves one running run; each of its streams sends the messages
// set in watch or logs, then blocks until its context ends.
type fakeAPI struct {
	run   *gantryv1.Run
	jobs  []*gantryv1.Job
	watch []*gantryv1.WatchRunResponse
	logs  []*gantryv1.FollowLogResponse

	mu     sync.Mutex
	active int // streams whose context has not ended yet
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		run: fakeRun, jobs: []*gantryv1.Job{fakeJob},
		watch: []*gantryv1.WatchRunResponse{{Run: fakeRun, Jobs: []*gantryv1.Job{fakeJob}}},
		logs:  []*gantryv1.FollowLogResponse{{Data: []byte("one\ntwo\n")}},
	}
}

var (
	fakeRun = &gantryv1.Run{Id: 1, Status: gantryv1.RunStatus_RUN_STATUS_RUNNING, Ref: "main", Submitter: "ada",
		CreatedAt: timestamppb.New(time.Unix(1700000000, 0)), StartedAt: timestamppb.New(time.Unix(1700000001, 0)), Stages: []string{"test"}}
	fakeJob = &gantryv1.Job{Id: 7, RunId: 1, Name: "unit", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_RUNNING,
		StartedAt: timestamppb.New(time.Unix(1700000002, 0))}
)

func (f *fakeAPI) ListRuns(context.Context, *gantryv1.ListRunsRequest, ...grpc.CallOption) (*gantryv1.ListRunsResponse, error) {
	return &gantryv1.ListRunsResponse{Runs: []*gantryv1.Run{f.run}}, nil
}

func (f *fakeAPI) GetRun(context.Context, *gantryv1.GetRunRequest, ...grpc.CallOption) (*gantryv1.GetRunResponse, error) {
	return &gantryv1.GetRunResponse{Run: f.run, Jobs: f.jobs}, nil
}

func (f *fakeAPI) ListRunners(context.Context, *gantryv1.ListRunnersRequest, ...grpc.CallOption) (*gantryv1.ListRunnersResponse, error) {
	return &gantryv1.ListRunnersResponse{Runners: []*gantryv1.Runner{{Id: "r1", Name: "one", Connected: true, Capacity: 2}}}, nil
}

func (f *fakeAPI) DrainRunner(context.Context, *gantryv1.DrainRunnerRequest, ...grpc.CallOption) (*gantryv1.DrainRunnerResponse, error) {
	return &gantryv1.DrainRunnerResponse{Runner: &gantryv1.Runner{Id: "r1", Name: "one"}}, nil
}

func (f *fakeAPI) ListPendingJobs(context.Context, *gantryv1.ListPendingJobsRequest, ...grpc.CallOption) (*gantryv1.ListPendingJobsResponse, error) {
	return &gantryv1.ListPendingJobsResponse{}, nil
}

func (f *fakeAPI) WatchRun(ctx context.Context, _ *gantryv1.WatchRunRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[gantryv1.WatchRunResponse], error) {
	return newFakeStream(ctx, f, f.watch), nil
}

func (f *fakeAPI) FollowLog(ctx context.Context, req *gantryv1.FollowLogRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[gantryv1.FollowLogResponse], error) {
	s := newFakeStream(ctx, f, f.logs)
	s.eof = !req.GetFollow() // the log as it is now, then the end
	return s, nil
}

func (f *fakeAPI) streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

// fakeStream is a server stream of T; it counts as active until a Recv
// sees its context end.
type fakeStream[T any] struct {
	grpc.ClientStream
	ctx  context.Context
	ch   chan *T
	eof  bool
	once sync.Once
	api  *fakeAPI
}

func newFakeStream[T any](ctx context.Context, api *fakeAPI, msgs []*T) *fakeStream[T] {
	api.mu.Lock()
	api.active++
	api.mu.Unlock()
	ch := make(chan *T, len(msgs))
	for _, m := range msgs {
		ch <- m
	}
	return &fakeStream[T]{ctx: ctx, ch: ch, api: api}
}

func (s *fakeStream[T]) Recv() (*T, error) {
	select {
	case m := <-s.ch:
		return m, nil
	default:
		if s.eof {
			s.done()
			return nil, io.EOF
		}
	}
	select {
	case m := <-s.ch:
		return m, nil
	case <-s.ctx.Done():
	}
	s.done()
	return nil, s.ctx.Err()
}

func (s *fakeStream[T]) done() {
	s.once.Do(func() {
		s.api.mu.Lock()
		s.api.active--
		s.api.mu.Unlock()
	})
}

func (s *fakeStream[T]) Context() context.Context { return s.ctx }

// readEvent reads one event's name and data.
func readEvent(t *testing.T, path string, sc *bufio.Scanner) (name, data string) {
	t.Helper()
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("%s: stream ended: %v", path, sc.Err())
	return "", ""
}

func TestEventStreamsEndWhenTheBrowserLeaves(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	api := newFakeAPI()
	srv := httptest.NewServer(New(api, api, Options{PollInterval: 10 * time.Millisecond}, zaptest.NewLogger(t)))
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	defer func() {
		srv.Close() // waits for the handlers
		tr.CloseIdleConnections()
	}()

	for _, tc := range []struct{ path, event, want string }{
		{"/runs/events", "update", `id="run-1"`},
		{"/queue/events", "update", "No job is waiting"},
		{"/runners/events", "update", `data-status="online"`},
		{"/runs/1/events", "update", `id="job-7"`},
		{"/runs/1/jobs/7/events", "update", "unit"},
		{"/runs/1/jobs/7/log/events?from=1", "log", `id=\"L2\"`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		name, data := readEvent(t, tc.path, bufio.NewScanner(resp.Body))
		if name != tc.event || !strings.Contains(data, tc.want) {
			t.Errorf("%s: event %s %q, want %s with %q", tc.path, name, data, tc.event, tc.want)
		}
		if strings.Contains(tc.path, "log") && strings.Contains(data, `id=\"L1\"`) {
			t.Errorf("%s: sent line 1, which the page has", tc.path)
		}
		cancel()
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	// Each handler's gRPC stream ended with its request.
	deadline := time.Now().Add(10 * time.Second)
	for api.streams() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := api.streams(); n > 0 {
		t.Errorf("%d API streams still open after their browsers left", n)
	}
}

func TestRunEventsEndWithTheRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	api := newFakeAPI()
	done := &gantryv1.Run{Id: 1, Status: gantryv1.RunStatus_RUN_STATUS_SUCCESS}
	passed := &gantryv1.Job{Id: 7, RunId: 1, Name: "unit", Status: gantryv1.JobStatus_JOB_STATUS_SUCCESS}
	api.watch = append(api.watch, &gantryv1.WatchRunResponse{Run: done, Jobs: []*gantryv1.Job{passed}})
	srv := httptest.NewServer(New(api, api, Options{}, zaptest.NewLogger(t)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/runs/1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for range 3 {
		name, data := readEvent(t, "/runs/1/events", sc)
		got = append(got, name)
		if name == "update" && len(got) == 2 && !strings.Contains(data, `data-status="passed"`) {
			t.Errorf("second update lacks the passed job: %s", data)
		}
	}
	if strings.Join(got, ",") != "update,update,end" {
		t.Errorf("events %v, want update,update,end", got)
	}
	http.DefaultClient.CloseIdleConnections()
}
