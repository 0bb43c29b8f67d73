// Package etcdtest starts a real embedded etcd server for tests.
package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/etcdserver"
)

// New starts an embedded etcd in a temporary directory and returns a client
// to it; both are closed when the test ends.
func New(t testing.TB) *clientv3.Client {
	t.Helper()
	srv, err := etcdserver.Start(context.Background(), etcdserver.Config{DataDir: t.TempDir()}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
