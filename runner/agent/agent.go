// Package agent is the runner's connection to the coordinator: it keeps
// one Connect stream open (reconnecting with jittered backoff), heartbeats,
// takes job leases up to its capacity, runs them with an executor, and
// reports their logs and outcomes. Jobs outlive streams: a runner whose
// stream breaks keeps running its jobs and re-attaches them on reconnect.
package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/logship"
)

// ErrRejected means the coordinator refused the runner for good (wrong
// token, protocol mismatch).
var ErrRejected = errors.New("coordinator rejected the runner")

// Config describes the runner to the coordinator.
type Config struct {
	Name        string
	Tags        []string
	RunUntagged bool
	Concurrency int
	Version     string
	// CancelGrace is the SIGTERM-to-SIGKILL grace for canceled jobs.
	CancelGrace time.Duration
	// LogSpoolDir holds the on-disk buffers of logs not yet acknowledged
	// by the coordinator ("" means the system temp dir).
	LogSpoolDir string
	// LogBufferBytes bounds each job's unacknowledged log (0 = 64 MiB).
	LogBufferBytes int64
	// MaxArtifactBytes bounds a job's artifact archive (0: no limit on
	// the runner; the coordinator has its own).
	MaxArtifactBytes int64
	// Observer learns the bytes sent and the executor's failures (nil:
	// nothing does).
	Observer Observer
}

// Agent runs jobs for one registered runner.
type Agent struct {
	cfg    Config
	client gantryv1.RunnerServiceClient
	exec   executor.Executor
	log    *zap.Logger

	mu       sync.Mutex
	jobs     map[int64]*job
	draining bool
	done     bool          // drained: no job may start any more
	ttl      time.Duration // lease TTL from the last welcome
	changed  chan struct{} // nudges the heartbeat loop
	jobEnded chan struct{} // signalled after a job leaves jobs

	drainOnce sync.Once
	drainReq  chan struct{} // closed when the coordinator asks to drain

	connected atomic.Bool // welcomed on a stream still open

	wg sync.WaitGroup // running jobs
}

// job is one attempt in progress.
type job struct {
	id, epoch int64
	cancel    context.CancelFunc
	stale     bool
	// ship is the attempt's log shipper once made, acked the log size
	// the coordinator acknowledged (for the buffered log metric).
	ship  atomic.Pointer[logship.Shipper]
	acked atomic.Int64
}

// New returns an agent.
func New(client gantryv1.RunnerServiceClient, exec executor.Executor, cfg Config, logger *zap.Logger) *Agent {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	return &Agent{cfg: cfg, client: client, exec: exec, log: logger, jobs: map[int64]*job{}, changed: make(chan struct{}, 1), jobEnded: make(chan struct{}, 1), drainReq: make(chan struct{})}
}

// Run serves the coordinator until drain ends (or the coordinator asks the
// runner to drain) and the running jobs have finished, or until kill ends
// (jobs are then canceled). Between drain and the end the runner takes no
// new jobs.
func (a *Agent) Run(drain, kill context.Context) error {
	sessCtx, stopSessions := context.WithCancel(kill)
	defer stopSessions()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		select {
		case <-drain.Done():
		case <-a.drainReq:
		case <-sessCtx.Done():
			return
		}
		a.mu.Lock()
		a.draining = true
		n := len(a.jobs)
		a.mu.Unlock()
		a.nudge()
		a.log.Info("draining: finishing running jobs, taking no new ones", zap.Int("running", n))
		// Not wg.Wait: a lease already in flight may still start a job,
		// and Add must not race a Wait at zero. Every job end signals
		// jobEnded instead.
		for {
			a.mu.Lock()
			idle := len(a.jobs) == 0
			a.done = idle // from now on a late lease is not started
			a.mu.Unlock()
			if idle {
				break
			}
			select {
			case <-a.jobEnded:
			case <-sessCtx.Done():
				return
			}
		}
		stopSessions()
	}()

	var err error
	for attempt := 0; sessCtx.Err() == nil; attempt++ {
		var connected bool
		connected, err = a.session(sessCtx, kill)
		if errors.Is(err, ErrRejected) {
			break
		}
		if connected {
			attempt = 0
		}
		if sessCtx.Err() != nil {
			err = nil
			break
		}
		wait := backoff(attempt, a.leaseTTL())
		a.log.Warn("coordinator stream ended; reconnecting", zap.Error(err), zap.Duration("in", wait))
		select {
		case <-sessCtx.Done():
		case <-time.After(wait):
		}
	}
	stopSessions()
	a.wg.Wait()
	<-drained
	return err
}

// backoff returns a jittered exponential delay: 0.5s, 1s, 2s... up to 10s,
// and never more than a quarter of the lease TTL (when known): a runner
// with running jobs must get back within the TTL or they are requeued.
func backoff(attempt int, ttl time.Duration) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 5)
	d = min(d, 10*time.Second)
	if ttl > 0 {
		d = min(d, max(ttl/4, 200*time.Millisecond))
	}
	return d/2 + rand.N(d/2+1)
}

// leaseTTL is the TTL the coordinator last announced, or 0.
func (a *Agent) leaseTTL() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ttl
}

func (a *Agent) nudge() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// active lists the attempts this runner is executing.
func (a *Agent) active() []*gantryv1.ActiveLease {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*gantryv1.ActiveLease, 0, len(a.jobs))
	for _, j := range a.jobs {
		if !j.stale {
			out = append(out, &gantryv1.ActiveLease{JobId: j.id, Epoch: j.epoch})
		}
	}
	return out
}

// session runs one Connect stream. It reports whether the coordinator
// welcomed the runner.
func (a *Agent) session(ctx, kill context.Context) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := a.client.Connect(sctx)
	if err != nil {
		return false, a.classify(err)
	}
	a.mu.Lock()
	draining := a.draining
	a.mu.Unlock()
	hello := &gantryv1.RunnerHello{
		Version: a.cfg.Version, Tags: a.cfg.Tags, Capacity: int32(a.cfg.Concurrency),
		Active: a.active(), RunUntagged: a.cfg.RunUntagged, Name: a.cfg.Name, Draining: draining,
	}
	if err := stream.Send(&gantryv1.ConnectRequest{Msg: &gantryv1.ConnectRequest_Hello{Hello: hello}}); err != nil {
		return false, a.classify(err)
	}
	first, err := stream.Recv()
	if err != nil {
		return false, a.classify(err)
	}
	welcome := first.GetWelcome()
	if welcome == nil {
		return false, errors.New("coordinator did not answer hello with a welcome")
	}
	a.mu.Lock()
	a.ttl = welcome.GetLeaseTtl().AsDuration()
	a.mu.Unlock()
	interval := welcome.GetHeartbeatInterval().AsDuration()
	if interval <= 0 {
		interval = 5 * time.Second
	}
	a.log.Info("connected to coordinator", zap.String("runner_id", welcome.GetRunnerId()), zap.Int("active", len(hello.Active)))
	a.connected.Store(true)
	defer a.connected.Store(false)

	g, gctx := errgroup.WithContext(sctx)
	g.Go(func() error {
		<-gctx.Done()
		cancel() // unblocks Recv
		return nil
	})
	g.Go(func() error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			case <-a.changed:
			}
			a.mu.Lock()
			draining := a.draining
			a.mu.Unlock()
			hb := &gantryv1.RunnerHeartbeat{Active: a.active(), Draining: draining}
			if err := stream.Send(&gantryv1.ConnectRequest{Msg: &gantryv1.ConnectRequest_Heartbeat{Heartbeat: hb}}); err != nil {
				return err
			}
		}
	})
	g.Go(func() error {
		for {
			m, err := stream.Recv()
			if err != nil {
				return err
			}
			switch {
			case m.GetLease() != nil:
				a.start(kill, m.GetLease())
			case m.GetCancel() != nil:
				c := m.GetCancel()
				a.cancelJob(c.GetJobId(), c.GetEpoch(), c.GetReason())
			case m.GetDrain() != nil:
				a.log.Info("coordinator asked the runner to drain", zap.String("reason", m.GetDrain().GetReason()))
				a.drainOnce.Do(func() { close(a.drainReq) })
			}
		}
	})
	err = g.Wait()
	if ctx.Err() != nil {
		return true, nil
	}
	return true, a.classify(err)
}

// classify marks errors that reconnecting cannot fix.
func (a *Agent) classify(err error) error {
	switch status.Code(err) {
	case codes.Unauthenticated:
		return fmt.Errorf("%w: %s (register the runner again: remove its token from the config file)", ErrRejected, status.Convert(err).Message())
	case codes.FailedPrecondition:
		return fmt.Errorf("%w: %s", ErrRejected, status.Convert(err).Message())
	}
	return err
}

// cancelJob stops an attempt the coordinator canceled.
func (a *Agent) cancelJob(jobID, epoch int64, reason string) {
	a.mu.Lock()
	j := a.jobs[jobID]
	a.mu.Unlock()
	if j == nil || j.epoch != epoch {
		return
	}
	a.log.Info("job cancel requested", zap.Int64("job_id", jobID), zap.Int64("epoch", epoch), zap.String("reason", reason))
	j.cancel()
}
