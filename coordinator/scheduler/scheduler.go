// Package scheduler hands pending jobs to connected runners under leases
// and records how each attempt ends.
//
// The queue of pending jobs and the leases live in etcd (see store); the
// scheduler mirrors the queue in memory, keeps one Session per connected
// runner, and watches lease keys: a held job's lease key is bound to the
// etcd lease of its runner's session, so when a runner stops heartbeating
// the key vanishes and the job is requeued, even across coordinator
// restarts.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-ci/gantry/coordinator/store"
)

// Sentinel errors, mapped to gRPC codes by the API layer.
var (
	// ErrStaleEpoch means a runner spoke about an attempt that is no longer
	// the job's current one: the runner must stop that job.
	ErrStaleEpoch = errors.New("stale lease epoch")
	// ErrNotHeld means the job is not leased to the calling runner.
	ErrNotHeld = errors.New("job is not leased to this runner")
	// ErrInvalidTransition means the request would move a job backwards.
	ErrInvalidTransition = errors.New("invalid job transition")
)

// Config tunes leases.
type Config struct {
	// LeaseTTL is how long a lease lives without a heartbeat (default 15s).
	LeaseTTL time.Duration
	// HeartbeatInterval is how often runners heartbeat (default 5s).
	HeartbeatInterval time.Duration
	// MaxSystemRetries bounds automatic retries of a job whose runner was
	// lost (default 2).
	MaxSystemRetries int
	// DispatchInterval is a safety net: dispatch also runs this often even
	// without events (default 2s).
	DispatchInterval time.Duration
	// ArtifactsExpireIn is how long artifacts are kept when their job
	// does not say (artifacts:expire_in); 0 means 30 days, as GitLab's
	// default, and a negative value forever.
	ArtifactsExpireIn time.Duration
	// Observer learns of leases, expiries, retries and job ends (nil:
	// nothing does).
	Observer Observer
}

func (c *Config) setDefaults() {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.MaxSystemRetries == 0 {
		c.MaxSystemRetries = 2
	}
	if c.DispatchInterval <= 0 {
		c.DispatchInterval = 2 * time.Second
	}
	if c.ArtifactsExpireIn == 0 {
		c.ArtifactsExpireIn = 30 * 24 * time.Hour
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
}

// Scheduler matches queued jobs to runner sessions.
type Scheduler struct {
	cfg   Config
	store *store.Store
	log   *zap.Logger
	now   func() time.Time

	mu       sync.Mutex
	queue    map[int64]store.QueueEntry
	sessions map[string]*Session
	// removed holds job id -> revision of queue removals learnt from this
	// coordinator's own commits that the watch has not delivered yet
	// (watchRev is the newest revision it delivered): a late watch event
	// older than the removal must not bring the entry back.
	removed  map[int64]int64
	watchRev int64
	// holders are the jobs counting against each concurrency limit
	// (resource group, matrix max-parallel): planned or held.
	holders map[string]map[int64]struct{}

	kick chan struct{}

	// leasing holds the queued jobs whose lease transaction is in flight
	// (under mu): dispatch rounds overlap, and a later round must not plan
	// them again. leaseSlots bounds those transactions; leases tracks
	// their goroutines so Run returns only after they ended.
	leasing    map[int64]struct{}
	leaseSlots chan struct{}
	leases     sync.WaitGroup

	// ended holds job id -> epoch of attempts this coordinator ended, until
	// their lease key's deletion is seen.
	ended sync.Map
}

// New returns a scheduler; call Run to start it.
func New(st *store.Store, cfg Config, logger *zap.Logger) *Scheduler {
	cfg.setDefaults()
	return &Scheduler{
		cfg:      cfg,
		store:    st,
		log:      logger,
		now:      time.Now,
		queue:    map[int64]store.QueueEntry{},
		sessions: map[string]*Session{},
		removed:  map[int64]int64{},
		holders:  map[string]map[int64]struct{}{},
		kick:     make(chan struct{}, 1),

		leasing:    map[int64]struct{}{},
		leaseSlots: make(chan struct{}, maxConcurrentLeases),
	}
}

// start wires the scheduler to the store's commit notifications (Run
// calls it).
func (s *Scheduler) start() {
	s.store.OnQueueChange(func(evs []store.QueueEvent) {
		s.mu.Lock()
		for _, ev := range evs {
			s.applyOwnLocked(ev)
		}
		s.mu.Unlock()
		s.Kick()
	})
}

// applyOwnLocked applies a queue change this coordinator's commit reports.
// The watch delivers every change in order: one up to watchRev is late
// (and the removal it might undo may be forgotten already), so it is
// dropped.
func (s *Scheduler) applyOwnLocked(ev store.QueueEvent) {
	if ev.Entry.Rev > s.watchRev {
		s.applyQueueLocked(ev)
	}
}

// applyWatchLocked applies a queue change the watch delivers.
func (s *Scheduler) applyWatchLocked(ev store.QueueEvent) {
	s.applyQueueLocked(ev)
	s.watchRev = max(s.watchRev, ev.Entry.Rev)
}

// applyQueueLocked applies one queue change, from the watch or from this
// coordinator's own commit, whichever comes first: each carries its
// revision, so the other, arriving later, changes nothing. (A commit's
// report older than what the watch delivered is not applied at all: the
// caller filters it, since the removal it might undo may be forgotten.)
func (s *Scheduler) applyQueueLocked(ev store.QueueEvent) {
	id, rev := ev.Entry.JobID, ev.Entry.Rev
	if cur, ok := s.queue[id]; ok && cur.Rev >= rev {
		return
	}
	if gone, ok := s.removed[id]; ok && gone >= rev {
		return
	}
	if ev.Added {
		e := ev.Entry
		e.Seen = s.now()
		s.queue[id] = e
		return
	}
	delete(s.queue, id)
	if rev > s.watchRev {
		s.removed[id] = rev
	}
}

// Config returns the effective configuration.
func (s *Scheduler) Config() Config { return s.cfg }

// Run mirrors the queue, expires leases and dispatches until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	s.start()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.retry(ctx, "queue watch", s.followQueue) })
	g.Go(func() error { return s.retry(ctx, "lease watch", s.followLeases) })
	g.Go(func() error { return s.dispatchLoop(ctx) })
	g.Go(func() error { return s.startDelayed(ctx) })
	err := g.Wait()
	s.leases.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// retry runs fn until ctx ends, restarting it after failures (a broken
// watch, etcd unavailable) with a short pause.
func (s *Scheduler) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("scheduler loop failed; restarting", zap.String("loop", what), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// followQueue loads the queue and applies its changes.
func (s *Scheduler) followQueue(ctx context.Context) error {
	entries, rev, err := s.store.QueueSnapshot(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	// Entries of this coordinator's commits newer than the snapshot
	// stay; the watch, from the snapshot on, redelivers the rest.
	queue := make(map[int64]store.QueueEntry, len(entries))
	for id, e := range s.queue {
		if e.Rev > rev {
			queue[id] = e
		}
	}
	s.queue = queue
	for _, e := range entries {
		s.applyQueueLocked(store.QueueEvent{Entry: e, Added: true})
	}
	s.watchRev = rev
	s.pruneRemovedLocked()
	s.mu.Unlock()
	s.Kick()
	return s.store.WatchQueue(ctx, rev, func(evs []store.QueueEvent) {
		s.mu.Lock()
		for _, ev := range evs {
			s.applyWatchLocked(ev)
		}
		s.pruneRemovedLocked()
		s.mu.Unlock()
		s.Kick()
	})
}

// pruneRemovedLocked forgets the removals the watch has caught up with:
// no older event can come any more.
func (s *Scheduler) pruneRemovedLocked() {
	for id, rev := range s.removed {
		if rev <= s.watchRev {
			delete(s.removed, id)
		}
	}
}

// followLeases requeues jobs whose lease key disappeared while the job was
// still held: the holding runner's session expired. It first checks the
// leases that vanished while no one was watching (a coordinator restart).
func (s *Scheduler) followLeases(ctx context.Context) error {
	leases, rev, err := s.store.Leases(ctx)
	if err != nil {
		return err
	}
	held := map[int64]bool{}
	for _, l := range leases {
		held[l.JobID] = true
	}
	if err := s.recoverOrphans(ctx, held); err != nil {
		return err
	}
	s.resetHolders(leases)
	return s.store.WatchLeaseEnds(ctx, rev, func(l store.LeaseEntry) {
		jobID, epoch := l.JobID, l.Epoch
		if l.RunID != 0 {
			s.unhold(jobID, l.RunID, l.Limits)
		}
		if e, ok := s.ended.Load(jobID); ok && e.(int64) == epoch {
			// This coordinator ended that attempt itself: the deletion is
			// the end's, not an expiry, and needs no read.
			s.ended.Delete(jobID)
			return
		}
		if err := s.leaseGone(ctx, jobID); err != nil && ctx.Err() == nil {
			s.log.Error("handle expired lease", zap.Int64("job_id", jobID), zap.Error(err))
		}
	})
}

// Kick asks the dispatch loop to run soon.
func (s *Scheduler) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Scheduler) dispatchLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.DispatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-t.C:
		}
		s.dispatch(ctx)
	}
}

// queued returns the queue in dispatch order: priority first (retries go
// to the front), then fairly across runs (each run's first waiting job,
// then each run's second, ...), then by age. A run with 500 waiting jobs
// thus takes turns with a 1-job run submitted after it.
func (s *Scheduler) queued() []store.QueueEntry {
	s.mu.Lock()
	out := make([]store.QueueEntry, 0, len(s.queue))
	for id, e := range s.queue {
		if _, busy := s.leasing[id]; !busy {
			out = append(out, e)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.QueueEntry) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		return cmp.Compare(a.JobID, b.JobID)
	})
	// Rank each job by its position among its run's jobs of its priority.
	rank := make([]int, len(out))
	seen := map[[2]int64]int{}
	for i, e := range out {
		k := [2]int64{int64(e.Priority), e.RunID}
		rank[i] = seen[k]
		seen[k]++
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		a, b := out[x], out[y]
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		if rank[x] != rank[y] {
			return rank[x] - rank[y]
		}
		return cmp.Compare(a.JobID, b.JobID)
	})
	sorted := make([]store.QueueEntry, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}
