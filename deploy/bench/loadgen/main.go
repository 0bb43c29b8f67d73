// Command loadgen is Gantry's dispatch benchmark. It starts a fresh
// coordinator (or targets a running one), connects a fleet of simulated
// runners over the real gRPC protocol, submits runs of jobs that finish at
// once, and measures jobs per second through the whole lifecycle, the
// latency from a job becoming ready to its lease reaching a runner, and
// the coordinator's memory. deploy/bench/dispatch.sh runs it for 10, 100
// and 1000 runners.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/pkg/logging"
)

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	log, err := logging.New("info", "console")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, cleanup runs; a second one kills at once
	// (the coordinator then dies with us through Pdeathsig).
	context.AfterFunc(ctx, stop)
	err = run(ctx, cfg, log)
	stop()
	_ = log.Sync()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// run runs one scenario per fleet size and reports them, also the ones
// finished before a failure.
func run(ctx context.Context, cfg *Config, log *zap.Logger) error {
	biggest := 0
	for _, n := range cfg.Runners {
		biggest = max(biggest, n)
	}
	// Each runner's connection plus the coordinator's side of it (when it
	// is ours it inherits this limit), etcd and slack.
	limit, err := raiseFileLimit(uint64(2*biggest + 256))
	if err != nil {
		return err
	}
	log.Info("open-file limit", zap.Uint64("limit", limit))
	bin := cfg.CoordinatorBin
	if cfg.Addr != "" {
		bin = "" // not the coordinator measured
	}
	rep := &report{Started: time.Now(), Label: cfg.Label, Machine: describeMachine(bin), Cfg: cfg}
	var runErr error
	for _, n := range cfg.Runners {
		res, err := runScenario(ctx, cfg, n, log)
		if res != nil && len(res.Phases) > 0 {
			rep.Scenarios = append(rep.Scenarios, res)
		}
		if err != nil {
			runErr = fmt.Errorf("%d runners: %w", n, err)
			if res != nil && len(res.Phases) == 0 {
				// The report leaves this scenario out; keep what it saw.
				for k, e := range res.Errors {
					log.Warn("protocol errors", zap.String("kind", k), zap.Int("count", e.n), zap.String("example", e.example))
				}
			}
			break
		}
	}
	if len(rep.Scenarios) == 0 {
		return runErr
	}
	if err := rep.writeText(os.Stdout); err != nil {
		return errors.Join(runErr, fmt.Errorf("write report: %w", err))
	}
	if cfg.Markdown != "" {
		if err := appendMarkdown(cfg.Markdown, rep); err != nil {
			return errors.Join(runErr, err)
		}
		log.Info("markdown report appended", zap.String("file", cfg.Markdown))
	}
	return runErr
}

func appendMarkdown(path string, rep *report) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("markdown report: %w", err)
	}
	if err := rep.writeMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("markdown report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("markdown report %s: %w", path, err)
	}
	return nil
}
