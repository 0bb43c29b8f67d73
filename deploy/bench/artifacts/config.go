package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/gantry-ci/gantry/pkg/config"
)

// Config is the benchmark's configuration: flags, each with a GANTRY_*
// environment fallback (pkg/config).
type Config struct {
	// Bin holds gantry-coordinator, gantry-runner and gantry (make build).
	Bin string
	// Dir is where everything measured lives: the random file, cp's copy,
	// the coordinator's data dir (blobs), the runner's builds dir and the
	// CLI's download, so all of them are on one filesystem.
	Dir string
	// Size is the artifact file's size in bytes.
	Size int64
	// Repeats is the number of measured repeats; medians are reported.
	Repeats int
	// Executors are measured in turn, each with its own coordinator and
	// runner: shell (the transport alone) and docker (adds the engine's
	// copy out of the container).
	Executors []string
	// Image is the docker executor's job image (make test-images).
	Image string
	// RunTimeout bounds one pipeline run.
	RunTimeout time.Duration
	// SampleEvery is the memory and CPU sampling period.
	SampleEvery time.Duration
	// Markdown, if set, is the file the Markdown report is appended to.
	Markdown string
	// Label is free text recorded with the results (e.g. the commit).
	Label string
	// Keep leaves the work directory in place (for debugging).
	Keep bool
}

// parseConfig reads flags, then GANTRY_* environment variables for the
// flags not given.
func parseConfig(args []string) (*Config, error) {
	var c Config
	fs := pflag.NewFlagSet("artifacts", pflag.ContinueOnError)
	fs.StringVar(&c.Bin, "bin", "./bin", "directory holding gantry-coordinator, gantry-runner and gantry (make build)")
	fs.StringVar(&c.Dir, "dir", "/var/tmp", "parent of the work directory: the file, its copies and the coordinator's blobs go there, on one filesystem (not tmpfs)")
	fs.Int64Var(&c.Size, "size", 1<<30, "artifact file size in bytes")
	fs.IntVar(&c.Repeats, "repeats", 5, "measured repeats per executor (medians are reported)")
	fs.StringSliceVar(&c.Executors, "executors", []string{"shell"}, "executors to measure in turn: shell, docker")
	fs.StringVar(&c.Image, "image", "gantry-test/busybox:latest", "job image for the docker executor (make test-images)")
	fs.DurationVar(&c.RunTimeout, "run-timeout", 10*time.Minute, "bound on one pipeline run")
	fs.DurationVar(&c.SampleEvery, "sample-every", 50*time.Millisecond, "memory and CPU sampling period")
	fs.StringVar(&c.Markdown, "markdown", "", "append a Markdown report to this file")
	fs.StringVar(&c.Label, "label", "", "free text recorded with the results, e.g. the commit measured")
	fs.BoolVar(&c.Keep, "keep", false, "keep the work directory (the 1 GiB file, blobs, logs) instead of removing it")
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
	if c.Bin == "" || c.Dir == "" {
		errs = append(errs, errors.New("--bin and --dir must not be empty"))
	}
	if c.Size < 1<<20 {
		errs = append(errs, errors.New("--size must be at least 1 MiB"))
	}
	if c.Repeats < 1 {
		errs = append(errs, errors.New("--repeats must be at least 1"))
	}
	if len(c.Executors) == 0 {
		errs = append(errs, errors.New("--executors is empty"))
	}
	for _, e := range c.Executors {
		if !slices.Contains([]string{"shell", "docker"}, e) {
			errs = append(errs, fmt.Errorf("--executors: %q is neither shell nor docker", e))
		}
	}
	if c.RunTimeout <= 0 || c.SampleEvery <= 0 {
		errs = append(errs, errors.New("--run-timeout and --sample-every must be positive"))
	}
	return errors.Join(errs...)
}
