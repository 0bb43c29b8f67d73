// Package etcdserver runs an embedded single-member etcd server, the
// coordinator's default store when no external cluster is configured.
package etcdserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config configures the embedded server.
type Config struct {
	// DataDir holds etcd's data; it survives restarts.
	DataDir string
	// ClientURL is where etcd listens for clients, e.g.
	// "http://127.0.0.1:2379"; port 0 picks a free port.
	ClientURL string
	// PeerURL is the (unused, single-member) peer URL; port 0 is fine.
	PeerURL string
	// StartTimeout bounds waiting for the server to be ready.
	StartTimeout time.Duration
}

// Server is a running embedded etcd.
type Server struct {
	etcd    *embed.Etcd
	closing *atomic.Bool
}

// Start starts the server and waits until it serves requests.
func Start(ctx context.Context, cfg Config, logger *zap.Logger) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded etcd: data dir is required")
	}
	if cfg.ClientURL == "" {
		cfg.ClientURL = "http://127.0.0.1:0"
	}
	if cfg.PeerURL == "" {
		cfg.PeerURL = "http://127.0.0.1:0"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	curl, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: client url %q: %w", cfg.ClientURL, err)
	}
	purl, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: peer url %q: %w", cfg.PeerURL, err)
	}
	ec := embed.NewConfig()
	ec.Name = "gantry"
	ec.Dir = cfg.DataDir
	ec.ListenClientUrls = []url.URL{*curl}
	ec.AdvertiseClientUrls = []url.URL{*curl}
	ec.ListenPeerUrls = []url.URL{*purl}
	ec.AdvertisePeerUrls = []url.URL{*purl}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	// A run with many jobs is written in one transaction; the default of
	// 128 operations would cap runs at about 120 jobs.
	ec.MaxTxnOps = 10000
	ec.MaxRequestBytes = 8 << 20
	// Every job transition is a new revision (about 10 KB per job): without
	// compaction the database fills etcd's quota after a few hundred
	// thousand jobs and every write fails, and etcd's in-memory index of
	// revisions grows with the history kept (about 100 bytes a revision,
	// a dozen revisions a job). Keep five minutes of history (watches
	// resume across restarts that short; longer ones reload a snapshot)
	// and allow an 8 GiB database.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "5m"
	ec.QuotaBackendBytes = 8 << 30
	// Raft keeps applied entries in memory until a snapshot, and this many
	// more for slow followers; the defaults (10000 and 5000) cost tens of
	// MB of heap under load for nothing a single member needs.
	ec.SnapshotCount = 1000
	ec.SnapshotCatchUpEntries = 1000
	// etcd logs its own normal shutdown as errors ("server closed");
	// those lines are dropped once Close has begun.
	closing := new(atomic.Bool)
	elog := logger.Named("etcd").WithOptions(zap.IncreaseLevel(zap.WarnLevel), zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return quietCore{Core: c, closing: closing}
	}))
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(elog)
	ec.LogLevel = "warn"

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: start in %s: %w", cfg.DataDir, err)
	}
	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return &Server{etcd: e, closing: closing}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("embedded etcd: not ready after %s", cfg.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// Endpoint returns the address clients dial.
func (s *Server) Endpoint() string {
	return s.etcd.Clients[0].Addr().String()
}

// Client returns a client that calls the server in process, without
// encoding requests or crossing a socket: the coordinator's own client on
// the embedded default. Close it before closing the server.
func (s *Server) Client() *clientv3.Client {
	return v3client.New(s.etcd.Server)
}

// Err reports fatal server errors.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops the server.
func (s *Server) Close() {
	s.closing.Store(true)
	s.etcd.Close()
}

// quietCore drops every entry once the server is closing.
type quietCore struct {
	zapcore.Core
	closing *atomic.Bool
}

func (q quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.closing.Load() {
		return ce
	}
	return q.Core.Check(e, ce)
}

func (q quietCore) With(f []zapcore.Field) zapcore.Core {
	return quietCore{Core: q.Core.With(f), closing: q.closing}
}
