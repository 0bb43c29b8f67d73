package api

import (
	"context"
	"fmt"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// AdminHandler serves AdminService.
type AdminHandler struct {
	gantryv1.UnimplementedAdminServiceServer

	store *store.Store
	sched *scheduler.Scheduler
}

var _ gantryv1.AdminServiceServer = (*AdminHandler)(nil)

// NewAdminHandler returns the AdminService handler.
func NewAdminHandler(st *store.Store, sched *scheduler.Scheduler) *AdminHandler {
	return &AdminHandler{store: st, sched: sched}
}

// ListRunners lists registered runners with their connection state.
func (h *AdminHandler) ListRunners(ctx context.Context, _ *gantryv1.ListRunnersRequest) (*gantryv1.ListRunnersResponse, error) {
	runners, err := h.store.ListRunners(ctx)
	if err != nil {
		return nil, err
	}
	connected := h.sched.ConnectedRunners()
	resp := &gantryv1.ListRunnersResponse{}
	for _, r := range runners {
		resp.Runners = append(resp.Runners, runnerToProto(r, connected))
	}
	return resp, nil
}

// DrainRunner tells a connected runner, named by id or name, to finish its
// jobs, take no new ones, and exit.
func (h *AdminHandler) DrainRunner(ctx context.Context, req *gantryv1.DrainRunnerRequest) (*gantryv1.DrainRunnerResponse, error) {
	want := req.GetRunner()
	if want == "" {
		return nil, fmt.Errorf("%w: name the runner to drain (its id or name, as `gantry runners` lists them)", ErrInvalidArgument)
	}
	runners, err := h.store.ListRunners(ctx)
	if err != nil {
		return nil, err
	}
	var match []*model.Runner
	for _, r := range runners {
		if r.ID == want {
			match = []*model.Runner{r}
			break
		}
		if r.Name == want {
			match = append(match, r)
		}
	}
	connected := h.sched.ConnectedRunners()
	switch {
	case len(match) == 0:
		return nil, fmt.Errorf("runner %q: %w (see `gantry runners`)", want, store.ErrNotFound)
	case len(match) > 1:
		// Several registrations share the name: drain the connected one.
		var online []*model.Runner
		for _, r := range match {
			if _, ok := connected[r.ID]; ok {
				online = append(online, r)
			}
		}
		if len(online) != 1 {
			return nil, fmt.Errorf("%w: %d runners are named %q (%d online); name it by id", ErrInvalidArgument, len(match), want, len(online))
		}
		match = online
	}
	r := match[0]
	if err := h.sched.Drain(r.ID, "drain requested by an operator"); err != nil {
		return nil, fmt.Errorf("drain %s (%s): %w; a runner drains only while it is online", r.Name, r.ID, err)
	}
	return &gantryv1.DrainRunnerResponse{Runner: runnerToProto(r, h.sched.ConnectedRunners())}, nil
}

// ListPendingJobs lists the waiting jobs of active runs with the reason
// each waits.
func (h *AdminHandler) ListPendingJobs(ctx context.Context, _ *gantryv1.ListPendingJobsRequest) (*gantryv1.ListPendingJobsResponse, error) {
	pending, err := h.sched.PendingJobs(ctx)
	if err != nil {
		return nil, err
	}
	resp := &gantryv1.ListPendingJobsResponse{Jobs: make([]*gantryv1.Job, 0, len(pending))}
	for _, p := range pending {
		pj := jobToProto(p.Job)
		pj.PendingReason = p.Reason
		resp.Jobs = append(resp.Jobs, pj)
	}
	return resp, nil
}

// runnerToProto converts a registered runner, with its connection state
// when it is among connected.
func runnerToProto(r *model.Runner, connected map[string]scheduler.RunnerState) *gantryv1.Runner {
	pr := &gantryv1.Runner{
		Id: r.ID, Name: r.Name, Tags: r.Tags, Capacity: int32(r.Capacity), Version: r.Version,
		RunUntagged: r.RunUntagged, RegisteredAt: ts(r.RegisteredAt), LastSeenAt: ts(r.LastSeenAt),
	}
	if c, ok := connected[r.ID]; ok {
		pr.Connected, pr.JobIds, pr.LastSeenAt, pr.Draining = true, c.Jobs, ts(c.LastSeen), c.Draining
	}
	return pr
}
