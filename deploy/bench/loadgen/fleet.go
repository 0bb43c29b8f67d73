package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// fleet is a set of registered simulated runners.
type fleet struct {
	runners   []*simRunner
	connected atomic.Int64
	allIn     chan struct{} // closed when every runner has been welcomed
}

// registerFleet dials and registers n runners, concurrency at a time.
// The caller must Close the fleet, also on error.
func registerFleet(ctx context.Context, addr, regToken string, n, capacity, concurrency int, rec *recorder) (*fleet, error) {
	f := &fleet{runners: make([]*simRunner, n), allIn: make(chan struct{})}
	for i := range n {
		r, err := dialRunner(addr, fmt.Sprintf("bench-%04d", i), capacity, rec)
		if err != nil {
			return f, err
		}
		f.runners[i] = r
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, r := range f.runners {
		g.Go(func() error { return r.register(gctx, regToken) })
	}
	return f, g.Wait()
}

// Run runs every runner's session until ctx ends. Runners connect at most
// concurrency at a time, so a large fleet does not stampede the
// coordinator; WaitConnected reports when all of them are in.
func (f *fleet) Run(ctx context.Context, concurrency int) error {
	g, gctx := errgroup.WithContext(ctx)
	gate := make(chan struct{}, concurrency)
	for _, r := range f.runners {
		select {
		case gate <- struct{}{}:
		case <-gctx.Done():
			return g.Wait()
		}
		g.Go(func() error {
			released := false
			release := func() {
				if !released {
					released = true
					<-gate
				}
			}
			defer release()
			return r.Run(gctx, func() {
				release()
				if int(f.connected.Add(1)) == len(f.runners) {
					close(f.allIn)
				}
			})
		})
	}
	return g.Wait()
}

// WaitConnected waits until every runner has been welcomed.
func (f *fleet) WaitConnected(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.allIn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("only %d of %d runners connected within %s", f.connected.Load(), len(f.runners), timeout)
	}
}

// Close closes every runner's connection.
func (f *fleet) Close() error {
	var errs []error
	for _, r := range f.runners {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}
