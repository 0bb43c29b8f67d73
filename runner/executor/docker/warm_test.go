package docker

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/gantry-ci/gantry/runner/executor"
)

// waitSpare blocks until a warm spare is ready (and leaves it in place).
func waitSpare(e *Executor) spare {
	s := <-e.spares
	e.spares <- s
	return s
}

// A job takes a warm network and volume, services work on it, the outcome
// is reported before cleanup, the pair is removed after the job, a new one
// is made, and Close removes it.
func TestWarmSpares(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{WarmSpares: 1})
	ctx := t.Context()
	e.Warm()
	first := waitSpare(e)

	job := newJob("wget -qO- http://web:8080/")
	job.Services = []executor.Service{{Name: webImage, Alias: "web"}}
	var networksAtFinish []string
	var containersAtFinish int
	job.Finished = func(res executor.Result) {
		cs, err := testCLI.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(
			filters.Arg("label", labelRunnerID+"="+e.cfg.RunnerID),
			filters.Arg("label", labelJobID+"="+strconv.FormatInt(job.ID, 10)))})
		if err != nil {
			t.Errorf("list containers: %v", err)
		}
		containersAtFinish = len(cs)
		for _, c := range cs {
			for n := range c.NetworkSettings.Networks {
				networksAtFinish = append(networksAtFinish, n)
			}
		}
	}
	log := newLogBuffer("")
	res, err := e.Run(ctx, job, log)
	if err != nil {
		t.Fatal(err)
	}
	assertOutcome(t, res, executor.OutcomeSuccess)
	if !strings.Contains(log.String(), "hello from gantry service") {
		t.Errorf("service not reachable on the warm network:\n%s", log.String())
	}
	if containersAtFinish == 0 {
		t.Errorf("Finished was called after cleanup; want it before")
	}
	for _, n := range networksAtFinish {
		if n != first.network {
			t.Errorf("job container on network %s, want the warm spare %s", n, first.network)
		}
	}
	second := waitSpare(e)
	if second == first {
		t.Fatalf("spare %v reused across jobs", first)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// newTestExecutor's cleanup checks that nothing is left.
}
