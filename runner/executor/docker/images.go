package docker

import (
	"context"
	"errors"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/gantry-ci/gantry/runner/executor"
)

// ensureImages makes the job and service images available locally
// according to the pull policy. When one is not, it returns the Result to
// report and false.
func (a *attempt) ensureImages(ctx context.Context) (executor.Result, bool) {
	seen := map[string]bool{}
	refs := []string{a.job.Image.Name}
	for _, s := range a.job.Services {
		refs = append(refs, s.Name)
	}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if err := a.ensureImage(ctx, ref); err != nil {
			if ctx.Err() != nil {
				return executor.CanceledBeforeScript(), false
			}
			var pf *pullFailure
			if errors.As(err, &pf) {
				a.logf("ERROR: Job failed: %s", pf.msg)
				return executor.Result{
					Outcome:  executor.OutcomeImagePullFailure,
					ExitCode: -1,
					Message:  pf.msg,
				}, false
			}
			return a.systemFailure(ctx, fmt.Sprintf("inspecting image %q", ref), err), false
		}
	}
	return executor.Result{}, true
}

// pullFailure is an image that is not available: the user's problem (a
// typo, a missing tag, registry access), reported as an image pull failure.
type pullFailure struct{ msg string }

func (p *pullFailure) Error() string { return p.msg }

// ensureImage returns a *pullFailure when ref is not available, any other
// error when Docker could not tell.
func (a *attempt) ensureImage(ctx context.Context, ref string) error {
	policy := a.e.cfg.PullPolicy
	if policy != PullAlways {
		_, err := a.cli.ImageInspect(ctx, ref)
		switch {
		case err == nil:
			a.logf("Using locally available image %s ...", ref)
			return nil
		case !cerrdefs.IsNotFound(err):
			return err
		case policy == PullNever:
			return &pullFailure{msg: fmt.Sprintf("image %q is not available locally and the pull policy is %q", ref, PullNever)}
		}
	}

	a.logf("Pulling docker image %s ...", ref)
	if err := a.pull(ctx, ref); err != nil {
		if ctx.Err() != nil {
			return err
		}
		if policy == PullAlways {
			return &pullFailure{msg: fmt.Sprintf("image %q could not be pulled (pull policy %q): %v", ref, PullAlways, err)}
		}
		return &pullFailure{msg: fmt.Sprintf("image %q is not available locally and could not be pulled: %v", ref, err)}
	}
	if _, err := a.cli.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return &pullFailure{msg: fmt.Sprintf("image %q is still not available after pulling it", ref)}
		}
		return err
	}
	return nil
}

// pull pulls ref; the pull's errors arrive in its progress stream, which
// must be read to the end.
func (a *attempt) pull(ctx context.Context, ref string) error {
	rc, err := a.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	return jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil)
}
