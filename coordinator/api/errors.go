package api

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gantry-ci/gantry/coordinator/scheduler"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/coordinator/submit"
	"github.com/gantry-ci/gantry/pkg/protocol"
)

// API-level sentinel errors.
var (
	// ErrInvalidArgument means the request itself is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnauthenticated means the caller's credentials are missing or wrong.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the caller may not have what it asked for.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrProtocol means the client speaks another protocol version.
	ErrProtocol = errors.New("protocol mismatch")
	// ErrLogIncomplete means a completion arrived before all its log bytes.
	ErrLogIncomplete = errors.New("log incomplete")
	// ErrSessionClosed means a runner's Connect stream ended on the
	// coordinator's side; the runner reconnects.
	ErrSessionClosed = errors.New("runner session closed")
)

// toStatus is the one place domain errors become gRPC status codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, store.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, scheduler.ErrStaleEpoch), errors.Is(err, scheduler.ErrNotHeld), errors.Is(err, ErrProtocol), errors.Is(err, scheduler.ErrNotConnected),
		errors.Is(err, submit.ErrNoPipeline), errors.Is(err, scheduler.ErrNotPlayable):
		code = codes.FailedPrecondition
	case errors.Is(err, submit.ErrInvalidPipeline), errors.Is(err, ErrInvalidArgument), errors.Is(err, scheduler.ErrInvalidTransition):
		code = codes.InvalidArgument
	case errors.Is(err, ErrUnauthenticated):
		code = codes.Unauthenticated
	case errors.Is(err, ErrPermissionDenied):
		code = codes.PermissionDenied
	case errors.Is(err, store.ErrConflict), errors.Is(err, ErrSessionClosed):
		code = codes.Aborted
	case errors.Is(err, ErrLogIncomplete):
		code = codes.OutOfRange
	}
	return status.Error(code, err.Error())
}

// Interceptors returns the server options every coordinator uses: panic
// recovery, the protocol version check, runner authentication, and error
// mapping. Streams also end when stopping ends (coordinator shutdown), so
// long-lived watches and runner sessions do not hold up a graceful stop;
// their clients reconnect.
func Interceptors(stopping context.Context, auth *Authenticator, logger *zap.Logger) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
			defer recoverPanic(info.FullMethod, logger, &err)
			ctx, err = admit(ctx, info.FullMethod, auth)
			if err == nil {
				resp, err = handler(ctx, req)
			}
			return resp, logged(toStatus(err), info.FullMethod, logger)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
			defer recoverPanic(info.FullMethod, logger, &err)
			ctx, err := admit(ss.Context(), info.FullMethod, auth)
			if err == nil && info.FullMethod == "/gantry.v1.PipelineService/SubmitRun" {
				// An upload finishes on its own; let the graceful stop wait.
				err = handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
			} else if err == nil {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				stop := context.AfterFunc(stopping, cancel)
				err = handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
				stop()
				cancel()
				if stopping.Err() != nil && ss.Context().Err() == nil {
					err = status.Error(codes.Unavailable, "the coordinator is shutting down; reconnect")
				}
			}
			return logged(toStatus(err), info.FullMethod, logger)
		}),
	}
}

// admit checks the protocol version and, for runner calls, the token.
func admit(ctx context.Context, method string, auth *Authenticator) (context.Context, error) {
	if err := protocol.CheckIncoming(ctx); err != nil {
		return ctx, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if strings.HasPrefix(method, "/gantry.v1.RunnerService/") && method != "/gantry.v1.RunnerService/Register" {
		return auth.Runner(ctx)
	}
	return ctx, nil
}

func recoverPanic(method string, logger *zap.Logger, err *error) {
	if r := recover(); r != nil {
		logger.Error("handler panicked", zap.String("method", method), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		*err = status.Errorf(codes.Internal, "internal error in %s", method)
	}
}

// logged logs internal errors, the ones a caller cannot act on.
func logged(err error, method string, logger *zap.Logger) error {
	if status.Code(err) == codes.Internal {
		logger.Error("request failed", zap.String("method", method), zap.Error(err))
	}
	return err
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }
