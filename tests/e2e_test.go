package tests

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

const pipeline2Stages = `
stages: [build, test, deploy]
default:
  image: gantry-test/busybox:latest
variables:
  GREETING: hello
compile:
  stage: build
  script:
    - echo "$GREETING from $CI_JOB_NAME of $CI_PROJECT_NAME"
    - cat src/main.txt
service:
  stage: test
  services:
    - name: gantry-test/web:latest
      alias: web
  script:
    - wget -qO- http://web:8080/
failing:
  stage: test
  script:
    - echo before-failure
    - exit 3
    - echo never-printed
deploy:
  stage: deploy
  script:
    - echo deploying
`

type env struct {
	dir, addr, token, runnerID string
	coord, runner              *harness.Process
	client                     *harness.Client
}

func startEnv(t *testing.T, runnerArgs ...string) *env {
	t.Helper()
	harness.Docker(t)
	e := &env{dir: t.TempDir(), addr: harness.FreeAddr(t), token: "e2e-registration-token"}
	e.coord = harness.Coordinator(t, e.dir, e.addr, e.token)
	e.runner, e.runnerID = startDockerRunner(t, e.dir, "runner-1", e.addr, e.token, append([]string{"--concurrency", "3"}, runnerArgs...)...)
	e.client = harness.Dial(t, e.addr)
	return e
}

// startDockerRunner starts a runner and, when the test ends, stops it and
// checks that it removed every container, network and volume it created.
func startDockerRunner(t *testing.T, dir, name, addr, token string, args ...string) (*harness.Process, string) {
	t.Helper()
	p := harness.Runner(t, dir, name, addr, token, args...)
	id := harness.RunnerID(t, dir, name, p)
	t.Cleanup(func() { assertNoLeftovers(t, p, id) })
	return p, id
}

// assertNoLeftovers checks, after the runner stopped, that it removed
// every container, network and volume it created.
func assertNoLeftovers(t *testing.T, runner *harness.Process, runnerID string) {
	runner.Stop(30 * time.Second)
	cli := harness.Docker(t)
	left, err := harness.Leftovers(context.Background(), cli, "gantry.runner-id="+runnerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("runner left Docker objects behind: %v", left)
	}
}

func TestPipelineEndToEnd(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{
		".gantry.yml":  pipeline2Stages,
		"src/main.txt": "the main source file\n",
	})
	res := harness.CLI(ctx, t, e.addr, "submit", src)
	if res.Code != 1 {
		t.Fatalf("gantry submit exit code %d, want 1 (a job failed)\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{"compile", "failing", "exit code 3", "skipped", "hello from gantry service"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("submit output lacks %q:\n%s", want, res.Stdout)
		}
	}

	runs, err := e.client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{})
	if err != nil || len(runs.GetRuns()) == 0 {
		t.Fatalf("ListRuns: %v %v", runs, err)
	}
	run := e.client.WaitRun(ctx, t, runs.GetRuns()[0].GetId(), harness.RunEnded)
	if got := run.GetRun().GetStatus(); got != gantryv1.RunStatus_RUN_STATUS_FAILED {
		t.Errorf("run status %s, want failed", got)
	}
	want := map[string]gantryv1.JobStatus{
		"compile": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
		"service": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
		"failing": gantryv1.JobStatus_JOB_STATUS_FAILED,
		"deploy":  gantryv1.JobStatus_JOB_STATUS_SKIPPED,
	}
	for name, st := range want {
		if j := harness.Job(run, name); j.GetStatus() != st {
			t.Errorf("job %s: status %s, want %s (%s)", name, j.GetStatus(), st, j.GetFailureMessage())
		}
	}
	failing := harness.Job(run, "failing")
	if failing.GetExitCode() != 3 || failing.GetFailureReason() != gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE {
		t.Errorf("failing job: exit code %d reason %s, want 3 script_failure", failing.GetExitCode(), failing.GetFailureReason())
	}
	// Stages run in order: nothing of the test stage started before
	// compile ended.
	compile := harness.Job(run, "compile")
	for _, name := range []string{"service", "failing"} {
		if harness.Job(run, name).GetStartedAt().AsTime().Before(compile.GetFinishedAt().AsTime()) {
			t.Errorf("job %s started before the build stage ended", name)
		}
	}

	logs := map[string][]string{
		"compile": {"$ echo \"$GREETING from $CI_JOB_NAME of $CI_PROJECT_NAME\"", "hello from compile of", "the main source file"},
		"service": {"$ wget -qO- http://web:8080/", "hello from gantry service"},
		"failing": {"$ echo before-failure", "before-failure", "$ exit 3"},
	}
	for name, wants := range logs {
		log := e.client.Log(ctx, t, harness.Job(run, name).GetId())
		for _, w := range wants {
			if !strings.Contains(log, w) {
				t.Errorf("log of %s lacks %q:\n%s", name, w, log)
			}
		}
		if strings.Contains(log, "never-printed") {
			t.Errorf("log of %s shows a command after the failing one:\n%s", name, log)
		}
	}

	// The CLI's other commands see the same state.
	if r := harness.CLI(ctx, t, e.addr, "runners"); r.Code != 0 || !strings.Contains(r.Stdout, "runner-1") {
		t.Errorf("gantry runners: code %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := harness.CLI(ctx, t, e.addr, "logs", "1", "failing"); r.Code != 0 || !strings.Contains(r.Stdout, "before-failure") {
		t.Errorf("gantry logs 1 failing: code %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("invalid YAML is refused with file:line:column", func(t *testing.T) {
		stream, err := e.client.Pipeline.SubmitRun(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = stream.Send(&gantryv1.SubmitRunRequest{Msg: &gantryv1.SubmitRunRequest_Header{Header: &gantryv1.SubmitHeader{
			PipelinePath: "ci.yml", Pipeline: []byte("job:\n  script: [echo\n  stage: test\n"),
		}}})
		_, err = stream.CloseAndRecv()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "ci.yml:") {
			t.Fatalf("err = %v, want InvalidArgument naming ci.yml:line:col", err)
		}
		if runs, _ := e.client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{}); len(runs.GetRuns()) != 0 {
			t.Fatalf("an invalid pipeline created a run: %v", runs)
		}
	})
	t.Run("unknown runner token is Unauthenticated", func(t *testing.T) {
		c := metadata.AppendToOutgoingContext(ctx, protocol.AuthorizationKey, "Bearer not-a-token")
		_, err := e.client.Runner.StartJob(c, &gantryv1.StartJobRequest{JobId: 1, Epoch: 1})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("err = %v, want Unauthenticated", err)
		}
	})
	t.Run("protocol mismatch is refused clearly", func(t *testing.T) {
		conn := e.client.Conn
		var resp gantryv1.ListRunsResponse
		c := metadata.NewOutgoingContext(ctx, metadata.Pairs(protocol.VersionKey, "999"))
		err := conn.Invoke(c, "/gantry.v1.PipelineService/ListRuns", &gantryv1.ListRunsRequest{}, &resp)
		// The client interceptor appends our version too; the server reads
		// the first value, which is the mismatching one.
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "protocol version mismatch") {
			t.Fatalf("err = %v, want FailedPrecondition protocol version mismatch", err)
		}
	})
	t.Run("job with tags no runner has stays pending and says why", func(t *testing.T) {
		src := t.TempDir()
		harness.WriteTree(t, src, map[string]string{".gantry.yml": "gpu-job:\n  image: gantry-test/busybox:latest\n  tags: [gpu]\n  script: [nvidia-smi]\n"})
		res := harness.CLI(ctx, t, e.addr, "submit", "--detach", src)
		if res.Code != 0 {
			t.Fatalf("submit: %d %s %s", res.Code, res.Stdout, res.Stderr)
		}
		runs, _ := e.client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: 1})
		got, err := e.client.Pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runs.GetRuns()[0].GetId()})
		if err != nil {
			t.Fatal(err)
		}
		j := got.GetJobs()[0]
		if j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_PENDING || !strings.Contains(j.GetPendingReason(), "no online runner has all the tags [gpu]") {
			t.Fatalf("job %s pending reason %q", j.GetStatus(), j.GetPendingReason())
		}
		runID := strconv.FormatInt(got.GetRun().GetId(), 10)
		show := harness.CLI(ctx, t, e.addr, "runs", runID)
		if !strings.Contains(show.Stdout, "no online runner has all the tags [gpu]") {
			t.Errorf("gantry runs %s does not explain the wait:\n%s%s", runID, show.Stdout, show.Stderr)
		}
		pending := harness.CLI(ctx, t, e.addr, "jobs", "pending")
		if pending.Code != 0 || !strings.Contains(pending.Stdout, "gpu-job") || !strings.Contains(pending.Stdout, "no online runner has all the tags [gpu]") {
			t.Errorf("gantry jobs pending does not list the job with its reason: exit %d\n%s%s", pending.Code, pending.Stdout, pending.Stderr)
		}
		if _, err := e.client.Pipeline.CancelRun(ctx, &gantryv1.CancelRunRequest{RunId: got.GetRun().GetId()}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing image is a system failure naming the image", func(t *testing.T) {
		src := t.TempDir()
		harness.WriteTree(t, src, map[string]string{".gantry.yml": "job:\n  image: gantry-test/no-such-image:1\n  script: [echo hi]\n"})
		res := harness.CLI(ctx, t, e.addr, "submit", src)
		if res.Code != 1 {
			t.Fatalf("submit exit %d, want 1\n%s%s", res.Code, res.Stdout, res.Stderr)
		}
		runs, _ := e.client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: 1})
		got, _ := e.client.Pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runs.GetRuns()[0].GetId()})
		j := got.GetJobs()[0]
		if j.GetFailureReason() != gantryv1.FailureReason_FAILURE_REASON_IMAGE_PULL_FAILURE || !strings.Contains(j.GetFailureMessage(), "gantry-test/no-such-image:1") {
			t.Fatalf("job reason %s message %q", j.GetFailureReason(), j.GetFailureMessage())
		}
	})
}
