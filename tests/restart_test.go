package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// Kill -9 the coordinator while a job runs and restart it on the same data
// dir: the run's state is still there, the runner re-attaches its job
// without a retry, the log is whole, and the run finishes.
func TestCoordinatorKill9MidRun(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gantry.yml": `
default:
  image: gantry-test/busybox:latest
slow:
  stage: build
  script:
    - echo before-crash
    - while [ ! -f /builds/go ]; do sleep 0.2; done; echo after-crash
after:
  stage: test
  script:
    - echo second-stage
`})
	res := harness.CLI(ctx, t, e.addr, "submit", "--detach", "--project", "project", src)
	if res.Code != 0 {
		t.Fatalf("submit: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	run := e.client.WaitRun(ctx, t, 1, func(m *gantryv1.WatchRunResponse) bool {
		return harness.Job(m, "slow").GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING
	})
	slow := harness.Job(run, "slow")
	// Wait until the first line reached the coordinator, then crash it.
	waitLog(ctx, t, e.client, slow.GetId(), "before-crash")
	e.coord.Kill()

	e.coord = harness.Coordinator(t, e.dir, e.addr, e.token)
	// The script waits for /builds/go; create it in the job container now
	// that the coordinator is back, so the job ends after the restart.
	releaseSlowJob(ctx, t, e.runnerID, slow.GetId())

	run = e.client.WaitRun(ctx, t, 1, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		t.Fatalf("run ended %s, want success: %v", st, run.GetJobs())
	}
	slow = harness.Job(run, "slow")
	if slow.GetEpoch() != 1 {
		t.Errorf("slow job ran %d attempts, want 1 (re-attached, not retried)", slow.GetEpoch())
	}
	log := e.client.Log(ctx, t, slow.GetId())
	if strings.Count(log, "before-crash\n") != 1 || !strings.Contains(log, "after-crash") {
		t.Errorf("slow job's log is not whole and single:\n%s", log)
	}
	if harness.Job(run, "after").GetStatus() != gantryv1.JobStatus_JOB_STATUS_SUCCESS {
		t.Errorf("second stage did not run after the restart")
	}
}

func waitLog(ctx context.Context, t *testing.T, c *harness.Client, jobID int64, want string) {
	t.Helper()
	stream, err := c.Pipeline.FollowLog(ctx, &gantryv1.FollowLogRequest{JobId: jobID, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("log of job %d ended without %q: %v\n%s", jobID, want, err, got.String())
		}
		got.Write(m.GetData())
		if strings.Contains(got.String(), want) {
			return
		}
	}
}

// releaseSlowJob creates /builds/go inside the job's container.
func releaseSlowJob(ctx context.Context, t *testing.T, runnerID string, jobID int64) {
	t.Helper()
	cli := harness.Docker(t)
	cs, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "gantry.runner-id="+runnerID),
		filters.Arg("label", fmt.Sprintf("gantry.job-id=%d", jobID)),
		filters.Arg("status", "running"))})
	if err != nil || len(cs) == 0 {
		t.Fatalf("find job %d container: %v (%d found)", jobID, err, len(cs))
	}
	ex, err := cli.ContainerExecCreate(ctx, cs[0].ID, container.ExecOptions{Cmd: []string{"touch", "/builds/go"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{}); err != nil {
		t.Fatal(err)
	}
}
