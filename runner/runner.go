// Package runner assembles a runner: it registers with the coordinator
// once (saving its token in the config file), builds the configured
// executor, and runs the agent.
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/client"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/runner/agent"
	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/executor/docker"
	"github.com/gantry-ci/gantry/runner/executor/shell"
	"github.com/gantry-ci/gantry/runner/metrics"
)

// Version is the runner's version, set at build time.
var Version = "dev"

// Config is the runner's configuration.
type Config struct {
	Coordinator       string
	ConfigFile        string
	RegistrationToken string
	RunnerID          string
	Token             string
	Name              string
	Tags              []string
	RunUntagged       bool
	Concurrency       int
	Executor          string
	BuildsDir         string
	PullPolicy        string
	CancelGrace       time.Duration
	LogSpoolDir       string
	LogBufferBytes    int64
	// MaxArtifactBytes bounds a job's artifact archive (0: no limit here).
	MaxArtifactBytes int64
	// HTTPListen, if set, serves /metrics, /healthz and /readyz there;
	// HTTPReadyFile, if set, receives its address once serving.
	HTTPListen    string
	HTTPReadyFile string
}

// Validate checks the configuration and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if c.Coordinator == "" {
		errs = append(errs, errors.New("--coordinator is required"))
	}
	if c.Token == "" && c.RegistrationToken == "" {
		errs = append(errs, errors.New("the runner is not registered: give --registration-token (or GANTRY_REGISTRATION_TOKEN) once; its own token is then saved in --config"))
	}
	if c.MaxArtifactBytes < 0 {
		errs = append(errs, fmt.Errorf("--max-artifact-size must not be negative, got %d", c.MaxArtifactBytes))
	}
	if c.LogBufferBytes < 0 {
		errs = append(errs, fmt.Errorf("--log-buffer-size must not be negative, got %d", c.LogBufferBytes))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency must be at least 1, got %d", c.Concurrency))
	}
	switch c.Executor {
	case "docker":
	case "shell":
		if c.BuildsDir == "" {
			errs = append(errs, errors.New("--builds-dir is required for the shell executor"))
		}
	default:
		errs = append(errs, fmt.Errorf("--executor %q: use docker or shell", c.Executor))
	}
	switch c.PullPolicy {
	case "if-not-present", "always", "never":
	default:
		errs = append(errs, fmt.Errorf("--pull-policy %q: use if-not-present, always or never", c.PullPolicy))
	}
	return errors.Join(errs...)
}

// Run runs the runner until drain ends and its jobs finish, or kill ends.
func Run(drain, kill context.Context, cfg Config, log *zap.Logger) error {
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	conn, err := grpc.NewClient(cfg.Coordinator, append(append(protocol.ClientInterceptors(), protocol.BulkDialOptions()...),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithPerRPCCredentials(tokenCreds{cfg: &cfg}),
		// Reconnect fast: jobs survive a coordinator restart only if the
		// runner re-attaches them within the lease TTL, so gRPC's default
		// backoff (up to 2 minutes) is far too slow. The agent paces its
		// own retries.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	)...)
	if err != nil {
		return fmt.Errorf("coordinator %s: %w", cfg.Coordinator, err)
	}
	defer conn.Close()
	client := gantryv1.NewRunnerServiceClient(conn)

	if cfg.Token == "" {
		if err := register(kill, client, &cfg, log); err != nil {
			return err
		}
	}
	spool, err := prepareSpool(cfg.LogSpoolDir, cfg.RunnerID, log)
	if err != nil {
		return err
	}
	cfg.LogSpoolDir = spool
	met := metrics.New(cfg.Concurrency, log.Named("metrics"))
	exec, closeExec, err := newExecutor(kill, cfg, met, log)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := closeExec(ctx); err != nil {
			log.Warn("closing the executor", zap.Error(err))
		}
	}()
	a := agent.New(client, exec, agent.Config{
		Name: cfg.Name, Tags: cfg.Tags, RunUntagged: cfg.RunUntagged, Concurrency: cfg.Concurrency,
		Version: Version, CancelGrace: cfg.CancelGrace,
		LogSpoolDir: cfg.LogSpoolDir, LogBufferBytes: cfg.LogBufferBytes, MaxArtifactBytes: cfg.MaxArtifactBytes,
		Observer: met,
	}, log)
	met.Watch(a)
	if cfg.HTTPListen != "" {
		stop, err := serveHTTP(cfg, met, a, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	log.Info("runner starting", zap.String("runner_id", cfg.RunnerID), zap.String("name", cfg.Name), zap.Strings("tags", cfg.Tags),
		zap.Int("concurrency", cfg.Concurrency), zap.String("executor", cfg.Executor), zap.String("coordinator", cfg.Coordinator))
	return a.Run(drain, kill)
}

// serveHTTP serves the runner's metrics and health endpoints until stop
// is called.
func serveHTTP(cfg Config, met *metrics.Runner, a *agent.Agent, log *zap.Logger) (stop func(), err error) {
	srv, err := metrics.Listen(cfg.HTTPListen, met, func() error {
		if !a.Connected() {
			return errors.New("not connected to a coordinator")
		}
		return nil
	}, log.Named("http"))
	if err != nil {
		return nil, err
	}
	if cfg.HTTPReadyFile != "" {
		if err := os.WriteFile(cfg.HTTPReadyFile, []byte(srv.Addr()), 0o600); err != nil {
			return nil, fmt.Errorf("write HTTP ready file: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	return func() {
		cancel()
		if err := <-served; err != nil {
			log.Warn("http server", zap.Error(err))
		}
	}, nil
}

// prepareSpool makes the runner's own log spool directory (default: one
// per runner id under the system temp dir) and removes the spool files a
// killed predecessor left: their jobs were lost with it.
func prepareSpool(dir, runnerID string, log *zap.Logger) (string, error) {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "gantry-log-spool-"+runnerID)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("log spool directory: %w (set --log-spool-dir)", err)
	}
	stale, err := filepath.Glob(filepath.Join(dir, "gantry-log-*.spool"))
	if err != nil {
		return "", fmt.Errorf("log spool directory: %w", err)
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			log.Warn("remove stale log spool", zap.String("file", f), zap.Error(err))
		}
	}
	return dir, nil
}

// register exchanges the registration token for the runner's own and
// saves it, so restarts reuse the identity.
func register(ctx context.Context, client gantryv1.RunnerServiceClient, cfg *Config, log *zap.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.Register(ctx, &gantryv1.RegisterRequest{
		RegistrationToken: cfg.RegistrationToken, Name: cfg.Name, Tags: cfg.Tags, RunUntagged: cfg.RunUntagged,
	}, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("register with %s: %w", cfg.Coordinator, err)
	}
	cfg.RunnerID, cfg.Token = resp.GetRunnerId(), resp.GetRunnerToken()
	if err := saveCredentials(cfg.ConfigFile, cfg.RunnerID, cfg.Token); err != nil {
		return fmt.Errorf("registered as %s but could not save the token (the runner must register again next time): %w", cfg.RunnerID, err)
	}
	log.Info("runner registered", zap.String("runner_id", cfg.RunnerID), zap.String("config", cfg.ConfigFile))
	return nil
}

// newExecutor builds the configured executor and the function that
// releases what it holds when the runner stops.
func newExecutor(ctx context.Context, cfg Config, met *metrics.Runner, log *zap.Logger) (executor.Executor, func(context.Context) error, error) {
	switch cfg.Executor {
	case "shell":
		ex := shell.New(shell.Config{BuildsDir: cfg.BuildsDir, DefaultCancelGrace: cfg.CancelGrace}, log.Named("shell"))
		return ex, func(context.Context) error { return nil }, nil
	default:
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, nil, fmt.Errorf("docker client: %w", err)
		}
		if _, err := cli.Ping(ctx); err != nil {
			return nil, nil, fmt.Errorf("docker engine unreachable (is dockerd running? DOCKER_HOST=%q): %w", os.Getenv("DOCKER_HOST"), err)
		}
		// Negotiate once now: lazy negotiation races when jobs start at once.
		cli.NegotiateAPIVersion(ctx)
		id := cfg.RunnerID
		if id == "" {
			id = strings.ReplaceAll(filepath.Base(cfg.Name), " ", "-")
		}
		ex := docker.New(cli, docker.Config{
			RunnerID: id, PullPolicy: docker.PullPolicy(cfg.PullPolicy), DefaultCancelGrace: cfg.CancelGrace,
			WarmSpares: cfg.Concurrency, ContainerStarted: met.ContainerStarted,
		}, log.Named("docker"))
		if err := ex.Prune(ctx); err != nil {
			log.Warn("could not remove containers left by an earlier run of this runner", zap.Error(err))
		}
		ex.Warm()
		return ex, func(ctx context.Context) error {
			err := ex.Close(ctx)
			return errors.Join(err, cli.Close())
		}, nil
	}
}

// tokenCreds sends the runner token on every call once registered.
type tokenCreds struct{ cfg *Config }

func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if t.cfg.Token == "" {
		return nil, nil
	}
	return map[string]string{protocol.AuthorizationKey: "Bearer " + t.cfg.Token}, nil
}

func (tokenCreds) RequireTransportSecurity() bool { return false }
