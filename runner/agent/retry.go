package agent

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryable is the one place the runner decides whether a failed call to
// the coordinator may succeed if sent again. FailedPrecondition (a stale
// epoch), NotFound, Unauthenticated and InvalidArgument are final: the
// job is no longer ours, or resending cannot help.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted,
		codes.Internal, codes.Unknown, codes.OutOfRange, codes.Canceled:
		return true
	default:
		return false
	}
}

// retryCall calls fn until it succeeds, fails for good, or ctx ends, with
// capped exponential backoff.
func retryCall(ctx context.Context, fn func(context.Context) error) error {
	backoff := 200 * time.Millisecond
	for {
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := fn(callCtx)
		cancel()
		if err == nil || !retryable(err) || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
