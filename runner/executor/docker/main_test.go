package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/executor/executortest"
)

// Images built by deploy/testimages/build.sh.
const (
	busyboxImage    = "gantry-test/busybox:latest"
	entrypointImage = "gantry-test/busybox-entrypoint:latest"
	webImage        = "gantry-test/web:latest"
)

var (
	// testCLI is the Docker client of the tests; nil when the engine is
	// unreachable, and skipReason says why.
	testCLI    *client.Client
	skipReason string
	jobIDs     atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = cli.Ping(ctx)
		if err == nil {
			// Before concurrent use: the client's lazy negotiation races.
			cli.NegotiateAPIVersion(ctx)
		}
		cancel()
	}
	if err != nil {
		skipReason = fmt.Sprintf("Docker engine unreachable, skipping tests that need it: %v", err)
		fmt.Fprintln(os.Stderr, skipReason)
	} else {
		// Tests must work from a clean clone: build the images they use.
		out, err := exec.Command("bash", "../../../deploy/testimages/build.sh").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "deploy/testimages/build.sh failed: %v\n%s", err, out)
			return 1
		}
		testCLI = cli
	}
	code := m.Run()
	if cli != nil {
		cli.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}

func requireDocker(t *testing.T) {
	t.Helper()
	if testCLI == nil {
		t.Skip(skipReason)
	}
}

// newTestExecutor returns an executor with a runner ID unique to t, and
// checks when t ends that nothing labelled with it remains.
func newTestExecutor(t *testing.T, cfg Config) *Executor {
	t.Helper()
	requireDocker(t)
	if cfg.RunnerID == "" {
		cfg.RunnerID = uniqueRunnerID(t)
	}
	t.Cleanup(func() { assertNoLeftovers(t, cfg.RunnerID) })
	return New(testCLI, cfg, zaptest.NewLogger(t))
}

func uniqueRunnerID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(sanitizeName(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return "t-" + name + "-" + hex.EncodeToString(b)
}

// assertNoLeftovers fails t if any container, network or volume labelled
// with runnerID exists, then removes them so later runs start clean.
func assertNoLeftovers(t *testing.T, runnerID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := runnerFilter(runnerID)
	containers, err := testCLI.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("listing containers: %v", err)
	}
	for _, c := range containers {
		t.Errorf("container %v (%s) left behind", c.Names, c.State)
	}
	networks, err := testCLI.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatalf("listing networks: %v", err)
	}
	for _, n := range networks {
		t.Errorf("network %s left behind", n.Name)
	}
	volumes, err := testCLI.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatalf("listing volumes: %v", err)
	}
	for _, v := range volumes.Volumes {
		t.Errorf("volume %s left behind", v.Name)
	}
	if len(containers)+len(networks)+len(volumes.Volumes) > 0 {
		e := New(testCLI, Config{RunnerID: runnerID}, zaptest.NewLogger(t))
		if err := e.Prune(ctx); err != nil {
			t.Errorf("pruning leftovers: %v", err)
		}
	}
}

// newJob returns a job running script in the busybox image.
func newJob(script ...string) *executor.Job {
	return &executor.Job{
		ID:     jobIDs.Add(1),
		Epoch:  1,
		Name:   "test",
		Stage:  "test",
		Image:  executor.Image{Name: busyboxImage},
		Script: script,
	}
}

// runJob runs job to its end and checks that Run removed what it created.
func runJob(ctx context.Context, t *testing.T, e *Executor, job *executor.Job, log *logBuffer) executor.Result {
	t.Helper()
	res, err := e.Run(ctx, job, log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	assertNoLeftovers(t, e.cfg.RunnerID)
	t.Logf("outcome %v, exit code %d, message %q; log:\n%s", res.Outcome, res.ExitCode, res.Message, log.String())
	return res
}

// The shared test helpers, under the names these tests use.
type logBuffer = executortest.LogBuffer

var (
	newLogBuffer  = executortest.NewLogBuffer
	stripANSI     = executortest.StripANSI
	assertInOrder = executortest.AssertInOrder
	assertOutcome = executortest.AssertOutcome
)
