package docker

import (
	"context"
	"fmt"
	"path"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/gantry-ci/gantry/runner/executor"
)

// uploadArtifacts uploads the job's artifacts, if it wants them after
// ending with res, and returns its final result. It runs once after_script
// has ended, so its output can be kept, and before cleanup, while the job
// container, which holds the workspace volume, still exists.
func (a *attempt) uploadArtifacts(ctx context.Context, res executor.Result) executor.Result {
	return executor.UploadJobArtifacts(ctx, a.job, res, a.workspace(), a.log, a.collectArtifacts)
}

// collectArtifacts reads the workspace out of the job container, stopped
// by now: CopyFromContainer mounts its volumes. Only the top-level entries
// the paths can select are copied, rather than a workspace that may hold
// gigabytes the job does not keep; the whole workspace when a path starts
// with a glob.
//
// The daemon resolves a copied path's parents, not its last element, so
// copying a top-level entry never goes through a link in the workspace:
// a link copied is a link archived, or skipped when it leads out.
func (a *attempt) collectArtifacts(ctx context.Context, c *executor.ArtifactCollector) error {
	c.UseTracked(func(name string) bool { return a.tracked[name] })
	tops, all := c.TopLevel()
	if all {
		return a.copyArtifacts(ctx, c, a.workspace(), path.Base(a.workspace()))
	}
	for _, top := range tops {
		if err := a.copyArtifacts(ctx, c, path.Join(a.workspace(), top), ""); err != nil {
			return err
		}
	}
	return nil
}

// copyArtifacts passes c the tree src of the job container, whose entries
// are named after its last element: strip removes it for the workspace.
func (a *attempt) copyArtifacts(ctx context.Context, c *executor.ArtifactCollector, src, strip string) error {
	rc, _, err := a.cli.CopyFromContainer(ctx, a.names.build(), src)
	if cerrdefs.IsNotFound(err) {
		return nil // nothing there: the paths naming it match nothing
	}
	if err != nil {
		return fmt.Errorf("copying %s out of the job container: %w", src, err)
	}
	defer rc.Close()
	return executor.FilterArtifacts(ctx, rc, strip, c)
}
