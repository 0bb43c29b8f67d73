// Command artifacts is Gantry's artifact throughput benchmark (issue 6).
// It writes one file of random (incompressible) bytes, 1 GiB by default,
// then, in every repeat, copies it with cp on the same filesystem as the
// baseline, and runs a real coordinator (embedded etcd) and a real runner
// through a pipeline whose first job declares the file as its artifact
// and whose second job needs it; then it downloads the archive with
// `gantry artifacts download`. It reports the medians of the upload, the
// dependent job's download and the CLI's download as MB/s and as ratios
// to cp, with the processes' memory and CPU while streaming. make bench
// runs it; the Markdown report (--markdown) is what docs/BENCHMARKS.md
// quotes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "artifacts bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, cleanup runs; a second one kills at once
	// (the coordinator and runner die with us through Pdeathsig).
	context.AfterFunc(ctx, stop)
	err = run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "artifacts bench:", err)
		os.Exit(1)
	}
}
