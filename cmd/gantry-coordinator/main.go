// Command gantry-coordinator runs a Gantry coordinator: it holds pipeline
// state in etcd and leases jobs to runners.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/coordinator"
	"github.com/gantry-ci/gantry/pkg/config"
	"github.com/gantry-ci/gantry/pkg/health"
	"github.com/gantry-ci/gantry/pkg/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := command().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gantry-coordinator:", err)
		os.Exit(1)
	}
}

func command() *cobra.Command {
	var cfg coordinator.Config
	var s3SecretFile string
	var configFile, tokenFile, adminTokenFile, logLevel, logFormat string
	cmd := &cobra.Command{
		Use:           "gantry-coordinator",
		Short:         "Run a Gantry coordinator (embedded etcd unless --etcd-endpoints is set)",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Apply(cmd.Flags(), configFile); err != nil {
				return err
			}
			tok, err := config.Secret(cfg.RegistrationToken, tokenFile, "registration token")
			if err != nil {
				return err
			}
			cfg.RegistrationToken = tok
			admin, err := config.Secret(cfg.AdminToken, adminTokenFile, "admin token")
			if err != nil {
				return err
			}
			cfg.AdminToken = admin
			if cfg.S3SecretKey, err = config.Secret("", s3SecretFile, "S3 secret key"); err != nil {
				return err
			}
			log, err := logging.New(logLevel, logFormat)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			return coordinator.Run(cmd.Context(), cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML file of settings (keys are flag names)")
	f.StringVar(&cfg.Listen, "listen", "localhost:7420", "gRPC listen address")
	f.StringVar(&cfg.DataDir, "data-dir", "gantry-data", "directory for embedded etcd, logs and blobs")
	f.StringSliceVar(&cfg.EtcdEndpoints, "etcd-endpoints", nil, "external etcd cluster endpoints (default: embedded etcd)")
	f.StringVar(&cfg.EtcdPrefix, "etcd-prefix", "/gantry/", "key prefix in etcd")
	f.StringVar(&cfg.EmbeddedEtcdURL, "embedded-etcd-url", "http://127.0.0.1:0", "client URL of the embedded etcd (port 0 picks one)")
	f.StringVar(&cfg.RegistrationToken, "registration-token", "", "token runners register with")
	f.StringVar(&tokenFile, "registration-token-file", "", "file holding the registration token")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 0, "job lease TTL (default 15s)")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 0, "runner heartbeat interval (default 5s)")
	f.Int64Var(&cfg.MaxArtifactBytes, "max-artifact-size", 2<<30, "largest accepted artifact archive of one job, in bytes (compressed; 2 GiB so that a 1 GiB artifact of incompressible files fits with its archive overhead)")
	f.DurationVar(&cfg.ArtifactsExpireIn, "artifacts-expire-in", 30*24*time.Hour, "how long artifacts are kept when their job sets no artifacts:expire_in (negative: forever)")
	f.DurationVar(&cfg.ExpiryInterval, "artifacts-expiry-interval", time.Minute, "how often expired artifacts are looked for and deleted")
	f.Int64Var(&cfg.MaxSourceBytes, "max-source-bytes", 512<<20, "largest accepted source archive")
	f.StringVar(&cfg.Registry, "registry", "", "container registry (host[:port]) jobs push to: sets CI_REGISTRY and CI_REGISTRY_IMAGE")
	f.StringVar(&cfg.HTTPListen, "http-listen", "", "address of the web dashboard, Prometheus /metrics, /healthz, /readyz and profiling endpoints (off when empty)")
	f.StringVar(&cfg.HTTPReadyFile, "http-ready-file", "", "write the HTTP listen address here once serving")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "token the dashboard asks for to drain a runner (no drain buttons when empty)")
	f.StringVar(&adminTokenFile, "admin-token-file", "", "file holding the admin token")
	f.StringVar(&cfg.BlobStore, "blob-store", "", "where sources, artifacts and caches are kept: empty for <data-dir>/blobs, a directory, or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT&region=R&insecure=true&path-style=true")
	f.StringVar(&cfg.S3AccessKey, "s3-access-key", "", "access key of the s3:// blob store (default: AWS_ACCESS_KEY_ID)")
	f.StringVar(&s3SecretFile, "s3-secret-key-file", "", "file holding the secret key of the s3:// blob store (default: AWS_SECRET_ACCESS_KEY)")
	f.StringVar(&cfg.ReadyFile, "ready-file", "", "write the listen address here once serving")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "console", "console or json")
	cmd.AddCommand(health.Command("coordinator", "etcd reachable, leader known", "7421"))
	return cmd
}
