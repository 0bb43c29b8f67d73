// Command gantry-runner runs a Gantry runner agent: it registers with a
// coordinator, takes job leases, and runs the jobs in Docker containers
// (or a shell). The first SIGTERM or Ctrl-C drains (finish running jobs,
// take no new ones); a second one cancels the running jobs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/pkg/config"
	"github.com/gantry-ci/gantry/pkg/health"
	"github.com/gantry-ci/gantry/pkg/logging"
	"github.com/gantry-ci/gantry/runner"
)

func main() {
	drain, stopDrain := context.WithCancel(context.Background())
	kill, stopKill := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stopDrain()
		<-sig
		stopKill()
	}()
	err := command(drain, kill).Execute()
	stopKill()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gantry-runner:", err)
		os.Exit(1)
	}
}

func defaultConfigFile() string {
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "gantry", "runner.yml")
	}
	return "gantry-runner.yml"
}

func command(drain, kill context.Context) *cobra.Command {
	var cfg runner.Config
	var tokenFile, logLevel, logFormat string
	cmd := &cobra.Command{
		Use:           "gantry-runner",
		Short:         "Run a Gantry runner agent",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Apply(cmd.Flags(), cfg.ConfigFile); err != nil {
				return err
			}
			tok, err := config.Secret(cfg.RegistrationToken, tokenFile, "registration token")
			if err != nil {
				return err
			}
			cfg.RegistrationToken = tok
			// GitLab's rule: a runner without tags takes untagged jobs.
			if !cmd.Flags().Changed("run-untagged") && os.Getenv(config.EnvName("run-untagged")) == "" && len(cfg.Tags) == 0 {
				cfg.RunUntagged = true
			}
			log, err := logging.New(logLevel, logFormat)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			return runner.Run(drain, kill, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConfigFile, "config", defaultConfigFile(), "YAML settings file; registration saves the runner's token here")
	f.StringVar(&cfg.Coordinator, "coordinator", "localhost:7420", "coordinator gRPC address")
	f.StringVar(&cfg.RegistrationToken, "registration-token", "", "token to register with (first start only)")
	f.StringVar(&tokenFile, "registration-token-file", "", "file holding the registration token")
	f.StringVar(&cfg.RunnerID, "runner-id", "", "runner id (saved by registration)")
	f.StringVar(&cfg.Token, "token", "", "runner token (saved by registration)")
	f.StringVar(&cfg.Name, "name", "", "runner name (default: host name)")
	f.StringSliceVar(&cfg.Tags, "tags", nil, "tags this runner serves (comma-separated)")
	f.BoolVar(&cfg.RunUntagged, "run-untagged", false, "also take jobs without tags (default true when --tags is empty)")
	f.IntVar(&cfg.Concurrency, "concurrency", 1, "jobs run at once")
	f.StringVar(&cfg.Executor, "executor", "docker", "docker or shell")
	f.StringVar(&cfg.BuildsDir, "builds-dir", "", "work directory for the shell executor")
	f.StringVar(&cfg.PullPolicy, "pull-policy", "if-not-present", "image pull policy: if-not-present, always or never")
	f.DurationVar(&cfg.CancelGrace, "cancel-grace", 10*time.Second, "time between SIGTERM and SIGKILL for canceled jobs")
	f.StringVar(&cfg.LogSpoolDir, "log-spool-dir", "", "directory buffering job logs while the coordinator is unreachable (default: a per-runner directory under the system temp dir)")
	f.Var(byteSize{&cfg.MaxArtifactBytes}, "max-artifact-size", "largest artifact archive a job may upload, e.g. 1GiB (default: no limit here; the coordinator's applies)")
	f.Var(byteSize{&cfg.LogBufferBytes}, "log-buffer-size", "most unacknowledged log bytes buffered per job, e.g. 64MiB (default 64MiB); output beyond it is dropped with a notice in the log")
	f.StringVar(&cfg.HTTPListen, "http-listen", "", "address of the Prometheus /metrics, /healthz and /readyz endpoints (off when empty)")
	f.StringVar(&cfg.HTTPReadyFile, "http-ready-file", "", "write the HTTP listen address here once serving")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "console", "console or json")
	cmd.AddCommand(health.Command("runner", "connected to a coordinator", "7422"))
	return cmd
}

// byteSize is a flag holding a size such as 512KiB, 64MiB or 1GiB.
type byteSize struct{ v *int64 }

func (b byteSize) String() string {
	if b.v == nil || *b.v == 0 {
		return ""
	}
	return strconv.FormatInt(*b.v, 10)
}

func (b byteSize) Type() string { return "size" }

func (b byteSize) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size: write a whole number of bytes with an optional unit, e.g. 64MiB", s)
	}
	*b.v = n * mult
	return nil
}
