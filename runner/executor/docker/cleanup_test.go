package docker

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/docker/api/types/volume"
	"go.uber.org/zap/zaptest"
)

func TestPruneRemovesLeftovers(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	other := newTestExecutor(t, Config{})
	ctx := t.Context()

	// What a runner killed mid-job leaves: a network, a volume, a running
	// and a stopped container, all labelled.
	leave := func(e *Executor, jobID int64) {
		n := newNames(e.cfg.RunnerID, jobID, 1)
		if _, err := testCLI.NetworkCreate(ctx, n.network(), network.CreateOptions{Labels: n.labels("")}); err != nil {
			t.Fatal(err)
		}
		if _, err := testCLI.VolumeCreate(ctx, volume.CreateOptions{Name: n.volume(), Labels: n.labels("")}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{n.build(), n.afterScript()} {
			c, err := testCLI.ContainerCreate(ctx, &container.Config{
				Image:  busyboxImage,
				Cmd:    strslice.StrSlice{"sleep", "300"},
				Labels: n.labels(roleBuild),
			}, &container.HostConfig{NetworkMode: container.NetworkMode(n.network())}, nil, nil, name)
			if err != nil {
				t.Fatal(err)
			}
			if name == n.build() {
				if err := testCLI.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	leave(e, 1)
	leave(e, 2)
	leave(other, 1)

	if err := e.Prune(ctx); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	assertNoLeftovers(t, e.cfg.RunnerID)

	// Another runner's resources are not touched.
	left, err := testCLI.ContainerList(ctx, container.ListOptions{All: true, Filters: runnerFilter(other.cfg.RunnerID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 {
		t.Errorf("other runner has %d containers after Prune, want 2", len(left))
	}
	if err := New(testCLI, other.cfg, zaptest.NewLogger(t)).Prune(ctx); err != nil {
		t.Fatal(err)
	}
}
