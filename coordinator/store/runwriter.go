package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gantry-ci/gantry/coordinator/model"
)

// batchTimeout bounds one batch of run updates, whoever's request started
// it: a caller that gives up must not fail the others in its batch.
const batchTimeout = 30 * time.Second

// A run's updates are combined: concurrent UpdateRun calls on one run
// queue their functions, and one caller at a time (the combiner) applies
// every queued function to the run's state in order and writes the result
// in one transaction. Concurrent transitions of one run therefore cost one
// etcd round trip instead of racing for the run record and retrying, and
// the combiner works from the state it last wrote instead of re-reading
// the run, when nothing else wrote it in between (the transaction's guard
// on the run record's revision tells).
type runWriter struct {
	mu      sync.Mutex
	pending []*runOp
	busy    bool
	// cached is the run as this coordinator last wrote or read it; it
	// is only touched by the combiner.
	cached *RunState
}

type runOp struct {
	fn   func(*RunState) error
	rev  int64
	err  error
	lead bool // woken to combine rather than with a result
	done chan struct{}
}

// writer returns the combining writer of run id.
func (s *Store) writer(id int64) *runWriter {
	s.writersMu.Lock()
	defer s.writersMu.Unlock()
	w := s.writers[id]
	if w == nil {
		w = &runWriter{}
		s.writers[id] = w
	}
	return w
}

// seed gives a new run's writer its state as just created, so the first
// updates need not read it back. The caller's copies stay its own.
func (s *Store) seed(id int64, run *model.Run, jobs []*model.Job, rev int64) {
	if run.Status.Terminal() {
		return
	}
	runEnc, err := json.Marshal(run)
	if err != nil {
		return
	}
	rs := &RunState{Revision: rev, runRev: rev, origRun: runEnc, orig: make(map[int64][]byte, len(jobs))}
	for _, j := range jobs {
		enc, err := json.Marshal(j)
		if err != nil {
			return
		}
		rs.orig[j.ID] = enc
	}
	fresh, err := rs.pristine(jobIDs(jobs))
	if err != nil {
		return
	}
	w := s.writer(id)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.busy && w.cached == nil {
		w.cached = fresh
	}
}

func jobIDs(jobs []*model.Job) []int64 {
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// forget drops the writer of an ended run once it is idle.
func (s *Store) forget(id int64, w *runWriter) {
	s.writersMu.Lock()
	defer s.writersMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.busy && len(w.pending) == 0 && w.cached == nil && s.writers[id] == w {
		delete(s.writers, id)
	}
}

// UpdateRun lets fn change the run and its jobs, and writes what changed
// in one transaction guarded by the run record's revision, maintaining the
// queue, lease and active-run indexes. It returns the revision the change
// was committed at.
//
// fn may be called more than once (after a lost race, or to replay a batch
// without a failed neighbour), so it must decide from the state it is
// given only and assign, not accumulate, what it captures. An error from
// fn aborts that caller's update, leaving the state as if fn had not run,
// and is returned as is. fn must not keep references into the state.
func (s *Store) UpdateRun(ctx context.Context, id int64, fn func(*RunState) error) (int64, error) {
	w := s.writer(id)
	op := &runOp{fn: fn, done: make(chan struct{})}
	w.mu.Lock()
	w.pending = append(w.pending, op)
	if w.busy {
		w.mu.Unlock()
		<-op.done // combiners finish every batch within batchTimeout
		if !op.lead {
			return op.rev, op.err
		}
		w.mu.Lock()
	}
	w.busy = true
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()

	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	ended := s.applyBatch(bctx, id, w, batch)
	cancel()
	terminal := ended != nil

	w.mu.Lock()
	if len(w.pending) > 0 {
		next := w.pending[0]
		next.lead = true
		close(next.done)
	} else {
		w.busy = false
		if terminal {
			w.cached = nil
		}
	}
	w.mu.Unlock()
	if terminal {
		s.forget(id, w)
		for _, jid := range ended.JobIDs {
			s.jobRuns.Delete(jid)
		}
	}
	// op was in batch, so applyBatch settled it.
	return op.rev, op.err
}

// applyBatch applies the batch's functions in order and commits them,
// settling every op. It returns the run if the batch ended it (its writer
// and job index entries may then be dropped).
func (s *Store) applyBatch(ctx context.Context, id int64, w *runWriter, batch []*runOp) (ended *model.Run) {
	settle := func(op *runOp, rev int64, err error) {
		op.rev, op.err = rev, err
		if op.lead {
			op.lead = false // the combiner itself: it reads its result directly
			return
		}
		close(op.done)
	}
	var lastErr error
	for range maxAttempts {
		rs := w.cached
		w.cached = nil
		if rs == nil {
			var err error
			if rs, err = s.GetRun(ctx, id); err != nil {
				for _, op := range batch {
					settle(op, 0, err)
				}
				return nil
			}
		}
		// Apply each function; one that fails is dropped and the state
		// rebuilt from what was stored plus the others.
		failed := map[*runOp]error{}
		for {
			bad := s.applyAll(rs, batch, failed)
			if bad == nil {
				break
			}
			fresh, err := rs.pristine(jobIDs(rs.Jobs))
			if err != nil {
				for _, op := range batch {
					settle(op, 0, err)
				}
				return nil
			}
			rs = fresh
		}
		ok, err := s.commit(ctx, id, rs)
		if err != nil && len(batch) > 1 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// One op bound a key to a lapsed etcd lease (a runner session
			// that just expired): it must not take the others down. Apply
			// them one by one so only that op fails.
			for _, op := range batch {
				if end := s.applyBatch(ctx, id, w, []*runOp{op}); end != nil {
					ended = end
				}
			}
			return ended
		}
		if err != nil {
			for _, op := range batch {
				if ferr, bad := failed[op]; bad {
					settle(op, 0, ferr)
				} else {
					settle(op, 0, err)
				}
			}
			return nil
		}
		if !ok {
			lastErr = ErrConflict
			continue // someone else wrote the run: re-read and replay
		}
		for _, op := range batch {
			if ferr, bad := failed[op]; bad {
				settle(op, 0, ferr)
			} else {
				settle(op, rs.Revision, nil)
			}
		}
		if rs.Run.Status.Terminal() {
			return rs.Run
		}
		w.cached = rs
		return nil
	}
	for _, op := range batch {
		settle(op, 0, fmt.Errorf("update run %d: %w", id, lastErr))
	}
	return nil
}

// applyAll runs the batch's functions that have not failed yet on rs. If
// one fails, it records the failure and returns that op: rs is then
// partly modified and must be rebuilt.
func (s *Store) applyAll(rs *RunState, batch []*runOp, failed map[*runOp]error) *runOp {
	for _, op := range batch {
		if _, bad := failed[op]; bad {
			continue
		}
		if err := op.fn(rs); err != nil {
			failed[op] = err
			return op
		}
	}
	return nil
}

// pristine decodes the state as it was stored, undoing in-memory changes.
func (rs *RunState) pristine(ids []int64) (*RunState, error) {
	run, err := decode[model.Run](rs.origRun, "run")
	if err != nil {
		return nil, err
	}
	out := &RunState{Run: run, Revision: rs.Revision, runRev: rs.runRev, origRun: rs.origRun, orig: rs.orig}
	for _, jid := range ids {
		j, err := decode[model.Job](rs.orig[jid], "job")
		if err != nil {
			return nil, err
		}
		out.Jobs = append(out.Jobs, j)
	}
	return out, nil
}

// commit writes what changed in rs since it was stored, guarded by the run
// record's revision. It reports false if the run changed meanwhile.
func (s *Store) commit(ctx context.Context, id int64, rs *RunState) (bool, error) {
	before, err := decode[model.Run](rs.origRun, "run")
	if err != nil {
		return false, err
	}
	wasActive := !before.Status.Terminal()
	runEnc, err := json.Marshal(rs.Run)
	if err != nil {
		return false, fmt.Errorf("encode run %d: %w", id, err)
	}
	ops := []clientv3.Op{clientv3.OpPut(s.k.run(id), string(runEnc))}
	if isActive := !rs.Run.Status.Terminal(); isActive != wasActive {
		if isActive {
			ops = append(ops, clientv3.OpPut(s.k.active(id), ""))
		} else {
			ops = append(ops, clientv3.OpDelete(s.k.active(id)))
			if pushRun(rs.Run) {
				ops = append(ops, clientv3.OpDelete(s.k.refRun(rs.Run.ProjectName, rs.Run.Ref, id)))
			}
		}
	}
	written := map[int64][]byte{}
	var qevs []QueueEvent
	for _, j := range rs.Jobs {
		enc, err := json.Marshal(j)
		if err != nil {
			return false, fmt.Errorf("encode job %d: %w", j.ID, err)
		}
		old := rs.orig[j.ID]
		if bytes.Equal(enc, old) {
			continue
		}
		prev, err := decode[model.Job](old, "job")
		if err != nil {
			return false, err
		}
		written[j.ID] = enc
		ops = append(ops, clientv3.OpPut(s.k.job(id, j.ID), string(enc)))
		ops = append(ops, s.indexOps(id, *prev, j, &qevs)...)
	}
	tr, err := s.txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.k.run(id)), "=", rs.runRev)).
		Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("update run %d: %w", id, err)
	}
	if !tr.Succeeded {
		return false, nil
	}
	rs.Revision, rs.runRev, rs.origRun = tr.Header.Revision, tr.Header.Revision, runEnc
	for k, v := range written {
		rs.orig[k] = v
	}
	s.queueChanged(qevs, tr.Header.Revision)
	return true, nil
}
