package tests

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/etcdserver"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// A coordinator on an external etcd (a separate etcd server, not the
// embedded one), a runner with the shell executor, and a runner restart
// that reuses the saved identity instead of registering again.
func TestExternalEtcdShellExecutorAndRunnerRestart(t *testing.T) {
	dir := t.TempDir()
	etcd, err := etcdserver.Start(context.Background(), etcdserver.Config{DataDir: filepath.Join(dir, "etcd")}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)
	addr, token := harness.FreeAddr(t), "external-token"
	harness.Coordinator(t, dir, addr, token, "--etcd-endpoints", etcd.Endpoint())
	shellArgs := []string{"--executor", "shell", "--builds-dir", filepath.Join(dir, "builds")}
	r := harness.Runner(t, dir, "shell-runner", addr, token, shellArgs...)
	firstID := harness.RunnerID(t, dir, "shell-runner", r)
	client := harness.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{
		".gitlab-ci.yml": "job:\n  script:\n    - echo via-shell $CI_JOB_NAME\n    - cat data.txt\n",
		"data.txt":       "shipped with the source\n",
	})
	if res := harness.CLI(ctx, t, addr, "submit", src); res.Code != 0 {
		t.Fatalf("submit: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	run := client.WaitRun(ctx, t, 1, harness.RunEnded)
	log := client.Log(ctx, t, run.GetJobs()[0].GetId())
	for _, want := range []string{"via-shell job", "shipped with the source", "Job succeeded"} {
		if !strings.Contains(log, want) {
			t.Errorf("shell job log lacks %q:\n%s", want, log)
		}
	}

	// Restart the runner: it must come back as the same runner.
	r.Stop(30 * time.Second)
	r2 := harness.Runner(t, dir, "shell-runner", addr, token, shellArgs...)
	harness.WaitFileContaining(t, filepath.Join(dir, "shell-runner.log"), "connected to coordinator", 30*time.Second, r2)
	runners, err := client.Admin.ListRunners(ctx, &gantryv1.ListRunnersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runners.GetRunners()) != 1 || runners.GetRunners()[0].GetId() != firstID {
		t.Fatalf("after restart: runners %v, want only %s", runners.GetRunners(), firstID)
	}
	if res := harness.CLI(ctx, t, addr, "submit", src); res.Code != 0 {
		t.Fatalf("submit after runner restart: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// A secret is masked before it leaves the runner: printed plainly,
	// glued to other text, in pieces on one line, and base64-encoded.
	const secret = "hunter2-is-not-a-password"
	secretSrc := t.TempDir()
	harness.WriteTree(t, secretSrc, map[string]string{".gitlab-ci.yml": `leak:
  script:
    - echo "token=$API_TOKEN."
    - printf '%s' "${API_TOKEN%%-*}"; sleep 0.3; printf '%s\n' "-${API_TOKEN#*-}"
    - printf '%s' "$API_TOKEN" | head -c 10 && printf '%s\n' "$API_TOKEN" | tail -c +11
    - echo "$API_TOKEN" | base64
    - echo plain-$PLAIN
`})
	res := harness.CLI(ctx, t, addr, "submit", "--secret", "API_TOKEN="+secret, "--var", "PLAIN=visible", secretSrc)
	if res.Code != 0 {
		t.Fatalf("submit with a secret: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	runs, err := client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runs.GetRuns()[0].GetId()})
	if err != nil {
		t.Fatal(err)
	}
	leakLog := client.Log(ctx, t, got.GetJobs()[0].GetId())
	for _, leaked := range []string{secret, "aHVudGVyMi1pcy1ub3QtYS1wYXNzd29yZA"} {
		if strings.Contains(leakLog, leaked) {
			t.Errorf("the log shows the secret (%q):\n%s", leaked, leakLog)
		}
	}
	if n := strings.Count(leakLog, "[MASKED]"); n < 4 || !strings.Contains(leakLog, "token=[MASKED].") || !strings.Contains(leakLog, "plain-visible") {
		t.Errorf("want the secret masked 4+ times (%d) and other text intact:\n%s", n, leakLog)
	}
	if !strings.Contains(res.Stdout, "[MASKED]") || strings.Contains(res.Stdout, secret) {
		t.Errorf("gantry submit's followed log must show the masked text only:\n%s", res.Stdout)
	}
}

// `gantry cancel` reaches the runner, which stops the job container
// (SIGTERM), runs after_script, reports canceled, and cleans up.
func TestCancelRunningJob(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gantry.yml": `
default:
  image: gantry-test/busybox:latest
long:
  script:
    - echo started
    - sleep 300
  after_script:
    - echo after-script-ran with $CI_JOB_STATUS
later:
  stage: deploy
  script: [echo never]
`})
	if res := harness.CLI(ctx, t, e.addr, "submit", "--detach", src); res.Code != 0 {
		t.Fatalf("submit: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	run := e.client.WaitRun(ctx, t, 1, func(m *gantryv1.WatchRunResponse) bool {
		return harness.Job(m, "long").GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING
	})
	long := harness.Job(run, "long")
	waitLog(ctx, t, e.client, long.GetId(), "started")
	res := harness.CLI(ctx, t, e.addr, "cancel", strconv.FormatInt(run.GetRun().GetId(), 10))
	if res.Code != 0 {
		t.Fatalf("gantry cancel: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	run = e.client.WaitRun(ctx, t, 1, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_CANCELED {
		t.Fatalf("run %s, want canceled", st)
	}
	if j := harness.Job(run, "long"); j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_CANCELED {
		t.Errorf("long job %s, want canceled", j.GetStatus())
	}
	if j := harness.Job(run, "later"); j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_CANCELED {
		t.Errorf("later job %s, want canceled", j.GetStatus())
	}
	log := e.client.Log(ctx, t, long.GetId())
	if !strings.Contains(log, "after-script-ran with canceled") {
		t.Errorf("after_script did not run on cancel:\n%s", log)
	}
}
