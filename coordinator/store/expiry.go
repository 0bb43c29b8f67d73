package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ExpiryEntry is an artifact archive due for deletion at the time its key
// names.
type ExpiryEntry struct {
	RunID   int64  `json:"run_id"`
	JobID   int64  `json:"job_id"`
	BlobKey string `json:"blob_key"`
	// Key is the entry's own key (not stored).
	Key string `json:"-"`
}

// DueExpiries returns up to limit expiry entries due at now, oldest first.
func (s *Store) DueExpiries(ctx context.Context, now time.Time, limit int) ([]ExpiryEntry, error) {
	end := s.k.expiries() + pad(now.Unix()+1)
	resp, err := s.cli.Get(ctx, s.k.expiries(), clientv3.WithRange(end), clientv3.WithLimit(int64(limit)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("list due expiries: %w", err)
	}
	out := make([]ExpiryEntry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var e ExpiryEntry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("expiry entry %s: %w", kv.Key, err)
		}
		e.Key = string(kv.Key)
		out = append(out, e)
	}
	return out, nil
}

// DeleteExpiry removes a handled expiry entry.
func (s *Store) DeleteExpiry(ctx context.Context, e ExpiryEntry) error {
	if _, err := s.cli.Delete(ctx, e.Key); err != nil {
		return fmt.Errorf("delete expiry entry: %w", err)
	}
	return nil
}

// expirySecond is the second an entry is due: t rounded up, so that an
// entry is never due before its artifact expires.
func expirySecond(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
