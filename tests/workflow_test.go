package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// A GitHub Actions workflow submitted with -f runs as GitHub would run it:
// needs, step outputs, working-directory, env, matrix with max-parallel,
// continue-on-error with a failure() step, and an always() job.
const githubWorkflow = `
name: ci
on:
  push:
    branches: [main]
env:
  GREETING: hello
jobs:
  build:
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    steps:
      - uses: actions/checkout@v4
      - name: hello
        run: echo "$GREETING from ${{ github.ref_name }}"
      - id: out
        run: echo "answer=42" >> "$GITHUB_OUTPUT"
      - run: echo "answer is ${{ steps.out.outputs.answer }}"
      - working-directory: sub
        run: cat file.txt
  test:
    needs: build
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    steps:
      - run: echo "n=${{ matrix.n }}" && sleep 1
  flaky:
    needs: build
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    continue-on-error: true
    steps:
      - run: exit 1
      - run: echo never
      - if: failure()
        run: echo "cleanup after failure"
  report:
    needs: [test, flaky]
    if: always()
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    steps:
      - run: echo report
`

const failFastWorkflow = `
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    strategy:
      matrix:
        n: [1, 2, 3]
    steps:
      - run: if [ "${{ matrix.n }}" = 1 ]; then sleep 2; exit 1; fi; sleep 120
`

func TestGitHubWorkflowEndToEnd(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{
		".github/workflows/ci.yml":        githubWorkflow,
		".github/workflows/fail-fast.yml": failFastWorkflow,
		"sub/file.txt":                    "the file in sub\n",
	})

	res := harness.CLI(ctx, t, e.addr, "submit", "--ref", "feature", "-f", ".github/workflows/ci.yml", src)
	if res.Code != 2 || !strings.Contains(res.Stderr, `on.push.branches [main] does not match branch "feature"`) {
		t.Errorf("submit for a branch on: excludes: exit %d, want 2 and the reason\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	runID := submitDetached(ctx, t, e.addr, src, "--ref", "main", "-f", ".github/workflows/ci.yml")
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		t.Fatalf("run %s, want success (flaky may fail); jobs: %v", st, run.GetJobs())
	}
	want := map[string]gantryv1.JobStatus{
		"build": gantryv1.JobStatus_JOB_STATUS_SUCCESS, "flaky": gantryv1.JobStatus_JOB_STATUS_FAILED,
		"test (1)": gantryv1.JobStatus_JOB_STATUS_SUCCESS, "test (2)": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
		"test (3)": gantryv1.JobStatus_JOB_STATUS_SUCCESS, "report": gantryv1.JobStatus_JOB_STATUS_SUCCESS,
	}
	for name, st := range want {
		if j := harness.Job(run, name); j.GetStatus() != st {
			t.Errorf("job %s: %s, want %s (%s)", name, j.GetStatus(), st, j.GetFailureMessage())
		}
	}
	// max-parallel 1: the matrix jobs ran one after another.
	var prevEnd time.Time
	for _, name := range []string{"test (1)", "test (2)", "test (3)"} {
		j := harness.Job(run, name)
		if j.GetStartedAt().AsTime().Before(prevEnd) {
			t.Errorf("%s started at %v, before the previous matrix job ended at %v (max-parallel 1)", name, j.GetStartedAt().AsTime(), prevEnd)
		}
		prevEnd = j.GetFinishedAt().AsTime()
	}
	logs := map[string][]string{
		"build":    {"hello from main", "answer is 42", "the file in sub"},
		"flaky":    {"cleanup after failure"},
		"test (2)": {"n=2"},
	}
	for name, wants := range logs {
		log := e.client.Log(ctx, t, harness.Job(run, name).GetId())
		for _, w := range wants {
			if !strings.Contains(log, w) {
				t.Errorf("log of %s lacks %q:\n%s", name, w, log)
			}
		}
		if name == "flaky" && strings.Contains(log, "\nnever") {
			t.Errorf("flaky ran the step after its failure:\n%s", log)
		}
	}

	// fail-fast (GitHub's default): one failed combination cancels the rest.
	ff := submitDetached(ctx, t, e.addr, src, "--ref", "main", "-f", ".github/workflows/fail-fast.yml")
	done := e.client.WaitRun(ctx, t, ff, harness.RunEnded)
	if st := done.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_FAILED {
		t.Errorf("fail-fast run: %s, want failed", st)
	}
	// The other combinations sleep 120 s: canceled (not success) means
	// fail-fast stopped them.
	for _, name := range []string{"m (2)", "m (3)"} {
		if j := harness.Job(done, name); j.GetStatus() != gantryv1.JobStatus_JOB_STATUS_CANCELED {
			t.Errorf("%s: %s, want canceled by fail-fast (%s)", name, j.GetStatus(), j.GetFailureMessage())
		}
	}
}
