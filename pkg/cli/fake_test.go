package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func TestMain(m *testing.M) {
	// Golden files hold wall-clock times; print them the same everywhere.
	time.Local = time.UTC
	goleak.VerifyTestMain(m)
}

// fakeCoordinator is the one fake in these tests, and deliberately so: the
// real coordinator needs etcd and runners, and the CLI only needs answers
// it can be checked against. It is a small scripted PipelineService and
// AdminService served over real gRPC on a loopback listener, so the CLI
// runs through its real dialer, interceptors and streams.
type fakeCoordinator struct {
	gantryv1.UnimplementedPipelineServiceServer
	gantryv1.UnimplementedAdminServiceServer

	// Scripted answers; set before the CLI runs.
	runs       []*gantryv1.Run
	run        *gantryv1.GetRunResponse
	runners    []*gantryv1.Runner
	submitResp *gantryv1.SubmitRunResponse
	// submitErr, if set, is returned right after the header is read,
	// without reading the source.
	submitErr error
	watches   []watchCall
	logs      map[int64][]string // job id -> chunks
	logErr    map[int64]error    // job id -> error after the chunks
	cancelled *gantryv1.Run
	pending   []*gantryv1.Job
	reports   map[int64]*gantryv1.GetJobReportResponse // job id -> report

	mu          sync.Mutex
	calls       []string
	versionsBad int
	header      *gantryv1.SubmitHeader
	archive     []byte
	logReqs     []*gantryv1.FollowLogRequest
}

// watchCall scripts one WatchRun call: send msgs, then return err, or with
// block wait until the client goes away. onSent runs after the messages.
type watchCall struct {
	msgs   []*gantryv1.WatchRunResponse
	err    error
	block  bool
	onSent func()
}

var (
	_ gantryv1.PipelineServiceServer = (*fakeCoordinator)(nil)
	_ gantryv1.AdminServiceServer    = (*fakeCoordinator)(nil)
)

// serve starts the fake on a loopback port and returns its address. The
// server is stopped, and its goroutine waited for, when the test ends.
func (f *fakeCoordinator) serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			f.record(ctx, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			f.record(ss.Context(), info.FullMethod)
			return h(srv, ss)
		}),
	)
	gantryv1.RegisterPipelineServiceServer(srv, f)
	gantryv1.RegisterAdminServiceServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

func (f *fakeCoordinator) record(ctx context.Context, method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	if protocol.CheckIncoming(ctx) != nil {
		f.versionsBad++
	}
}

// The accessors below read what the server goroutines recorded.

func (f *fakeCoordinator) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeCoordinator) called(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.calls, "/gantry.v1.PipelineService/"+method)
}

func (f *fakeCoordinator) missingVersions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.versionsBad
}

func (f *fakeCoordinator) submission() (*gantryv1.SubmitHeader, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.header, f.archive
}

func (f *fakeCoordinator) logRequests() []*gantryv1.FollowLogRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.logReqs)
}

func (f *fakeCoordinator) SubmitRun(stream gantryv1.PipelineService_SubmitRunServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if f.submitErr != nil {
		return f.submitErr
	}
	var archive bytes.Buffer
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		archive.Write(msg.GetSourceChunk())
	}
	f.mu.Lock()
	f.header, f.archive = first.GetHeader(), archive.Bytes()
	f.mu.Unlock()
	return stream.SendAndClose(f.submitResp)
}

func (f *fakeCoordinator) GetRun(_ context.Context, req *gantryv1.GetRunRequest) (*gantryv1.GetRunResponse, error) {
	if f.run == nil || f.run.GetRun().GetId() != req.GetRunId() {
		return nil, status.Errorf(codes.NotFound, "run %d not found", req.GetRunId())
	}
	return f.run, nil
}

func (f *fakeCoordinator) ListRuns(_ context.Context, req *gantryv1.ListRunsRequest) (*gantryv1.ListRunsResponse, error) {
	runs := f.runs
	if n := int(req.GetLimit()); n < len(runs) {
		runs = runs[:n]
	}
	return &gantryv1.ListRunsResponse{Runs: runs}, nil
}

func (f *fakeCoordinator) WatchRun(_ *gantryv1.WatchRunRequest, stream gantryv1.PipelineService_WatchRunServer) error {
	f.mu.Lock()
	if len(f.watches) == 0 {
		f.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "fake: no more WatchRun calls scripted")
	}
	call := f.watches[0]
	f.watches = f.watches[1:]
	f.mu.Unlock()
	for _, m := range call.msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	if call.onSent != nil {
		call.onSent()
	}
	if call.block {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return call.err
}

func (f *fakeCoordinator) FollowLog(req *gantryv1.FollowLogRequest, stream gantryv1.PipelineService_FollowLogServer) error {
	f.mu.Lock()
	f.logReqs = append(f.logReqs, req)
	f.mu.Unlock()
	var off int64
	for _, c := range f.logs[req.GetJobId()] {
		if err := stream.Send(&gantryv1.FollowLogResponse{Offset: off, Data: []byte(c)}); err != nil {
			return err
		}
		off += int64(len(c))
	}
	return f.logErr[req.GetJobId()]
}

func (f *fakeCoordinator) CancelRun(_ context.Context, req *gantryv1.CancelRunRequest) (*gantryv1.CancelRunResponse, error) {
	if f.cancelled == nil || f.cancelled.GetId() != req.GetRunId() {
		return nil, status.Errorf(codes.NotFound, "run %d not found", req.GetRunId())
	}
	return &gantryv1.CancelRunResponse{Run: f.cancelled}, nil
}

func (f *fakeCoordinator) ListRunners(context.Context, *gantryv1.ListRunnersRequest) (*gantryv1.ListRunnersResponse, error) {
	return &gantryv1.ListRunnersResponse{Runners: f.runners}, nil
}

func (f *fakeCoordinator) DrainRunner(_ context.Context, req *gantryv1.DrainRunnerRequest) (*gantryv1.DrainRunnerResponse, error) {
	for _, r := range f.runners {
		if r.GetName() == req.GetRunner() || r.GetId() == req.GetRunner() {
			if !r.GetConnected() {
				return nil, status.Errorf(codes.FailedPrecondition, "drain %s (%s): runner is not connected", r.GetName(), r.GetId())
			}
			out := proto.Clone(r).(*gantryv1.Runner)
			out.Draining = true
			return &gantryv1.DrainRunnerResponse{Runner: out}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "runner %q not found", req.GetRunner())
}

func (f *fakeCoordinator) ListPendingJobs(context.Context, *gantryv1.ListPendingJobsRequest) (*gantryv1.ListPendingJobsResponse, error) {
	return &gantryv1.ListPendingJobsResponse{Jobs: f.pending}, nil
}

func (f *fakeCoordinator) GetJobReport(_ context.Context, req *gantryv1.GetJobReportRequest) (*gantryv1.GetJobReportResponse, error) {
	r, ok := f.reports[req.GetJobId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "job %d of run %d not found", req.GetJobId(), req.GetRunId())
	}
	return r, nil
}

// gantry runs the CLI in-process with ctx and returns what it printed.
func gantry(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = Main(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// with returns a copy of j changed by fn, for scripting a job's progress.
func with(j *gantryv1.Job, fn func(j *gantryv1.Job)) *gantryv1.Job {
	c := proto.Clone(j).(*gantryv1.Job)
	fn(c)
	return c
}
