package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"go.uber.org/zap"
)

// Prune removes every container, network and volume that an executor with
// this RunnerID created and that is still around: what a crashed runner
// left behind. A runner calls it at startup, before taking jobs.
func (e *Executor) Prune(ctx context.Context) error {
	if err := e.removeResources(ctx, runnerFilter(e.cfg.RunnerID)); err != nil {
		return fmt.Errorf("pruning resources of runner %q: %w", e.cfg.RunnerID, err)
	}
	return nil
}

// cleanup removes everything the attempt created. It runs however the
// attempt ended, so it uses a context of its own.
func (a *attempt) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := a.e.removeResources(ctx, a.names.filter())
	if a.spare {
		// A spare's network and volume carry no job labels.
		err = errors.Join(err, a.e.removeSpare(ctx, spare{network: a.network, volume: a.volume}))
	}
	if err != nil {
		a.logger.Warn("removing the job's containers, network or volume failed; Prune will retry",
			zap.Error(err))
	}
}

// removeResources removes the containers (with their anonymous volumes),
// then the networks, then the volumes matching f, in that order since the
// latter are in use until the former are gone. It tries everything and
// returns every failure.
func (e *Executor) removeResources(ctx context.Context, f filters.Args) error {
	var errs []error
	containers, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing containers: %w", err))
	}
	for _, c := range containers {
		err := e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing container %s: %w", c.ID, err))
		}
	}
	networks, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing networks: %w", err))
	}
	for _, n := range networks {
		if err := e.cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		}
	}
	volumes, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing volumes: %w", err))
	}
	for _, v := range volumes.Volumes {
		if err := e.cli.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}
