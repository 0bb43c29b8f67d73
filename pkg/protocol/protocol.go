// Package protocol holds the facts both ends of Gantry's gRPC API agree on:
// the protocol version and the metadata keys that carry it and the runner's
// credentials.
package protocol

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Version is the wire protocol version. Coordinators refuse clients that
// send another one; bump it on any incompatible change to proto/gantry/v1.
const Version = "1"

// Metadata keys.
const (
	// VersionKey carries Version on every call.
	VersionKey = "gantry-protocol-version"
	// AuthorizationKey carries "Bearer <runner token>" on runner calls.
	AuthorizationKey = "authorization"
)

// WithVersion returns ctx with the protocol version added to outgoing
// metadata.
func WithVersion(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, VersionKey, Version)
}

// WithToken returns ctx with a runner token added to outgoing metadata.
func WithToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, AuthorizationKey, "Bearer "+token)
}

// TokenFromIncoming extracts the bearer token from incoming metadata.
func TokenFromIncoming(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(AuthorizationKey) {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok && t != "" {
			return t, true
		}
	}
	return "", false
}

// CheckIncoming verifies the protocol version in incoming metadata. The
// error text tells the user which side to upgrade.
func CheckIncoming(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	got := md.Get(VersionKey)
	if len(got) == 0 {
		return fmt.Errorf("missing %q metadata: this client does not speak the Gantry protocol (coordinator speaks version %s)", VersionKey, Version)
	}
	if got[0] != Version {
		return fmt.Errorf("protocol version mismatch: client speaks %s, coordinator speaks %s; upgrade the older of the two", got[0], Version)
	}
	return nil
}

// ClientInterceptors returns dial options that add the protocol version to
// every call.
func ClientInterceptors() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(WithVersion(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(WithVersion(ctx), desc, cc, method, opts...)
		}),
	}
}

// Bulk transfer tuning: artifacts, caches and sources stream in 256 KiB
// messages; gRPC's default 64 KiB window (grown by its bandwidth
// estimator) and 32 KiB read buffers cost a system call and a flow
// control round trip far more often than these. Windows are allowances,
// not allocations: idle streams cost nothing more.
const (
	bulkStreamWindow = 8 << 20
	bulkConnWindow   = 16 << 20
	bulkBuffer       = 1 << 20
)

// BulkDialOptions are the client side of the bulk transfer tuning.
func BulkDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(bulkStreamWindow), grpc.WithInitialConnWindowSize(bulkConnWindow),
		grpc.WithReadBufferSize(bulkBuffer), grpc.WithWriteBufferSize(bulkBuffer),
	}
}

// BulkServerOptions are the server side of the bulk transfer tuning:
// windows only. A coordinator holds a connection per runner, and read
// and write buffers are allocated per connection (a thousand runners
// would cost 2 GiB of 1 MiB buffers).
func BulkServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(bulkStreamWindow), grpc.InitialConnWindowSize(bulkConnWindow)}
}
