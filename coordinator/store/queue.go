package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// QueueSnapshot returns every pending job and the revision it was read at,
// from which WatchQueue continues.
func (s *Store) QueueSnapshot(ctx context.Context) ([]QueueEntry, int64, error) {
	resp, err := s.cli.Get(ctx, s.k.queue(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("read queue: %w", err)
	}
	out := make([]QueueEntry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		e, err := decodeQueue(kv)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, resp.Header.Revision, nil
}

// OnQueueChange registers fn to learn, as soon as each of this store's
// own commits succeeds, the queue changes it made (with their revision):
// the scheduler's mirror of the queue need not wait for the watch to
// deliver them. fn runs on the committing goroutine and must not block.
// Changes made by others still arrive only through WatchQueue.
func (s *Store) OnQueueChange(fn func([]QueueEvent)) {
	s.queueHook.Store(&fn)
}

func (s *Store) queueChanged(evs []QueueEvent, rev int64) {
	fn := s.queueHook.Load()
	if fn == nil || len(evs) == 0 {
		return
	}
	for i := range evs {
		evs[i].Entry.Rev = rev
	}
	(*fn)(evs)
}

func decodeQueue(kv *mvccpb.KeyValue) (QueueEntry, error) {
	id, err := idFromKey(string(kv.Key))
	if err != nil {
		return QueueEntry{}, fmt.Errorf("queue key %q: %w", kv.Key, err)
	}
	e := QueueEntry{JobID: id, Rev: kv.ModRevision}
	if len(kv.Value) > 0 {
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return QueueEntry{}, fmt.Errorf("queue entry %q: %w", kv.Key, err)
		}
	}
	return e, nil
}

// QueueEvent is a job entering (Added) or leaving the queue.
type QueueEvent struct {
	Entry QueueEntry
	Added bool
}

// WatchQueue streams queue changes after rev to fn until ctx ends or the
// watch fails (compaction, lost leader); the caller then re-snapshots.
func (s *Store) WatchQueue(ctx context.Context, rev int64, fn func([]QueueEvent)) error {
	wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.k.queue(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch queue: %w", err)
		}
		evs := make([]QueueEvent, 0, len(resp.Events))
		for _, ev := range resp.Events {
			e, err := decodeQueue(ev.Kv)
			if err != nil {
				return err
			}
			evs = append(evs, QueueEvent{Entry: e, Added: ev.Type == mvccpb.PUT})
		}
		fn(evs)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("watch queue: channel closed")
}

// Leases returns every held job's lease entry, and the revision read at.
func (s *Store) Leases(ctx context.Context) ([]LeaseEntry, int64, error) {
	resp, err := s.cli.Get(ctx, s.k.leases(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("read leases: %w", err)
	}
	out := make([]LeaseEntry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		id, err := idFromKey(string(kv.Key))
		if err != nil {
			return nil, 0, fmt.Errorf("lease key %q: %w", kv.Key, err)
		}
		e := LeaseEntry{JobID: id}
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, 0, fmt.Errorf("lease entry %q: %w", kv.Key, err)
		}
		out = append(out, e)
	}
	return out, resp.Header.Revision, nil
}

// DueJobs returns the scheduled (when: delayed) jobs due at now.
func (s *Store) DueJobs(ctx context.Context, now time.Time) ([]DelayedEntry, error) {
	resp, err := s.cli.Get(ctx, s.k.delayedJobs(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read delayed jobs: %w", err)
	}
	var out []DelayedEntry
	for _, kv := range resp.Kvs {
		id, err := idFromKey(string(kv.Key))
		if err != nil {
			return nil, fmt.Errorf("delayed key %q: %w", kv.Key, err)
		}
		e := DelayedEntry{JobID: id}
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("delayed entry %q: %w", kv.Key, err)
		}
		if !e.At.After(now) {
			out = append(out, e)
		}
	}
	return out, nil
}

// WatchLeaseExpiry calls fn with the job id and attempt epoch (0 when
// etcd no longer has the deleted value) of every lease key deleted after
// rev (a job ended, or its runner session's etcd lease expired), until ctx
// ends or the watch fails.
func (s *Store) WatchLeaseExpiry(ctx context.Context, rev int64, fn func(jobID, epoch int64)) error {
	return s.WatchLeaseEnds(ctx, rev, func(e LeaseEntry) { fn(e.JobID, e.Epoch) })
}

// WatchLeaseEnds is WatchLeaseExpiry with the whole deleted entry (only
// JobID set when etcd no longer has the value).
func (s *Store) WatchLeaseEnds(ctx context.Context, rev int64, fn func(LeaseEntry)) error {
	wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.k.leases(), clientv3.WithPrefix(),
		clientv3.WithRev(rev+1), clientv3.WithFilterPut(), clientv3.WithPrevKV())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch leases: %w", err)
		}
		for _, ev := range resp.Events {
			id, err := idFromKey(string(ev.Kv.Key))
			if err != nil {
				return fmt.Errorf("lease key %q: %w", ev.Kv.Key, err)
			}
			var prev LeaseEntry
			if ev.PrevKv != nil {
				_ = json.Unmarshal(ev.PrevKv.Value, &prev) // a bad value just means "unknown epoch"
			}
			prev.JobID = id
			fn(prev)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("watch leases: channel closed")
}

// GrantSessionLease creates an etcd lease with ttlSeconds for a runner
// session; held jobs' lease keys are bound to it.
func (s *Store) GrantSessionLease(ctx context.Context, ttlSeconds int64) (int64, error) {
	resp, err := s.cli.Grant(ctx, ttlSeconds)
	if err != nil {
		return 0, fmt.Errorf("grant session lease: %w", err)
	}
	return int64(resp.ID), nil
}

// RenewSessionLease renews a session lease once.
func (s *Store) RenewSessionLease(ctx context.Context, id int64) error {
	if _, err := s.cli.KeepAliveOnce(ctx, clientv3.LeaseID(id)); err != nil {
		return fmt.Errorf("renew session lease %x: %w", id, err)
	}
	return nil
}

// RevokeSessionLease revokes a session lease, deleting its lease keys.
func (s *Store) RevokeSessionLease(ctx context.Context, id int64) error {
	if _, err := s.cli.Revoke(ctx, clientv3.LeaseID(id)); err != nil {
		return fmt.Errorf("revoke session lease %x: %w", id, err)
	}
	return nil
}
