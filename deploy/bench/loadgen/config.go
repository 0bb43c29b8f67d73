package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/gantry-ci/gantry/pkg/config"
)

// Config is the load generator's configuration: flags, each with a
// GANTRY_* environment fallback (pkg/config).
type Config struct {
	// CoordinatorBin is the coordinator started fresh for every scenario.
	CoordinatorBin string
	// CoordinatorLogLevel is passed to the started coordinator; its log
	// goes to a file in its data dir.
	CoordinatorLogLevel string
	// Addr targets an already running coordinator instead.
	Addr string
	// PID of the coordinator at Addr, for its memory and CPU (optional).
	PID int
	// RegistrationToken runners register with; generated when a
	// coordinator is started and none is given.
	RegistrationToken string

	// Runners lists the fleet sizes, one scenario each, in order.
	Runners []int
	// Capacity is every simulated runner's concurrency.
	Capacity int
	// ConnectConcurrency bounds concurrent Register and Connect calls.
	ConnectConcurrency int
	// ConnectTimeout bounds registering and connecting the whole fleet.
	ConnectTimeout time.Duration

	// JobsPerRun is the number of parallel jobs in each submitted run.
	JobsPerRun int
	// Submitters is the number of concurrent SubmitRun callers.
	Submitters int
	// Depth is the closed-loop target of submitted, not yet completed
	// jobs in the saturation phase; 0 picks one from the fleet size.
	Depth int
	// Rate, when positive, makes the saturation phase open-loop at this
	// many jobs per second instead of closed-loop at Depth.
	Rate float64
	// LatencyRate is the open-loop job rate of the latency phase; 0 means
	// LatencyLoad times the throughput measured in the saturation phase.
	LatencyRate float64
	// LatencyLoad is the fraction of measured throughput offered in the
	// latency phase when LatencyRate is 0.
	LatencyLoad float64

	// Idle is how long the connected fleet is watched with no jobs, for
	// the coordinator's background cost (heartbeats, sessions).
	Idle time.Duration
	// Warmup precedes every measurement window; Duration is its length.
	Warmup, Duration time.Duration
	// DrainTimeout bounds waiting for outstanding jobs between phases.
	DrainTimeout time.Duration
	// SettleTimeout bounds waiting, after the drain, for the coordinator's
	// CPU to fall back to its idle level (work it still does for jobs
	// already completed would skew the next phase).
	SettleTimeout time.Duration

	// Markdown, if set, is the file the Markdown report is appended to.
	Markdown string
	// Label is free text recorded with the results (e.g. the commit).
	Label string
}

// parseConfig reads flags, then GANTRY_* environment variables for the
// flags not given.
func parseConfig(args []string) (*Config, error) {
	var c Config
	fs := pflag.NewFlagSet("loadgen", pflag.ContinueOnError)
	fs.StringVar(&c.CoordinatorBin, "coordinator-bin", "./bin/gantry-coordinator", "coordinator binary to start for each scenario (make build)")
	fs.StringVar(&c.CoordinatorLogLevel, "coordinator-log-level", "info", "log level of the started coordinator")
	fs.StringVar(&c.Addr, "addr", "", "host:port of a running coordinator to target instead of starting one")
	fs.IntVar(&c.PID, "pid", 0, "with --addr: the coordinator's process id, to report its memory and CPU")
	fs.StringVar(&c.RegistrationToken, "registration-token", "", "registration token (default: generated for the started coordinator)")
	fs.IntSliceVar(&c.Runners, "runners", []int{10}, "simulated runners; a list runs one scenario per size, each on a fresh coordinator")
	fs.IntVar(&c.Capacity, "capacity", 1, "concurrency every simulated runner announces")
	fs.IntVar(&c.ConnectConcurrency, "connect-concurrency", 32, "concurrent Register/Connect calls while the fleet starts")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 2*time.Minute, "bound on registering and connecting the fleet")
	fs.IntVar(&c.JobsPerRun, "jobs-per-run", 10, "parallel jobs per submitted run")
	fs.IntVar(&c.Submitters, "submitters", 4, "concurrent SubmitRun callers")
	fs.IntVar(&c.Depth, "depth", 0, "saturation phase: submitted-but-not-completed jobs to keep (default max(2*runners*capacity, 4*jobs-per-run))")
	fs.Float64Var(&c.Rate, "rate", 0, "saturation phase: open-loop job rate instead of closed-loop at --depth")
	fs.Float64Var(&c.LatencyRate, "latency-rate", 0, "latency phase: open-loop job rate (default --latency-load * measured throughput)")
	fs.Float64Var(&c.LatencyLoad, "latency-load", 0.5, "latency phase: fraction of the measured throughput to offer")
	fs.DurationVar(&c.Idle, "idle", 5*time.Second, "watch the connected fleet this long with no jobs (coordinator CPU at rest)")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "warm-up before each measurement window")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "length of each measurement window")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "bound on waiting for outstanding jobs after a phase")
	fs.DurationVar(&c.SettleTimeout, "settle-timeout", 30*time.Second, "bound on waiting after a phase for the coordinator's CPU to fall back to idle")
	fs.StringVar(&c.Markdown, "markdown", "", "append a Markdown report to this file")
	fs.StringVar(&c.Label, "label", "", "free text recorded with the results, e.g. the commit measured")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := config.Apply(fs, ""); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the configuration and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" && c.CoordinatorBin == "" {
		errs = append(errs, errors.New("give --coordinator-bin or --addr"))
	}
	if c.Addr != "" && c.RegistrationToken == "" {
		errs = append(errs, errors.New("--addr needs --registration-token"))
	}
	if c.Addr == "" && c.PID != 0 {
		errs = append(errs, errors.New("--pid only goes with --addr"))
	}
	if len(c.Runners) == 0 {
		errs = append(errs, errors.New("--runners is empty"))
	}
	for _, n := range c.Runners {
		if n < 1 {
			errs = append(errs, fmt.Errorf("--runners: %d is not a fleet size", n))
		}
	}
	if c.Capacity < 1 {
		errs = append(errs, errors.New("--capacity must be at least 1"))
	}
	if c.ConnectConcurrency < 1 {
		errs = append(errs, errors.New("--connect-concurrency must be at least 1"))
	}
	if c.JobsPerRun < 1 || c.JobsPerRun > 1000 {
		errs = append(errs, errors.New("--jobs-per-run must be between 1 and 1000"))
	}
	if c.Submitters < 1 {
		errs = append(errs, errors.New("--submitters must be at least 1"))
	}
	if c.Depth < 0 || c.Rate < 0 || c.LatencyRate < 0 {
		errs = append(errs, errors.New("--depth, --rate and --latency-rate must not be negative"))
	}
	if c.Depth > 0 && c.Depth < c.JobsPerRun {
		errs = append(errs, fmt.Errorf("--depth %d is below --jobs-per-run %d: no run would fit", c.Depth, c.JobsPerRun))
	}
	if c.LatencyLoad <= 0 || c.LatencyLoad > 1 {
		errs = append(errs, errors.New("--latency-load must be in (0, 1]"))
	}
	if c.Idle < 0 || c.Warmup < 0 || c.SettleTimeout < 0 || c.Duration <= 0 || c.DrainTimeout <= 0 || c.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("--idle, --warmup and --settle-timeout must not be negative; --duration, --drain-timeout and --connect-timeout must be positive"))
	}
	return errors.Join(errs...)
}

// depth is the closed-loop depth for a fleet of n runners.
func (c *Config) depth(n int) int {
	if c.Depth > 0 {
		return c.Depth
	}
	return max(2*n*c.Capacity, 4*c.JobsPerRun)
}
