package tests

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// A GitLab pipeline using most of the language, submitted unchanged: the
// include, extends, needs, rules, retry, allow_failure, timeout, matrix,
// manual and when semantics all happen on real runners.
const gitlabSemantics = `
include:
  - local: ci/base.yml
stages: [build, test, deploy, cleanup]
build:
  extends: .base
  stage: build
  script:
    - sleep 3
    - echo built
lint:
  extends: .base
  stage: test
  needs: []
  script: [echo linting]
flaky:
  extends: .base
  stage: test
  needs: [build]
  retry:
    max: 1
    when: script_failure
    exit_codes: [42]
  allow_failure: true
  script: [exit 42]
slow:
  extends: .base
  stage: test
  timeout: 3s
  allow_failure: true
  script: [sleep 60]
allowed-code:
  extends: .base
  stage: test
  allow_failure:
    exit_codes: [3]
  script: [exit 3]
matrix:
  extends: .base
  stage: test
  parallel:
    matrix:
      - TARGET: [amd64, arm64]
  script: [echo "target=$TARGET node=$CI_NODE_INDEX/$CI_NODE_TOTAL"]
tags-only:
  extends: .base
  stage: test
  rules:
    - if: $CI_COMMIT_TAG
  script: [echo never on a branch]
deploy-prod:
  extends: .base
  stage: deploy
  when: manual
  allow_failure: false
  script: [echo deployed]
notify:
  extends: .base
  stage: cleanup
  when: always
  script: [echo notified]
on-fail:
  extends: .base
  stage: cleanup
  when: on_failure
  script: [echo should not run]
`

const baseInclude = `
.base:
  image: gantry-test/busybox:latest
`

func submitDetached(ctx context.Context, t *testing.T, addr, dir string, args ...string) int64 {
	t.Helper()
	res := harness.CLI(ctx, t, addr, append(append([]string{"submit", "--detach"}, args...), dir)...)
	if res.Code != 0 {
		t.Fatalf("gantry submit: exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	m := regexp.MustCompile(`Run #(\d+) submitted`).FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("no run number in %q", res.Stdout)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

func TestGitLabSemanticsEndToEnd(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": gitlabSemantics, "ci/base.yml": baseInclude})

	runID := submitDetached(ctx, t, e.addr, src, "--ref", "main")
	blocked := e.client.WaitRun(ctx, t, runID, func(m *gantryv1.WatchRunResponse) bool {
		return m.GetRun().GetStatus() == gantryv1.RunStatus_RUN_STATUS_BLOCKED || harness.RunEnded(m)
	})
	if st := blocked.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_BLOCKED {
		t.Fatalf("run status %s, want blocked on the manual deploy job; jobs: %v", st, blocked.GetJobs())
	}
	if harness.Job(blocked, "tags-only") != nil {
		t.Errorf("job tags-only is in the run though its rules exclude branches")
	}
	deploy := harness.Job(blocked, "deploy-prod")
	if deploy.GetStatus() != gantryv1.JobStatus_JOB_STATUS_MANUAL || !strings.Contains(deploy.GetPendingReason(), "gantry play") {
		t.Errorf("deploy-prod: %s %q, want manual with a hint to play it", deploy.GetStatus(), deploy.GetPendingReason())
	}
	if n := harness.Job(blocked, "notify"); n.GetStatus() != gantryv1.JobStatus_JOB_STATUS_CREATED {
		t.Errorf("notify is %s before the manual job was played, want created", n.GetStatus())
	}

	// Playing the manual job lets the run go on.
	res := harness.CLI(ctx, t, e.addr, "play", strconv.FormatInt(runID, 10), "deploy-prod")
	if res.Code != 0 || !strings.Contains(res.Stdout, "deploy-prod") {
		t.Fatalf("gantry play: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		t.Fatalf("run status %s, want success (every failure is allowed)", st)
	}
	if n := run.GetRun().GetAllowedFailures(); n != 3 {
		t.Errorf("allowed failures %d, want 3 (flaky, slow, allowed-code)", n)
	}
	want := map[string]gantryv1.JobStatus{
		"build": gantryv1.JobStatus_JOB_STATUS_SUCCESS, "lint": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
		"flaky": gantryv1.JobStatus_JOB_STATUS_FAILED, "slow": gantryv1.JobStatus_JOB_STATUS_FAILED,
		"allowed-code":    gantryv1.JobStatus_JOB_STATUS_FAILED,
		"matrix: [amd64]": gantryv1.JobStatus_JOB_STATUS_SUCCESS, "matrix: [arm64]": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
		"deploy-prod": gantryv1.JobStatus_JOB_STATUS_SUCCESS, "notify": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
		"on-fail": gantryv1.JobStatus_JOB_STATUS_SKIPPED,
	}
	for name, st := range want {
		j := harness.Job(run, name)
		if j == nil {
			t.Errorf("no job %q in the run", name)
			continue
		}
		if j.GetStatus() != st {
			t.Errorf("job %s: %s, want %s (%s)", name, j.GetStatus(), st, j.GetFailureMessage())
		}
	}
	// needs: [] starts ahead of stage order: lint ran while build did.
	build, lint := harness.Job(run, "build"), harness.Job(run, "lint")
	if !lint.GetStartedAt().AsTime().Before(build.GetFinishedAt().AsTime()) {
		t.Errorf("lint (needs: []) started at %v, after build ended at %v", lint.GetStartedAt().AsTime(), build.GetFinishedAt().AsTime())
	}
	// flaky needs build only: it started after build ended.
	if flaky := harness.Job(run, "flaky"); flaky.GetStartedAt().AsTime().Before(build.GetFinishedAt().AsTime()) {
		t.Errorf("flaky started before the job it needs ended")
	}
	// retry: exit code 42 is retried once, then the job fails.
	if a := harness.Job(run, "flaky").GetAttempts(); len(a) != 2 {
		t.Errorf("flaky: %d attempts, want 2 (retry max 1 on exit code 42)", len(a))
	}
	if slow := harness.Job(run, "slow"); slow.GetFailureReason() != gantryv1.FailureReason_FAILURE_REASON_JOB_TIMEOUT {
		t.Errorf("slow: reason %s (%s), want the job timeout", slow.GetFailureReason(), slow.GetFailureMessage())
	}
	for _, c := range []struct{ job, line string }{
		{"matrix: [amd64]", "target=amd64 node=1/2"},
		{"matrix: [arm64]", "target=arm64 node=2/2"},
		{"deploy-prod", "deployed"},
	} {
		if log := e.client.Log(ctx, t, harness.Job(run, c.job).GetId()); !strings.Contains(log, c.line) {
			t.Errorf("log of %s lacks %q:\n%s", c.job, c.line, log)
		}
	}
}

// One job of a resource group runs at a time across runs; a delayed job
// waits for its time; a newer run of a ref cancels the older one whose
// started jobs are all interruptible.
func TestResourceGroupDelayedAndInterruptible(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	group := t.TempDir()
	harness.WriteTree(t, group, map[string]string{".gitlab-ci.yml": `
deploy:
  image: gantry-test/busybox:latest
  resource_group: production
  script: [sleep 3]
later:
  image: gantry-test/busybox:latest
  when: delayed
  start_in: 2 seconds
  script: [echo later]
`})
	first := submitDetached(ctx, t, e.addr, group, "--ref", "branch-a")
	second := submitDetached(ctx, t, e.addr, group, "--ref", "branch-b")
	waiting := e.client.WaitRun(ctx, t, second, func(m *gantryv1.WatchRunResponse) bool {
		j := harness.Job(m, "deploy")
		return strings.Contains(j.GetPendingReason(), "resource group") || harness.Terminal(j.GetStatus())
	})
	if r := harness.Job(waiting, "deploy").GetPendingReason(); !strings.Contains(r, `resource group "production"`) {
		t.Errorf("second deploy's pending reason %q does not name the held resource group", r)
	}
	a := e.client.WaitRun(ctx, t, first, harness.RunEnded)
	b := e.client.WaitRun(ctx, t, second, harness.RunEnded)
	da, db := harness.Job(a, "deploy"), harness.Job(b, "deploy")
	if da.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || db.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS {
		t.Fatalf("deploys ended %s and %s, want success", da.GetStatus(), db.GetStatus())
	}
	if db.GetStartedAt().AsTime().Before(da.GetFinishedAt().AsTime()) {
		t.Errorf("the second run's deploy started at %v, before the first's ended at %v", db.GetStartedAt().AsTime(), da.GetFinishedAt().AsTime())
	}
	later := harness.Job(a, "later")
	if later.GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS || later.GetScheduledAt() == nil ||
		later.GetStartedAt().AsTime().Before(later.GetScheduledAt().AsTime()) {
		t.Errorf("delayed job: %s, scheduled at %v, started at %v", later.GetStatus(), later.GetScheduledAt().AsTime(), later.GetStartedAt().AsTime())
	}

	inter := t.TempDir()
	harness.WriteTree(t, inter, map[string]string{".gitlab-ci.yml": `
long:
  image: gantry-test/busybox:latest
  interruptible: true
  script: [sleep 120]
`})
	old := submitDetached(ctx, t, e.addr, inter, "--ref", "feature")
	e.client.WaitRun(ctx, t, old, func(m *gantryv1.WatchRunResponse) bool {
		return harness.Job(m, "long").GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING
	})
	newer := submitDetached(ctx, t, e.addr, inter, "--ref", "feature")
	ended := e.client.WaitRun(ctx, t, old, harness.RunEnded)
	if st := ended.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_CANCELED {
		t.Errorf("older run of the ref: %s, want canceled by run %d", st, newer)
	}
	if _, err := e.client.Pipeline.CancelRun(ctx, &gantryv1.CancelRunRequest{RunId: newer}); err != nil {
		t.Fatal(err)
	}
	e.client.WaitRun(ctx, t, newer, harness.RunEnded)
}
