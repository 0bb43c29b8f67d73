package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// jobLog is the whole log every simulated job writes.
var jobLog = []byte("ok\n")

// errRejected means the coordinator refused the runner for good.
var errRejected = errors.New("coordinator rejected the runner")

// simRunner is one simulated runner: its own gRPC connection, a Connect
// session that heartbeats at the interval the coordinator asks for, and
// jobs that finish at once: on every lease it calls StartJob, AppendLog
// and CompleteJob, as runner/agent does for a real job.
type simRunner struct {
	name     string
	capacity int
	conn     *grpc.ClientConn
	client   gantryv1.RunnerServiceClient
	token    string
	rec      *recorder

	mu     sync.Mutex
	active map[int64]int64 // job id -> epoch
}

// dialRunner opens a runner's connection; nothing is sent yet.
func dialRunner(addr, name string, capacity int, rec *recorder) (*simRunner, error) {
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, protocol.ClientInterceptors()...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("runner %s: dial %s: %w", name, addr, err)
	}
	return &simRunner{
		name: name, capacity: capacity, conn: conn, client: gantryv1.NewRunnerServiceClient(conn),
		rec: rec, active: map[int64]int64{},
	}, nil
}

// Close closes the connection.
func (r *simRunner) Close() error { return r.conn.Close() }

// register exchanges the registration token for the runner's identity.
func (r *simRunner) register(ctx context.Context, regToken string) error {
	start := time.Now()
	resp, err := r.client.Register(ctx, &gantryv1.RegisterRequest{RegistrationToken: regToken, Name: r.name, RunUntagged: true})
	r.rec.rpcDone(ctx, "Register", time.Since(start), err)
	if err != nil {
		return fmt.Errorf("register runner %s: %w", r.name, err)
	}
	r.token = resp.GetRunnerToken()
	return nil
}

// Run keeps a Connect session open until ctx ends, reconnecting after a
// broken stream. welcomed is called after the first welcome. Jobs in
// flight are waited for before Run returns.
func (r *simRunner) Run(ctx context.Context, welcomed func()) error {
	ctx = protocol.WithToken(ctx, r.token)
	var jobs errgroup.Group // jobs outlive a broken stream, as in runner/agent
	defer func() { _ = jobs.Wait() }()
	var once sync.Once
	backoff := 200 * time.Millisecond
	for {
		connected, err := r.session(ctx, &jobs, func() { once.Do(welcomed) })
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errRejected) {
			return fmt.Errorf("runner %s: %w", r.name, err)
		}
		r.rec.protocolError("Connect", err)
		if connected {
			backoff = 200 * time.Millisecond
		}
		if err := sleep(ctx, backoff/2+rand.N(backoff/2+1)); err != nil {
			return nil
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// session runs one Connect stream; it reports whether a welcome came.
func (r *simRunner) session(ctx context.Context, jobs *errgroup.Group, welcomed func()) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.client.Connect(sctx)
	if err != nil {
		return false, classify(err)
	}
	hello := &gantryv1.RunnerHello{Version: "loadgen", Capacity: int32(r.capacity), RunUntagged: true, Name: r.name, Active: r.activeLeases()}
	if err := stream.Send(&gantryv1.ConnectRequest{Msg: &gantryv1.ConnectRequest_Hello{Hello: hello}}); err != nil {
		return false, classify(err)
	}
	first, err := stream.Recv()
	if err != nil {
		return false, classify(err)
	}
	welcome := first.GetWelcome()
	if welcome == nil {
		return false, fmt.Errorf("%w: first message on Connect was %T, not a welcome", errRejected, first.GetMsg())
	}
	interval := welcome.GetHeartbeatInterval().AsDuration()
	if interval <= 0 {
		return false, fmt.Errorf("%w: welcome without a heartbeat interval", errRejected)
	}
	welcomed()

	g, gctx := errgroup.WithContext(sctx)
	g.Go(func() error {
		<-gctx.Done()
		cancel() // unblocks Recv
		return nil
	})
	g.Go(func() error { return r.heartbeat(gctx, stream, interval) })
	g.Go(func() error {
		for {
			m, err := stream.Recv()
			if err != nil {
				return err
			}
			switch {
			case m.GetLease() != nil:
				l := m.GetLease()
				r.rec.leaseReceived(time.Now(), l.GetQueuedAt().AsTime(), l.GetEpoch())
				if r.take(l) {
					jobs.Go(func() error {
						r.runJob(ctx, l)
						return nil
					})
				}
			case m.GetCancel() != nil:
				// Nothing cancels runs here, and jobs end at once: a cancel
				// means the coordinator disowned an attempt. The job is
				// not stopped; its next call learns whether it is stale.
				r.rec.anomaly("Connect: CancelJob received", m.GetCancel().GetReason())
			case m.GetDrain() != nil:
				r.rec.anomaly("Connect: Drain received", m.GetDrain().GetReason())
			}
		}
	})
	err = g.Wait()
	if ctx.Err() != nil {
		return true, nil
	}
	return true, classify(err)
}

// heartbeat renews the runner's session, starting at a random offset so a
// fleet that connected together does not heartbeat in bursts.
func (r *simRunner) heartbeat(ctx context.Context, stream gantryv1.RunnerService_ConnectClient, interval time.Duration) error {
	if err := sleep(ctx, rand.N(interval)); err != nil {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		hb := &gantryv1.RunnerHeartbeat{Active: r.activeLeases()}
		if err := stream.Send(&gantryv1.ConnectRequest{Msg: &gantryv1.ConnectRequest_Heartbeat{Heartbeat: hb}}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// take records a lease unless the runner already runs that attempt or a
// newer one.
func (r *simRunner) take(l *gantryv1.JobLease) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.active[l.GetJobId()]; ok && e >= l.GetEpoch() {
		return false
	}
	r.active[l.GetJobId()] = l.GetEpoch()
	return true
}

func (r *simRunner) done(l *gantryv1.JobLease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[l.GetJobId()] == l.GetEpoch() {
		delete(r.active, l.GetJobId())
	}
}

// activeLeases lists the attempts in flight, for hello and heartbeats.
func (r *simRunner) activeLeases() []*gantryv1.ActiveLease {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*gantryv1.ActiveLease, 0, len(r.active))
	for id, epoch := range r.active {
		out = append(out, &gantryv1.ActiveLease{JobId: id, Epoch: epoch})
	}
	return out
}

// runJob runs a job that finishes at once: start, one log chunk, success.
func (r *simRunner) runJob(ctx context.Context, l *gantryv1.JobLease) {
	defer r.done(l)
	id, epoch := l.GetJobId(), l.GetEpoch()
	err := r.call(ctx, "StartJob", func(ctx context.Context) error {
		_, err := r.client.StartJob(ctx, &gantryv1.StartJobRequest{JobId: id, Epoch: epoch})
		return err
	})
	if err != nil {
		return
	}
	err = r.call(ctx, "AppendLog", func(ctx context.Context) error {
		resp, err := r.client.AppendLog(ctx, &gantryv1.AppendLogRequest{JobId: id, Epoch: epoch, Offset: 0, Data: jobLog})
		if err == nil && resp.GetSize() != int64(len(jobLog)) {
			// Not retryable: a resend stores nothing new.
			return status.Errorf(codes.DataLoss, "AppendLog stored %d bytes, want %d", resp.GetSize(), len(jobLog))
		}
		return err
	})
	if err != nil {
		return
	}
	err = r.call(ctx, "CompleteJob", func(ctx context.Context) error {
		_, err := r.client.CompleteJob(ctx, &gantryv1.CompleteJobRequest{
			JobId: id, Epoch: epoch, Status: gantryv1.JobStatus_JOB_STATUS_SUCCESS, LogSize: int64(len(jobLog)),
		})
		return err
	})
	if err != nil {
		return
	}
	r.rec.jobCompleted(time.Now(), l.GetQueuedAt().AsTime())
}

// call makes one job RPC, resending after retryable errors with the
// runner's backoff (runner/agent/retry.go), and records every attempt.
func (r *simRunner) call(ctx context.Context, method string, fn func(context.Context) error) error {
	backoff := 200 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		err := fn(cctx)
		cancel()
		r.rec.rpcDone(ctx, method, time.Since(start), err)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// retryable mirrors runner/agent's decision: a stale epoch, an unknown
// job, bad credentials or a bad request are final.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted,
		codes.Internal, codes.Unknown, codes.OutOfRange, codes.Canceled:
		return true
	default:
		return false
	}
}

// classify marks errors that reconnecting cannot fix.
func classify(err error) error {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.FailedPrecondition, codes.InvalidArgument:
		return fmt.Errorf("%w: %w", errRejected, err)
	}
	return err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
