// Package api holds the coordinator's gRPC handlers. Handlers are thin:
// they convert between protobuf and domain types and call the scheduler,
// the store or the submission service; errors become status codes in one
// interceptor (errors.go).
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/pkg/protocol"
)

// Authenticator checks registration tokens and runner tokens.
type Authenticator struct {
	store             *store.Store
	registrationToken string

	cache sync.Map // token hash -> *model.Runner
}

// NewAuthenticator returns an authenticator accepting registrationToken
// for new runners.
func NewAuthenticator(st *store.Store, registrationToken string) *Authenticator {
	return &Authenticator{store: st, registrationToken: registrationToken}
}

// CheckRegistration verifies a registration token.
func (a *Authenticator) CheckRegistration(token string) error {
	if a.registrationToken == "" {
		return fmt.Errorf("%w: this coordinator has no registration token configured (--registration-token)", ErrUnauthenticated)
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.registrationToken)) != 1 {
		return fmt.Errorf("%w: wrong registration token", ErrUnauthenticated)
	}
	return nil
}

type runnerKey struct{}

// Runner authenticates the runner token in ctx and returns ctx carrying
// the runner.
func (a *Authenticator) Runner(ctx context.Context) (context.Context, error) {
	token, ok := protocol.TokenFromIncoming(ctx)
	if !ok {
		return ctx, fmt.Errorf("%w: missing runner token (authorization: Bearer <token>)", ErrUnauthenticated)
	}
	hash := store.HashToken(token)
	if r, ok := a.cache.Load(hash); ok {
		return context.WithValue(ctx, runnerKey{}, r.(*model.Runner)), nil
	}
	r, err := a.store.RunnerByToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return ctx, fmt.Errorf("%w: unknown runner token; register the runner again", ErrUnauthenticated)
	}
	if err != nil {
		return ctx, err
	}
	a.cache.Store(hash, r)
	return context.WithValue(ctx, runnerKey{}, r), nil
}

// runnerFrom returns the authenticated runner of a runner call.
func runnerFrom(ctx context.Context) *model.Runner {
	r, _ := ctx.Value(runnerKey{}).(*model.Runner)
	return r
}
