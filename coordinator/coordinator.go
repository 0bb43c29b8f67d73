// Package coordinator assembles the coordinator: etcd (embedded or
// external), the store, the scheduler, blob and log storage, and the gRPC
// services, all run under one context.
package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/gantry-ci/gantry/coordinator/api"
	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/etcdserver"
	"github.com/gantry-ci/gantry/coordinator/expiry"
	"github.com/gantry-ci/gantry/coordinator/httpapi"
	"github.com/gantry-ci/gantry/coordinator/logstore"
	"github.com/gantry-ci/gantry/coordinator/metrics"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/coordinator/submit"
	"github.com/gantry-ci/gantry/coordinator/web"
	"github.com/gantry-ci/gantry/pkg/health"
	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Config is the coordinator's configuration.
type Config struct {
	// Listen is the gRPC address.
	Listen string
	// DataDir holds embedded etcd's data, logs and blobs.
	DataDir string
	// EtcdEndpoints selects an external etcd cluster; empty means embedded.
	EtcdEndpoints []string
	// EtcdPrefix namespaces Gantry's keys in etcd.
	EtcdPrefix string
	// EmbeddedEtcdURL is where embedded etcd listens for clients.
	EmbeddedEtcdURL string
	// RegistrationToken admits new runners.
	RegistrationToken string
	// LeaseTTL and HeartbeatInterval tune job leases.
	LeaseTTL          time.Duration
	HeartbeatInterval time.Duration
	// MaxSourceBytes bounds a submitted source archive.
	MaxSourceBytes int64
	// MaxArtifactBytes bounds one job's artifact archive (0: 2 GiB).
	MaxArtifactBytes int64
	// ReadyFile, if set, receives the gRPC address once serving (for
	// scripts and tests that listen on port 0).
	ReadyFile string
	// Registry is the container registry jobs push to, for CI_REGISTRY and
	// CI_REGISTRY_IMAGE.
	Registry string
	// HTTPListen, if set, serves the web dashboard, health and profiling
	// endpoints.
	HTTPListen string
	// HTTPReadyFile, if set, receives the HTTP address once serving.
	HTTPReadyFile string
	// AdminToken, if set, lets the dashboard drain runners for whoever
	// gives it; empty hides the drain buttons.
	AdminToken string
	// ArtifactsExpireIn keeps artifacts whose job sets no expire_in this
	// long (0: 30 days; negative: forever); ExpiryInterval is how often
	// expired ones are looked for (0: a minute).
	ArtifactsExpireIn time.Duration
	ExpiryInterval    time.Duration
	// ShutdownGrace bounds a graceful stop.
	ShutdownGrace time.Duration
	// BlobStore selects where blobs live: "" for DataDir's blobs/, a
	// directory, or s3://BUCKET[/PREFIX]?endpoint=... (see blob.Config).
	BlobStore string
	// S3AccessKey and S3SecretKey sign S3 requests; empty means the
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables.
	S3AccessKey string
	S3SecretKey string
}

// blobConfig is the blob store's part of the configuration.
func (c *Config) blobConfig() blob.Config {
	return blob.Config{URL: c.BlobStore, Dir: filepath.Join(c.DataDir, "blobs"), AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey}
}

// Validate checks the configuration and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.LeaseTTL > 0 && c.HeartbeatInterval > 0 && c.HeartbeatInterval*2 > c.LeaseTTL {
		errs = append(errs, fmt.Errorf("--heartbeat-interval (%s) must be at most half of --lease-ttl (%s) so one lost heartbeat does not expire leases", c.HeartbeatInterval, c.LeaseTTL))
	}
	if c.MaxSourceBytes < 0 {
		errs = append(errs, errors.New("--max-source-bytes must not be negative"))
	}
	if loc, err := c.blobConfig().Parse(); err != nil {
		errs = append(errs, fmt.Errorf("--blob-store %w", err))
	} else if loc.S3 == nil && (c.S3AccessKey != "" || c.S3SecretKey != "") {
		errs = append(errs, errors.New("--s3-access-key and --s3-secret-key-file are only for an s3:// --blob-store"))
	}
	if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
		errs = append(errs, errors.New("--s3-access-key and --s3-secret-key-file go together (or set neither and use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"))
	}
	return errors.Join(errs...)
}

// Run runs a coordinator until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	var cli *clientv3.Client
	if len(cfg.EtcdEndpoints) == 0 {
		srv, err := etcdserver.Start(ctx, etcdserver.Config{DataDir: filepath.Join(cfg.DataDir, "etcd"), ClientURL: cfg.EmbeddedEtcdURL}, log)
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info("embedded etcd started", zap.String("endpoint", srv.Endpoint()), zap.String("data_dir", filepath.Join(cfg.DataDir, "etcd")))
		// The coordinator calls its embedded etcd in process (about a
		// fifth of its CPU went to the loopback gRPC otherwise); the
		// endpoint stays open for etcdctl and other tools.
		cli = srv.Client()
	} else {
		var err error
		cli, err = clientv3.New(clientv3.Config{Endpoints: cfg.EtcdEndpoints, DialTimeout: 10 * time.Second, Logger: log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zap.WarnLevel))})
		if err != nil {
			return fmt.Errorf("etcd client: %w", err)
		}
	}
	defer cli.Close()
	met := metrics.New(metrics.Options{EtcdServerMetrics: len(cfg.EtcdEndpoints) == 0}, log.Named("metrics"))
	cli.KV = met.InstrumentKV(cli.KV)
	met.SetLeader(true) // alone, it leads; the leader election will drive this

	st := store.New(cli, cfg.EtcdPrefix, log)
	blobs, err := blob.Open(ctx, cfg.blobConfig(), log.Named("blob"))
	if err != nil {
		return err
	}
	log.Info("blob store ready", zap.Stringer("blob_store", blobs))
	logs, err := logstore.New(filepath.Join(cfg.DataDir, "logs"))
	if err != nil {
		return err
	}
	if loc, _ := cfg.blobConfig().Parse(); loc.S3 != nil {
		// Several coordinators share the bucket: complete logs go there
		// too. On the filesystem they would only be a second copy.
		logs.SetArchive(blobs)
	}
	sched := scheduler.New(st, scheduler.Config{LeaseTTL: cfg.LeaseTTL, HeartbeatInterval: cfg.HeartbeatInterval, ArtifactsExpireIn: cfg.ArtifactsExpireIn, Observer: met}, log.Named("scheduler"))
	met.Watch(sched)
	auth := api.NewAuthenticator(st, cfg.RegistrationToken)
	sub := submit.New(st, blobs, submit.Options{MaxSourceBytes: cfg.MaxSourceBytes, Registry: cfg.Registry}, log)

	// stopping ends long-lived streams at shutdown (see api.Interceptors).
	stopping, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	opts := append(api.Interceptors(stopping, auth, log),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.MaxRecvMsgSize(4<<20),
	)
	opts = append(opts, protocol.BulkServerOptions()...)
	gs := grpc.NewServer(opts...)
	gantryv1.RegisterRunnerServiceServer(gs, api.NewRunnerHandler(st, sched, logs, blobs, auth, cfg.MaxArtifactBytes, log.Named("runner-api")).Metered(met))
	pipelineAPI := api.NewPipelineHandler(st, sched, sub, logs, blobs, log.Named("pipeline-api"))
	pipelineAPI.SetAdminToken(cfg.AdminToken)
	gantryv1.RegisterPipelineServiceServer(gs, pipelineAPI)
	gantryv1.RegisterAdminServiceServer(gs, api.NewAdminHandler(st, sched))

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("coordinator listening", zap.String("addr", lis.Addr().String()))
	if cfg.ReadyFile != "" {
		if err := os.WriteFile(cfg.ReadyFile, []byte(lis.Addr().String()), 0o600); err != nil {
			return fmt.Errorf("write ready file: %w", err)
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	if cfg.HTTPListen != "" {
		hs, closeDashboard, err := listenHTTP(cfg, lis.Addr(), log,
			httpapi.Mount{Pattern: "GET /metrics", Handler: met.Handler()},
			httpapi.Mount{Pattern: "GET /readyz", Handler: health.Ready(readiness(cli, cfg.EtcdPrefix))})
		if err != nil {
			return err
		}
		defer closeDashboard()
		g.Go(func() error { return hs.Serve(gctx) })
	}
	g.Go(func() error { return sched.Run(gctx) })
	g.Go(func() error { return expiry.New(st, blobs, cfg.ExpiryInterval, log.Named("expiry")).Run(gctx) })
	g.Go(func() error {
		if err := gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Runner streams never end on their own: close them first so
		// runners reconnect (to the restarted or another coordinator) and
		// the graceful stop only waits for short calls.
		stopStreams()
		sched.CloseSessions()
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(cfg.ShutdownGrace):
			gs.Stop()
			<-stopped
		}
		return nil
	})
	err = g.Wait()
	log.Info("coordinator stopped")
	return err
}

// listenHTTP binds the HTTP listener with the web dashboard at "/" and
// the extra mounts. The dashboard reads through a client of this
// coordinator's own gRPC listener, so it sees what the CLI sees;
// closeClient releases that client.
func listenHTTP(cfg Config, grpcAddr net.Addr, log *zap.Logger, extra ...httpapi.Mount) (hs *httpapi.Server, closeClient func(), err error) {
	conn, err := grpc.NewClient(loopback(grpcAddr), append(protocol.ClientInterceptors(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))...)
	if err != nil {
		return nil, nil, fmt.Errorf("dashboard client: %w", err)
	}
	dash := web.New(gantryv1.NewPipelineServiceClient(conn), gantryv1.NewAdminServiceClient(conn),
		web.Options{AdminToken: cfg.AdminToken}, log.Named("web"))
	hs, err = httpapi.Listen(cfg.HTTPListen, log.Named("http"), append(extra, httpapi.Mount{Pattern: "/", Handler: dash})...)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	if cfg.HTTPReadyFile != "" {
		if err := os.WriteFile(cfg.HTTPReadyFile, []byte(hs.Addr()), 0o600); err != nil {
			_ = conn.Close()
			return nil, nil, fmt.Errorf("write HTTP ready file: %w", err)
		}
	}
	return hs, func() { _ = conn.Close() }, nil
}

// readiness is /readyz's check: etcd answers a read within a short
// time, and the leader is known.
func readiness(cli *clientv3.Client, prefix string) func(context.Context) error {
	if prefix == "" {
		prefix = store.DefaultPrefix
	}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := cli.Get(ctx, prefix+"readyz", clientv3.WithCountOnly()); err != nil {
			return fmt.Errorf("etcd unreachable: %w", err)
		}
		if !leaderKnown() {
			return errors.New("no leader known")
		}
		return nil
	}
}

// leaderKnown reports whether this coordinator knows which coordinator
// leads. There is no leader election yet: a coordinator runs alone and
// leads. The election will answer here, and drive metrics' SetLeader.
func leaderKnown() bool { return true }

// loopback is addr as this host dials it: a wildcard listener (":7420",
// "0.0.0.0:7420") is reached on the loopback interface.
func loopback(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	if tcp.IP.To4() == nil {
		return net.JoinHostPort("::1", strconv.Itoa(tcp.Port))
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}
