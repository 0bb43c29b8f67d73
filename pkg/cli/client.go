package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/gantry-ci/gantry/pkg/protocol"
)

// defaultPort is the coordinator's port when an address names none.
const defaultPort = "7420"

// dial connects lazily to the coordinators listed in addrs
// (comma-separated host:port). A manual resolver hands them all to
// pick_first, which uses the first one that accepts a connection and moves
// on to the next when it goes away; every call of one command then talks to
// the same coordinator.
func dial(addrs string, timeout time.Duration, token string) (*grpc.ClientConn, error) {
	list, err := parseAddrs(addrs)
	if err != nil {
		return nil, err
	}
	eps := make([]resolver.Endpoint, len(list))
	for i, addr := range list {
		host, _, _ := net.SplitHostPort(addr)
		// ServerName keeps the authority (and later the TLS name) right
		// for each coordinator rather than the made-up target below.
		eps[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: addr, ServerName: host}}}
	}
	r := manual.NewBuilderWithScheme("gantry")
	r.InitialState(resolver.State{Endpoints: eps})
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"pick_first":{}}]}`),
		grpc.WithChainUnaryInterceptor(unaryTimeout(timeout)),
	}
	if token != "" {
		opts = append(opts, grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
			return invoker(protocol.WithToken(ctx, token), method, req, reply, cc, o...)
		}), grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(protocol.WithToken(ctx, token), desc, cc, method, o...)
		}))
	}
	opts = append(opts, protocol.ClientInterceptors()...)
	opts = append(opts, protocol.BulkDialOptions()...)
	conn, err := grpc.NewClient(r.Scheme()+":///coordinator", opts...)
	if err != nil {
		return nil, fmt.Errorf("coordinator %s: %w", addrs, err)
	}
	return conn, nil
}

// parseAddrs splits a comma-separated address list, adding the default
// port where one is missing.
func parseAddrs(s string) ([]string, error) {
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			if strings.Contains(a, "://") {
				return nil, fmt.Errorf("--coordinator %q: give host:port, without a scheme", a)
			}
			a = net.JoinHostPort(strings.Trim(a, "[]"), defaultPort)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("--coordinator is empty")
	}
	return out, nil
}

// unaryTimeout bounds every unary call that has no deadline yet. Streams
// (submit, watch, logs) last as long as they need to.
func unaryTimeout(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// errorText renders err for a user: a gRPC status loses its "rpc error:
// code = ... desc =" framing, and an unreachable coordinator is named.
func (a *app) errorText(err error) string {
	var se interface {
		error
		GRPCStatus() *status.Status
	}
	if !errors.As(err, &se) {
		return err.Error()
	}
	st := se.GRPCStatus()
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		msg = fmt.Sprintf("cannot reach the coordinator at %s: %s (set --coordinator or GANTRY_COORDINATOR)", a.coordinator, dialCause(msg))
	case codes.DeadlineExceeded:
		if msg == context.DeadlineExceeded.Error() {
			msg = fmt.Sprintf("no answer from the coordinator at %s within %s (--timeout)", a.coordinator, a.timeout)
		}
	case codes.Unimplemented:
		msg = fmt.Sprintf("the coordinator at %s does not support this request; is it older than this gantry? (%s)", a.coordinator, msg)
	}
	return strings.Replace(err.Error(), se.Error(), msg, 1)
}

// dialCause digs the network error out of gRPC's connection error text.
func dialCause(msg string) string {
	const marker = "Error while dialing: "
	if i := strings.LastIndex(msg, marker); i >= 0 {
		return strings.TrimRight(msg[i+len(marker):], `"`)
	}
	return msg
}
