package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gantry-ci/gantry/coordinator/model"
)

// HashToken returns the stored form of a runner token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateRunner stores a new runner and the hash of its token.
func (s *Store) CreateRunner(ctx context.Context, r *model.Runner, token string) error {
	tr, err := s.txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.k.runner(r.ID)), "=", 0)).
		Then(
			clientv3.OpPut(s.k.runner(r.ID), mustJSON(r)),
			clientv3.OpPut(s.k.token(HashToken(token)), r.ID),
		).Commit()
	if err != nil {
		return fmt.Errorf("create runner %s: %w", r.ID, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("create runner %s: id already taken: %w", r.ID, ErrConflict)
	}
	return nil
}

// RunnerByToken returns the runner a token belongs to.
func (s *Store) RunnerByToken(ctx context.Context, token string) (*model.Runner, error) {
	resp, err := s.cli.Get(ctx, s.k.token(HashToken(token)))
	if err != nil {
		return nil, fmt.Errorf("look up runner token: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("runner token: %w", ErrNotFound)
	}
	return s.GetRunner(ctx, string(resp.Kvs[0].Value))
}

// GetRunner returns a runner by id.
func (s *Store) GetRunner(ctx context.Context, id string) (*model.Runner, error) {
	resp, err := s.cli.Get(ctx, s.k.runner(id))
	if err != nil {
		return nil, fmt.Errorf("get runner %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("runner %s: %w", id, ErrNotFound)
	}
	return decode[model.Runner](resp.Kvs[0].Value, "runner")
}

// PutRunner overwrites a runner record (tags, capacity, last seen).
func (s *Store) PutRunner(ctx context.Context, r *model.Runner) error {
	if _, err := s.cli.Put(ctx, s.k.runner(r.ID), mustJSON(r)); err != nil {
		return fmt.Errorf("put runner %s: %w", r.ID, err)
	}
	return nil
}

// ListRunners returns every registered runner.
func (s *Store) ListRunners(ctx context.Context) ([]*model.Runner, error) {
	resp, err := s.cli.Get(ctx, s.k.runners(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list runners: %w", err)
	}
	out := make([]*model.Runner, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		r, err := decode[model.Runner](kv.Value, "runner")
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
