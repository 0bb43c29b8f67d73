package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"go.uber.org/zap"
)

// Warm spares take the job network and workspace volume off a job's
// critical path: creating and removing a bridge network costs a few hundred
// milliseconds, more than everything else Gantry adds to a trivial job.
// Each job still gets a network and a volume of its own, removed after it;
// the executor just creates the next job's pair ahead of time.

// spare is a network and volume created ahead of a job.
type spare struct {
	network, volume string
}

// labelSpare marks resources created ahead of a job.
const labelSpare = "gantry.spare"

// takeSpare returns a ready pair, if one is waiting, and starts making its
// replacement.
func (e *Executor) takeSpare() (spare, bool) {
	if e.cfg.WarmSpares <= 0 {
		return spare{}, false
	}
	defer e.refill()
	select {
	case s := <-e.spares:
		return s, true
	default:
		return spare{}, false
	}
}

// refill starts creating spares up to WarmSpares, unless that is already
// under way or the executor is closed.
func (e *Executor) refill() {
	e.warmMu.Lock()
	defer e.warmMu.Unlock()
	if e.closed || e.refilling || e.cfg.WarmSpares <= 0 {
		return
	}
	e.refilling = true
	e.warmWG.Add(1)
	go func() {
		defer e.warmWG.Done()
		for {
			e.warmMu.Lock()
			if e.closed || len(e.spares) >= e.cfg.WarmSpares {
				e.refilling = false
				e.warmMu.Unlock()
				return
			}
			e.warmMu.Unlock()
			s, err := e.createSpare(e.warmCtx)
			if err != nil {
				e.logger.Warn("creating a warm network and volume failed; jobs will create their own", zap.Error(err))
				e.warmMu.Lock()
				e.refilling = false
				e.warmMu.Unlock()
				return
			}
			select {
			case e.spares <- s:
			default: // raced past capacity: not needed
				e.removeSpare(e.warmCtx, s)
			}
		}
	}()
}

// createSpare creates one network and volume pair, labelled as this
// runner's so Prune finds them after a crash.
func (e *Executor) createSpare(ctx context.Context) (spare, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	base := sanitizeName(fmt.Sprintf("gantry-%s-spare-%s", e.cfg.RunnerID, hex.EncodeToString(b)))
	labels := map[string]string{labelManaged: "true", labelRunnerID: e.cfg.RunnerID, labelSpare: "true"}
	s := spare{network: base + "-network", volume: base + "-builds"}
	if _, err := e.cli.NetworkCreate(ctx, s.network, network.CreateOptions{Driver: "bridge", Labels: labels}); err != nil {
		return spare{}, fmt.Errorf("creating network %s: %w", s.network, err)
	}
	if _, err := e.cli.VolumeCreate(ctx, volume.CreateOptions{Name: s.volume, Driver: "local", Labels: labels}); err != nil {
		e.removeSpare(ctx, s)
		return spare{}, fmt.Errorf("creating volume %s: %w", s.volume, err)
	}
	return s, nil
}

// removeSpare removes a pair; missing parts are fine.
func (e *Executor) removeSpare(ctx context.Context, s spare) error {
	var errs []error
	if err := e.cli.NetworkRemove(ctx, s.network); err != nil && !cerrdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("removing network %s: %w", s.network, err))
	}
	if err := e.cli.VolumeRemove(ctx, s.volume, true); err != nil && !cerrdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("removing volume %s: %w", s.volume, err))
	}
	return errors.Join(errs...)
}

// Close stops making spares and removes the unused ones. Jobs still
// running are not affected; call Close after they ended.
func (e *Executor) Close(ctx context.Context) error {
	e.warmMu.Lock()
	e.closed = true
	e.warmMu.Unlock()
	e.warmCancel()
	e.warmWG.Wait()
	var errs []error
	for {
		select {
		case s := <-e.spares:
			errs = append(errs, e.removeSpare(ctx, s))
		default:
			return errors.Join(errs...)
		}
	}
}
