package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gantry-ci/gantry/coordinator/logstore"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// maxLogChunk bounds one AppendLog request's data.
const maxLogChunk = 1 << 20

// RunnerHandler serves RunnerService.
type RunnerHandler struct {
	gantryv1.UnimplementedRunnerServiceServer

	store *store.Store
	sched *scheduler.Scheduler
	logs  *logstore.Store
	blobs BlobStore
	auth  *Authenticator
	log   *zap.Logger
	meter Meter
	// maxArtifactBytes bounds an artifact archive (0: the default).
	maxArtifactBytes int64
}

var _ gantryv1.RunnerServiceServer = (*RunnerHandler)(nil)

// NewRunnerHandler returns the RunnerService handler.
func NewRunnerHandler(st *store.Store, sched *scheduler.Scheduler, logs *logstore.Store, blobs BlobStore, auth *Authenticator, maxArtifactBytes int64, logger *zap.Logger) *RunnerHandler {
	return &RunnerHandler{store: st, sched: sched, logs: logs, blobs: blobs, auth: auth, maxArtifactBytes: maxArtifactBytes, log: logger, meter: noMeter{}}
}

// Register creates a runner identity.
func (h *RunnerHandler) Register(ctx context.Context, req *gantryv1.RegisterRequest) (*gantryv1.RegisterResponse, error) {
	if err := h.auth.CheckRegistration(req.GetRegistrationToken()); err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, fmt.Errorf("%w: runner name is required", ErrInvalidArgument)
	}
	id, token := randomHex(8), randomHex(32)
	r := &model.Runner{ID: id, Name: req.GetName(), Tags: req.GetTags(), RunUntagged: req.GetRunUntagged(), RegisteredAt: time.Now()}
	if err := h.store.CreateRunner(ctx, r, token); err != nil {
		return nil, err
	}
	h.log.Info("runner registered", zap.String("runner_id", id), zap.String("runner_name", r.Name), zap.Strings("tags", r.Tags))
	return &gantryv1.RegisterResponse{RunnerId: id, RunnerToken: token}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Connect runs a runner's session stream.
func (h *RunnerHandler) Connect(stream gantryv1.RunnerService_ConnectServer) error {
	ctx := stream.Context()
	r := runnerFrom(ctx)
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		return fmt.Errorf("%w: the first message on Connect must be a hello", ErrInvalidArgument)
	}
	updated := *r
	updated.Tags, updated.RunUntagged, updated.Capacity = hello.GetTags(), hello.GetRunUntagged(), int(hello.GetCapacity())
	updated.Version, updated.LastSeenAt = hello.GetVersion(), time.Now()
	if hello.GetName() != "" {
		updated.Name = hello.GetName()
	}
	if err := h.store.PutRunner(ctx, &updated); err != nil {
		return err
	}
	active := make(map[int64]int64, len(hello.GetActive()))
	for _, a := range hello.GetActive() {
		active[a.GetJobId()] = a.GetEpoch()
	}
	ss, err := h.sched.Attach(ctx, &updated, scheduler.Hello{
		Tags: updated.Tags, RunUntagged: updated.RunUntagged, Capacity: updated.Capacity, Version: updated.Version, Active: active,
		Draining: hello.GetDraining(),
	})
	if err != nil {
		return err
	}
	defer h.sched.Detach(ss)
	cfg := h.sched.Config()
	if err := stream.Send(&gantryv1.ConnectResponse{Msg: &gantryv1.ConnectResponse_Welcome{Welcome: &gantryv1.Welcome{
		RunnerId: r.ID, HeartbeatInterval: durationpb.New(cfg.HeartbeatInterval), LeaseTtl: durationpb.New(cfg.LeaseTTL),
	}}}); err != nil {
		return err
	}

	// The receive loop runs in its own goroutine, which ends with the
	// stream: returning from this handler ends the stream, so the handler
	// never waits for a Recv that only the runner could unblock (a frozen
	// runner would hold it until the keepalive gives up).
	recvErr := make(chan error, 1)
	go func() { recvErr <- h.receive(ctx, stream, ss) }()
	for {
		select {
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case m, ok := <-ss.Out():
			if !ok {
				return fmt.Errorf("%w: this runner's session was closed (a newer connection replaced it, its lease lapsed, or the coordinator is shutting down); reconnect", ErrSessionClosed)
			}
			if err := stream.Send(m); err != nil {
				return err
			}
		}
	}
}

// receive handles a session's heartbeats until the stream ends or the
// session's etcd lease is gone.
func (h *RunnerHandler) receive(ctx context.Context, stream gantryv1.RunnerService_ConnectServer, ss *scheduler.Session) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		if hb := m.GetHeartbeat(); hb != nil {
			active := make(map[int64]int64, len(hb.GetActive()))
			for _, a := range hb.GetActive() {
				active[a.GetJobId()] = a.GetEpoch()
			}
			if err := h.sched.Heartbeat(ctx, ss, hb.GetDraining(), active); err != nil {
				// The session's etcd lease is gone: the runner must
				// reconnect and re-attach its jobs under a new one.
				return fmt.Errorf("%w: renew runner session: %w", ErrSessionClosed, err)
			}
		}
	}
}

// StartJob records that a leased job started.
func (h *RunnerHandler) StartJob(ctx context.Context, req *gantryv1.StartJobRequest) (*gantryv1.StartJobResponse, error) {
	if err := h.sched.StartJob(ctx, runnerFrom(ctx).ID, req.GetJobId(), req.GetEpoch()); err != nil {
		return nil, err
	}
	return &gantryv1.StartJobResponse{}, nil
}

// AppendLog stores a log chunk at its offset. A chunk beyond the stored end
// is not stored; the returned size tells the runner where to resend from.
func (h *RunnerHandler) AppendLog(ctx context.Context, req *gantryv1.AppendLogRequest) (*gantryv1.AppendLogResponse, error) {
	if len(req.GetData()) > maxLogChunk {
		return nil, fmt.Errorf("%w: log chunk of %d bytes exceeds %d", ErrInvalidArgument, len(req.GetData()), maxLogChunk)
	}
	if err := h.sched.CheckFence(ctx, runnerFrom(ctx).ID, req.GetJobId(), req.GetEpoch()); err != nil {
		return nil, err
	}
	h.meter.LogBytesReceived(len(req.GetData()))
	size, err := h.logs.Append(req.GetJobId(), req.GetEpoch(), req.GetOffset(), req.GetData())
	if err != nil && !errors.Is(err, logstore.ErrGap) {
		return nil, err
	}
	return &gantryv1.AppendLogResponse{Size: size}, nil
}

// CompleteJob records an attempt's end once its whole log is stored.
func (h *RunnerHandler) CompleteJob(ctx context.Context, req *gantryv1.CompleteJobRequest) (*gantryv1.CompleteJobResponse, error) {
	size, err := h.logs.Size(req.GetJobId(), req.GetEpoch())
	if err != nil {
		return nil, err
	}
	if size < req.GetLogSize() {
		return nil, fmt.Errorf("%w: holding %d of %d log bytes; resend from %d", ErrLogIncomplete, size, req.GetLogSize(), size)
	}
	c := scheduler.Completion{
		Status:         jobStatusFromProto(req.GetStatus()),
		FailureReason:  reasonFromProto(req.GetFailureReason()),
		FailureMessage: req.GetFailureMessage(),
		ExitCode:       int(req.GetExitCode()),
		LogSize:        size,
		Coverage:       req.Coverage,
	}
	// The log is whole once the runner completes: it goes to the blob
	// store before the completion is recorded, so whoever sees the job
	// ended can read it from any coordinator. A failure leaves it on this
	// coordinator's disk only.
	if err := h.logs.Keep(ctx, req.GetJobId(), req.GetEpoch()); err != nil {
		h.log.Warn("log not archived", zap.Int64("job_id", req.GetJobId()), zap.Int64("epoch", req.GetEpoch()), zap.Error(err))
	}
	if err := h.sched.CompleteJob(ctx, runnerFrom(ctx).ID, req.GetJobId(), req.GetEpoch(), c); err != nil {
		return nil, err
	}
	h.logs.Forget(req.GetJobId(), req.GetEpoch())
	return &gantryv1.CompleteJobResponse{}, nil
}

// DownloadSource streams a run's source archive to the runner holding one
// of its jobs.
func (h *RunnerHandler) DownloadSource(req *gantryv1.DownloadSourceRequest, stream gantryv1.RunnerService_DownloadSourceServer) error {
	ctx := stream.Context()
	if err := h.sched.CheckFence(ctx, runnerFrom(ctx).ID, req.GetJobId(), req.GetEpoch()); err != nil {
		return err
	}
	runID, err := h.store.RunIDForJob(ctx, req.GetJobId())
	if err != nil {
		return err
	}
	rs, err := h.store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	if rs.Run.SourceDigest == "" {
		return nil
	}
	return streamBlob(ctx, h.blobs, "sources/"+rs.Run.SourceDigest+".tar.gz", func(b []byte) error {
		return stream.Send(&gantryv1.DownloadSourceResponse{Chunk: b})
	})
}
