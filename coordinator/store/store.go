// Package store keeps all coordinator state in etcd: runs, jobs, the queue
// of pending jobs, job leases and runners. It is the only package that
// knows the key layout.
//
// Consistency: every change to a run's jobs is one etcd transaction that
// rewrites the run record and compares its mod revision with the one read,
// so two coordinators or two requests can never both win a transition; the
// loser re-reads and re-decides. The queue, lease and active-run indexes
// are maintained in the same transaction. Concurrent updates of one run in
// one coordinator are combined into one transaction (see runwriter.go).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/model"
)

// Sentinel errors.
var (
	// ErrNotFound means the run, job or runner does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a transaction kept losing races; callers may retry.
	ErrConflict = errors.New("too many concurrent updates")
)

// DefaultPrefix is the key prefix used when none is configured.
const DefaultPrefix = "/gantry/"

// maxAttempts bounds optimistic retries of one update.
const maxAttempts = 50

// Store is the coordinator's etcd-backed state.
type Store struct {
	cli *clientv3.Client
	k   keys
	log *zap.Logger

	// jobRuns caches the immutable job -> run mapping.
	jobRuns sync.Map

	queueHook atomic.Pointer[func([]QueueEvent)]

	writersMu sync.Mutex
	writers   map[int64]*runWriter // run id -> its update combiner
}

// New returns a store using cli under prefix ("" means DefaultPrefix).
func New(cli *clientv3.Client, prefix string, logger *zap.Logger) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{cli: cli, k: keys{prefix: prefix}, log: logger, writers: map[int64]*runWriter{}}
}

// Client returns the etcd client, for watches and leases.
func (s *Store) Client() *clientv3.Client { return s.cli }

// QueueEntry is the value of a queue key: what the scheduler needs to
// match a pending job to a runner without reading the job.
type QueueEntry struct {
	JobID    int64    `json:"-"`
	RunID    int64    `json:"run_id"`
	Tags     []string `json:"tags,omitempty"`
	Priority int      `json:"priority,omitempty"`
	Limits
	// Rev is the revision the entry was written at, or for a removal the
	// revision it was removed at.
	Rev int64 `json:"-"`
	// Seen is when this coordinator learnt of the entry (zero until the
	// scheduler mirrors it).
	Seen time.Time `json:"-"`
}

// LeaseEntry is the value of a lease key.
type LeaseEntry struct {
	JobID    int64  `json:"-"`
	RunID    int64  `json:"run_id"`
	RunnerID string `json:"runner_id"`
	Epoch    int64  `json:"epoch"`
	Limits
}

// Limits are the concurrency limits a job counts against while held: its
// resource group (one job at a time across runs) and its GitHub matrix
// group (MaxParallel at a time within the run).
type Limits struct {
	ResourceGroup string `json:"resource_group,omitempty"`
	MatrixGroup   string `json:"matrix_group,omitempty"`
	MaxParallel   int    `json:"max_parallel,omitempty"`
}

// LimitsOf returns a job's limits.
func LimitsOf(j *model.Job) Limits {
	l := Limits{ResourceGroup: j.ResourceGroup}
	if j.MaxParallel > 0 {
		l.MatrixGroup, l.MaxParallel = j.MatrixGroup, j.MaxParallel
	}
	return l
}

// DelayedEntry is the value of a scheduled (when: delayed) job's key.
type DelayedEntry struct {
	JobID int64     `json:"-"`
	RunID int64     `json:"run_id"`
	At    time.Time `json:"at"`
}

func (s *Store) txn(ctx context.Context) clientv3.Txn { return s.cli.Txn(ctx) }

func decode[T any](b []byte, what string) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs are marshalled here; failing is a bug.
		panic(fmt.Sprintf("store: marshal %T: %v", v, err))
	}
	return string(b)
}

// RunIDForJob returns the run a job belongs to.
func (s *Store) RunIDForJob(ctx context.Context, jobID int64) (int64, error) {
	if v, ok := s.jobRuns.Load(jobID); ok {
		return v.(int64), nil
	}
	resp, err := s.cli.Get(ctx, s.k.jobIndex(jobID))
	if err != nil {
		return 0, fmt.Errorf("get job %d index: %w", jobID, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("job %d: %w", jobID, ErrNotFound)
	}
	runID, err := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("job %d index: %w", jobID, err)
	}
	s.jobRuns.Store(jobID, runID)
	return runID, nil
}
