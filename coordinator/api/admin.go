package api

import (
	"context"

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
		pr := &gantryv1.Runner{
			Id: r.ID, Name: r.Name, Tags: r.Tags, Capacity: int32(r.Capacity), Version: r.Version,
			RunUntagged: r.RunUntagged, RegisteredAt: ts(r.RegisteredAt), LastSeenAt: ts(r.LastSeenAt),
		}
		if c, ok := connected[r.ID]; ok {
			pr.Connected, pr.JobIds, pr.LastSeenAt = true, c.Jobs, ts(c.LastSeen)
		}
		resp.Runners = append(resp.Runners, pr)
	}
	return resp, nil
}
