// Package expiry deletes artifact archives once their artifacts:expire_in
// has passed. The job keeps the artifact's record, marked deleted, so
// users see what there was and when it went; downloads then say so.
//
// Only one collector should run at a time (the leader's): two would only
// repeat idempotent work, since every step can be redone.
package expiry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/store"
)

// Blobs is what the collector needs of the blob store.
type Blobs interface {
	Delete(ctx context.Context, key string) error
}

// Collector deletes expired artifacts.
type Collector struct {
	store    *store.Store
	blobs    Blobs
	log      *zap.Logger
	interval time.Duration
	now      func() time.Time
}

// batch bounds the entries one pass handles before it looks again.
const batch = 256

// New returns a collector that looks for expired artifacts every interval
// (default one minute).
func New(st *store.Store, blobs Blobs, interval time.Duration, log *zap.Logger) *Collector {
	if interval <= 0 {
		interval = time.Minute
	}
	return &Collector{store: st, blobs: blobs, log: log, interval: interval, now: time.Now}
}

// Run collects until ctx ends. A failed pass is logged and retried at the
// next tick.
func (c *Collector) Run(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		if _, err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("artifact expiry pass failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Collect deletes every artifact due now and returns how many it deleted.
func (c *Collector) Collect(ctx context.Context) (int, error) {
	deleted := 0
	for {
		now := c.now()
		due, err := c.store.DueExpiries(ctx, now, batch)
		if err != nil {
			return deleted, err
		}
		for _, e := range due {
			gone, err := c.expire(ctx, e, now)
			if err != nil {
				return deleted, err
			}
			if gone {
				deleted++
			}
		}
		if len(due) < batch {
			return deleted, nil
		}
	}
}

// expire handles one entry: the job's record first (so that nobody starts
// a download of what goes), then the bytes, then the entry. It reports
// whether it deleted the blob.
func (c *Collector) expire(ctx context.Context, e store.ExpiryEntry, now time.Time) (bool, error) {
	keep := false
	_, err := c.store.UpdateRun(ctx, e.RunID, func(rs *store.RunState) error {
		j := rs.Job(e.JobID)
		if j == nil || j.Artifact == nil || j.Artifact.BlobKey != e.BlobKey {
			return nil // a retry replaced it: its bytes still go
		}
		if a := j.Artifact; a.ExpireAt.After(now) {
			keep = true // uploaded again with a later expiry
			return nil
		}
		if j.Artifact.DeletedAt.IsZero() {
			art := *j.Artifact
			art.DeletedAt = now
			j.Artifact = &art
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("expire artifacts of job %d: %w", e.JobID, err)
	}
	if !keep {
		if err := c.blobs.Delete(ctx, e.BlobKey); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return false, fmt.Errorf("delete artifacts of job %d: %w", e.JobID, err)
		}
		c.log.Info("artifacts expired and deleted", zap.Int64("run_id", e.RunID), zap.Int64("job_id", e.JobID), zap.String("blob", e.BlobKey))
	}
	return !keep, c.store.DeleteExpiry(ctx, e)
}
