// Package bench holds Gantry's end-to-end benchmarks. They run under
// `make bench`, never as timed assertions in tests.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// BenchmarkJobOverhead measures a trivial job (`echo hi` in the busybox
// test image) run through Gantry end to end (`gantry submit` until it
// exits: upload, dispatch, network, volume, container, log, completion,
// cleanup) against `docker run --rm` of the same command, interleaved so
// machine noise hits both alike, and reports the medians and their ratio.
func BenchmarkJobOverhead(b *testing.B) {
	if err := harness.BuildTestImages(); err != nil {
		b.Fatal(err)
	}
	harness.Docker(b)
	dir, addr, token := b.TempDir(), harness.FreeAddr(b), "bench-token"
	harness.Coordinator(b, dir, addr, token, "--log-level", "warn")
	r := harness.Runner(b, dir, "bench-runner", addr, token, "--log-level", "warn")
	harness.RunnerID(b, dir, "bench-runner", r)
	client := harness.Dial(b, addr)
	src := b.TempDir()
	harness.WriteTree(b, src, map[string]string{".gantry.yml": "hi:\n  image: gantry-test/busybox:latest\n  script: [echo hi]\n"})
	ctx := context.Background()

	repeats := 15
	if n, err := strconv.Atoi(os.Getenv("GANTRY_BENCH_REPEATS")); err == nil && n > 0 {
		repeats = n
	}
	var gantry, docker, jobOnly []time.Duration
	warm := func() {
		if res := harness.CLI(ctx, b, addr, "submit", src); res.Code != 0 {
			b.Fatalf("submit: %d %s %s", res.Code, res.Stdout, res.Stderr)
		}
		if out, err := exec.Command("docker", "run", "--rm", "gantry-test/busybox:latest", "echo", "hi").CombinedOutput(); err != nil {
			b.Fatalf("docker run: %v %s", err, out)
		}
	}
	warm()
	b.ResetTimer()
	for range b.N {
		for range repeats {
			start := time.Now()
			res := harness.CLI(ctx, b, addr, "submit", src)
			gantry = append(gantry, time.Since(start))
			if res.Code != 0 {
				b.Fatalf("submit: %d %s %s", res.Code, res.Stdout, res.Stderr)
			}
			start = time.Now()
			if out, err := exec.Command("docker", "run", "--rm", "gantry-test/busybox:latest", "echo", "hi").CombinedOutput(); err != nil {
				b.Fatalf("docker run: %v %s", err, out)
			}
			docker = append(docker, time.Since(start))
		}
	}
	b.StopTimer()
	runs, err := client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: int32(len(gantry))})
	if err != nil {
		b.Fatal(err)
	}
	for _, run := range runs.GetRuns() {
		got, err := client.Pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: run.GetId()})
		if err != nil {
			b.Fatal(err)
		}
		j := got.GetJobs()[0]
		jobOnly = append(jobOnly, j.GetFinishedAt().AsTime().Sub(j.GetQueuedAt().AsTime()))
	}
	g, d, q := median(gantry), median(docker), median(jobOnly)
	b.ReportMetric(float64(g.Milliseconds()), "gantry-ms")
	b.ReportMetric(float64(d.Milliseconds()), "docker-run-ms")
	b.ReportMetric(float64(q.Milliseconds()), "queued-to-done-ms")
	b.ReportMetric(float64(g)/float64(d), "ratio")
	fmt.Printf("job overhead over %d runs: gantry submit (end to end) median %s, queued->finished median %s, docker run --rm median %s, ratio %.2f (queued->finished / docker run: %.2f)\n",
		len(gantry), g, q, d, float64(g)/float64(d), float64(q)/float64(d))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
