package store

import (
	"context"
	"fmt"
	"strconv"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gantry-ci/gantry/coordinator/model"
)

// RunState is a run and its jobs as read at one etcd revision.
type RunState struct {
	Run  *model.Run
	Jobs []*model.Job
	// Revision is the etcd revision the state was read at.
	Revision int64

	runRev  int64
	origRun []byte           // the run record as stored
	orig    map[int64][]byte // job id -> encoded job as stored
	byID    map[int64]*model.Job
}

// Job returns the run's job with the given id, or nil.
func (rs *RunState) Job(id int64) *model.Job {
	if rs.byID == nil || len(rs.byID) != len(rs.Jobs) {
		rs.byID = make(map[int64]*model.Job, len(rs.Jobs))
		for _, j := range rs.Jobs {
			rs.byID[j.ID] = j
		}
	}
	return rs.byID[id]
}

// JobByName returns the run's job with the given name, or nil.
func (rs *RunState) JobByName(name string) *model.Job {
	for _, j := range rs.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// CreateRun allocates a run id and n job ids, lets build fill in the run
// and its jobs, and stores them all in one transaction. Jobs that build
// leaves pending are queued.
func (s *Store) CreateRun(ctx context.Context, n int, build func(runID int64, jobIDs []int64) (*model.Run, []*model.Job, error)) (*RunState, error) {
	for range maxAttempts {
		resp, err := s.txn(ctx).Then(
			clientv3.OpGet(s.k.counter("run")),
			clientv3.OpGet(s.k.counter("job")),
		).Commit()
		if err != nil {
			return nil, fmt.Errorf("read id counters: %w", err)
		}
		lastRun, runRev, err := counterValue(resp.Responses[0].GetResponseRange())
		if err != nil {
			return nil, err
		}
		lastJob, jobRev, err := counterValue(resp.Responses[1].GetResponseRange())
		if err != nil {
			return nil, err
		}
		runID := lastRun + 1
		jobIDs := make([]int64, n)
		for i := range jobIDs {
			jobIDs[i] = lastJob + 1 + int64(i)
		}
		run, jobs, err := build(runID, jobIDs)
		if err != nil {
			return nil, err
		}
		var qevs []QueueEvent
		ops := []clientv3.Op{
			clientv3.OpPut(s.k.counter("run"), strconv.FormatInt(runID, 10)),
			clientv3.OpPut(s.k.counter("job"), strconv.FormatInt(lastJob+int64(n), 10)),
			clientv3.OpPut(s.k.run(runID), mustJSON(run)),
		}
		if !run.Status.Terminal() {
			ops = append(ops, clientv3.OpPut(s.k.active(runID), ""))
			if pushRun(run) {
				ops = append(ops, clientv3.OpPut(s.k.refRun(run.ProjectName, run.Ref, runID), ""))
			}
		}
		for _, j := range jobs {
			ops = append(ops,
				clientv3.OpPut(s.k.job(runID, j.ID), mustJSON(j)),
				clientv3.OpPut(s.k.jobIndex(j.ID), strconv.FormatInt(runID, 10)))
			if len(j.Spec) > 0 {
				ops = append(ops, clientv3.OpPut(s.k.spec(j.ID), string(j.Spec)))
			}
			if j.Status == model.JobPending {
				e := queueEntry(runID, j)
				ops = append(ops, clientv3.OpPut(s.k.queued(j.ID), mustJSON(e)))
				qevs = append(qevs, QueueEvent{Entry: e, Added: true})
			}
			if j.Status == model.JobScheduled {
				ops = append(ops, clientv3.OpPut(s.k.delayed(j.ID), mustJSON(DelayedEntry{RunID: runID, At: j.ScheduledAt})))
			}
		}
		tr, err := s.txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(s.k.counter("run")), "=", runRev),
			clientv3.Compare(clientv3.ModRevision(s.k.counter("job")), "=", jobRev),
		).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("create run %d: %w", runID, err)
		}
		if tr.Succeeded {
			for _, j := range jobs {
				s.jobRuns.Store(j.ID, runID)
			}
			s.seed(runID, run, jobs, tr.Header.Revision)
			s.queueChanged(qevs, tr.Header.Revision)
			return &RunState{Run: run, Jobs: jobs, Revision: tr.Header.Revision}, nil
		}
	}
	return nil, fmt.Errorf("create run: %w", ErrConflict)
}

func counterValue(r *etcdserverpb.RangeResponse) (int64, int64, error) {
	if len(r.Kvs) == 0 {
		return 0, 0, nil
	}
	v, err := strconv.ParseInt(string(r.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("counter %s: %w", r.Kvs[0].Key, err)
	}
	return v, r.Kvs[0].ModRevision, nil
}

// GetRun reads a run and its jobs at one revision.
func (s *Store) GetRun(ctx context.Context, id int64) (*RunState, error) {
	return s.getRun(ctx, id, 0)
}

// pushRun reports whether a run is a branch push, which auto-cancel
// considers.
func pushRun(r *model.Run) bool {
	return r.Ref != "" && (r.Source == "" || r.Source == "push")
}

// ActiveRunsOfRef returns the ids of the active branch-push runs of a
// project's ref, oldest first.
func (s *Store) ActiveRunsOfRef(ctx context.Context, project, ref string) ([]int64, error) {
	resp, err := s.cli.Get(ctx, s.k.refRuns(project, ref), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list runs of ref %q: %w", ref, err)
	}
	ids := make([]int64, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		id, err := idFromKey(string(kv.Key))
		if err != nil {
			return nil, fmt.Errorf("ref run key %q: %w", kv.Key, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// JobSpec returns the execution spec a job was created with.
func (s *Store) JobSpec(ctx context.Context, jobID int64) ([]byte, error) {
	resp, err := s.cli.Get(ctx, s.k.spec(jobID))
	if err != nil {
		return nil, fmt.Errorf("get job %d spec: %w", jobID, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("job %d spec: %w", jobID, ErrNotFound)
	}
	return resp.Kvs[0].Value, nil
}

// GetRunAt reads a run and its jobs at revision rev (0 means latest).
func (s *Store) GetRunAt(ctx context.Context, id, rev int64) (*RunState, error) {
	return s.getRun(ctx, id, rev)
}

func (s *Store) getRun(ctx context.Context, id, rev int64) (*RunState, error) {
	var opts []clientv3.OpOption
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.txn(ctx).Then(
		clientv3.OpGet(s.k.run(id), opts...),
		clientv3.OpGet(s.k.jobs(id), append(opts, clientv3.WithPrefix())...),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, err)
	}
	runResp := resp.Responses[0].GetResponseRange()
	if len(runResp.Kvs) == 0 {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	run, err := decode[model.Run](runResp.Kvs[0].Value, "run")
	if err != nil {
		return nil, err
	}
	rs := &RunState{Run: run, Revision: resp.Header.Revision, runRev: runResp.Kvs[0].ModRevision, origRun: runResp.Kvs[0].Value, orig: map[int64][]byte{}}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		j, err := decode[model.Job](kv.Value, "job")
		if err != nil {
			return nil, err
		}
		rs.Jobs = append(rs.Jobs, j)
		rs.orig[j.ID] = kv.Value
	}
	return rs, nil
}

// indexOps returns the queue and lease index changes for a job that went
// from before to after.
// The queue change, if any, is added to qevs (without its revision).
func (s *Store) indexOps(runID int64, before model.Job, after *model.Job, qevs *[]QueueEvent) []clientv3.Op {
	var ops []clientv3.Op
	wasQueued, isQueued := before.Status == model.JobPending, after.Status == model.JobPending
	switch {
	case isQueued && !wasQueued:
		e := queueEntry(runID, after)
		ops = append(ops, clientv3.OpPut(s.k.queued(after.ID), mustJSON(e)))
		*qevs = append(*qevs, QueueEvent{Entry: e, Added: true})
	case wasQueued && !isQueued:
		ops = append(ops, clientv3.OpDelete(s.k.queued(after.ID)))
		*qevs = append(*qevs, QueueEvent{Entry: QueueEntry{JobID: after.ID, RunID: runID}})
	}
	wasHeld, isHeld := before.Status.Active(), after.Status.Active()
	leaseChanged := before.Epoch != after.Epoch || before.RunnerID != after.RunnerID || before.SessionLease != after.SessionLease
	switch {
	case isHeld && (!wasHeld || leaseChanged):
		var opts []clientv3.OpOption
		if after.SessionLease != 0 {
			opts = append(opts, clientv3.WithLease(clientv3.LeaseID(after.SessionLease)))
		}
		ops = append(ops, clientv3.OpPut(s.k.lease(after.ID),
			mustJSON(LeaseEntry{RunID: runID, RunnerID: after.RunnerID, Epoch: after.Epoch, Limits: LimitsOf(after)}), opts...))
	case wasHeld && !isHeld:
		ops = append(ops, clientv3.OpDelete(s.k.lease(after.ID)))
	}
	wasDelayed, isDelayed := before.Status == model.JobScheduled, after.Status == model.JobScheduled
	switch {
	case isDelayed && (!wasDelayed || !before.ScheduledAt.Equal(after.ScheduledAt)):
		ops = append(ops, clientv3.OpPut(s.k.delayed(after.ID), mustJSON(DelayedEntry{RunID: runID, At: after.ScheduledAt})))
	case wasDelayed && !isDelayed:
		ops = append(ops, clientv3.OpDelete(s.k.delayed(after.ID)))
	}
	// An artifact that expires gets an entry for the collector; entries
	// are removed only by it, so the archive of an attempt that a retry
	// replaced is still deleted in time.
	if a := after.Artifact; a != nil && !a.ExpireAt.IsZero() && a.DeletedAt.IsZero() {
		if b := before.Artifact; b == nil || b.BlobKey != a.BlobKey || !b.ExpireAt.Equal(a.ExpireAt) {
			ops = append(ops, clientv3.OpPut(s.k.expiry(expirySecond(a.ExpireAt), after.ID, a.BlobKey),
				mustJSON(ExpiryEntry{RunID: runID, JobID: after.ID, BlobKey: a.BlobKey})))
		}
	}
	return ops
}

// queueEntry is a pending job's queue entry. A retry goes to the front of
// the queue.
func queueEntry(runID int64, j *model.Job) QueueEntry {
	prio := 0
	if len(j.Attempts) > 0 {
		prio = 1
	}
	return QueueEntry{JobID: j.ID, RunID: runID, Tags: j.Tags, Priority: prio, Limits: LimitsOf(j)}
}

// RunFilter selects the runs ListRuns returns.
type RunFilter struct {
	// Limit is the most runs returned (newest first).
	Limit int
	// BeforeID: only runs with smaller ids (paging); 0 means from the newest.
	BeforeID int64
	// Ref: only runs of this ref, when not empty.
	Ref string
}

// maxRunScan bounds the run records one filtered ListRuns reads.
const maxRunScan = 10000

// ListRuns returns up to f.Limit runs, newest first, that f selects. A
// filter by ref reads at most maxRunScan records, so the oldest runs of
// a rarely used ref may be missing from the answer.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]*model.Run, error) {
	runs := make([]*model.Run, 0, f.Limit)
	end := clientv3.GetPrefixRangeEnd(s.k.runs())
	if f.BeforeID > 0 {
		end = s.k.run(f.BeforeID)
	}
	page := int64(f.Limit)
	if f.Ref != "" {
		page = 256
	}
	for scanned := 0; len(runs) < f.Limit && scanned < maxRunScan; {
		resp, err := s.cli.Get(ctx, s.k.runs(), clientv3.WithRange(end),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(page))
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		for _, kv := range resp.Kvs {
			r, err := decode[model.Run](kv.Value, "run")
			if err != nil {
				return nil, err
			}
			if (f.Ref == "" || r.Ref == f.Ref) && len(runs) < f.Limit {
				runs = append(runs, r)
			}
		}
		scanned += len(resp.Kvs)
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
	return runs, nil
}

// ActiveRunIDs returns the ids of runs that have not ended.
func (s *Store) ActiveRunIDs(ctx context.Context) ([]int64, error) {
	resp, err := s.cli.Get(ctx, s.k.activeRuns(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list active runs: %w", err)
	}
	ids := make([]int64, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		id, err := idFromKey(string(kv.Key))
		if err != nil {
			return nil, fmt.Errorf("active run key %q: %w", kv.Key, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// WatchRun returns a channel that receives the revision of every change to
// the run (each job change rewrites the run record), starting after rev.
// The channel closes when ctx ends or the watch fails; callers re-read with
// GetRunAt.
func (s *Store) WatchRun(ctx context.Context, id, rev int64) <-chan int64 {
	out := make(chan int64, 1)
	wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.k.run(id), clientv3.WithRev(rev+1))
	go func() {
		defer close(out)
		for resp := range wch {
			if resp.Err() != nil {
				return
			}
			for _, ev := range resp.Events {
				select {
				case out <- ev.Kv.ModRevision:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
