package web

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// runnerRow is one registered runner.
type runnerRow struct {
	ID, Name                string
	State, StateClass       string
	Tags                    string
	Jobs                    []int64
	Load                    string
	LastSeen, LastSeenStamp string
	Registered              string
	Version                 string
	// CanDrain: the runner is online and not draining yet.
	CanDrain  bool
	DrainPath string
}

// runnersView is the runners page's live part.
type runnersView struct {
	Rows   []runnerRow
	Online int
	// Admin says drain buttons are shown (an admin token is configured).
	Admin bool
}

// runnersPageView is the whole runners page.
type runnersPageView struct {
	runnersView
	// Flash reports the outcome of a drain.
	Flash string
}

func (h *Handler) runnersView(r *http.Request) (runnersView, error) {
	ctx, cancel := apiContext(r)
	defer cancel()
	resp, err := h.admin.ListRunners(ctx, &gantryv1.ListRunnersRequest{})
	if err != nil {
		return runnersView{}, err
	}
	now := h.opts.Now()
	v := runnersView{Admin: h.opts.AdminToken != ""}
	for _, rn := range resp.GetRunners() {
		state := "offline"
		switch {
		case rn.GetConnected() && rn.GetDraining():
			state = "draining"
		case rn.GetConnected():
			state = "online"
			v.Online++
		}
		tags := strings.Join(rn.GetTags(), ", ")
		if rn.GetRunUntagged() {
			tags = strings.TrimPrefix(tags+", (untagged jobs)", ", ")
		}
		v.Rows = append(v.Rows, runnerRow{
			ID: rn.GetId(), Name: orDash(rn.GetName()),
			State: state, StateClass: statusClass(state),
			Tags: orDash(tags), Jobs: rn.GetJobIds(),
			Load:     fmt.Sprintf("%d/%d", len(rn.GetJobIds()), rn.GetCapacity()),
			LastSeen: ago(rn.GetLastSeenAt(), now), LastSeenStamp: stamp(rn.GetLastSeenAt()),
			Registered: stamp(rn.GetRegisteredAt()),
			Version:    orDash(rn.GetVersion()),
			CanDrain:   state == "online",
			DrainPath:  "/runners/" + url.PathEscape(rn.GetId()) + "/drain",
		})
	}
	// Online first, then by name.
	rank := map[string]int{"online": 0, "draining": 1, "offline": 2}
	slices.SortStableFunc(v.Rows, func(a, b runnerRow) int {
		return cmp.Or(cmp.Compare(rank[a.State], rank[b.State]), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return v, nil
}

func (h *Handler) runnersPage(w http.ResponseWriter, r *http.Request) {
	v, err := h.runnersView(r)
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	pv := runnersPageView{runnersView: v}
	if name := r.URL.Query().Get("drained"); name != "" {
		pv.Flash = fmt.Sprintf("Runner %s is draining: it finishes the jobs it holds, takes no new ones, then exits.", name)
	}
	h.render(w, r, "runners", "Runners", pv)
}

func (h *Handler) runnersEvents(w http.ResponseWriter, r *http.Request) {
	h.poll(w, r, func() (string, error) {
		v, err := h.runnersView(r)
		if err != nil {
			return "", err
		}
		return h.fragment("runners", "runners-live", v)
	})
}

// drain drains a runner for an admin. The form carries the admin token
// itself: a page of another site cannot know it, so the form cannot be
// forged (and cross-origin POSTs are refused before this runs); no
// session or cookie is kept.
func (h *Handler) drain(w http.ResponseWriter, r *http.Request) {
	if h.opts.AdminToken == "" {
		h.fail(w, r, http.StatusNotFound, "draining from the dashboard is off: the coordinator has no --admin-token")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if !h.isAdmin(r.PostFormValue("admin_token")) {
		h.log.Warn("dashboard drain refused: wrong admin token", zap.String("remote", r.RemoteAddr))
		h.fail(w, r, http.StatusForbidden, "wrong admin token")
		return
	}
	ctx, cancel := apiContext(r)
	defer cancel()
	resp, err := h.admin.DrainRunner(ctx, &gantryv1.DrainRunnerRequest{Runner: r.PathValue("runner")})
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	rn := resp.GetRunner()
	h.log.Info("runner drained from the dashboard", zap.String("runner_id", rn.GetId()), zap.String("remote", r.RemoteAddr))
	http.Redirect(w, r, "/runners?drained="+url.QueryEscape(cmp.Or(rn.GetName(), rn.GetId())), http.StatusSeeOther)
}

// isAdmin compares token with the admin token in constant time (over
// hashes, so the lengths leak nothing either).
func (h *Handler) isAdmin(token string) bool {
	want := sha256.Sum256([]byte(h.opts.AdminToken))
	got := sha256.Sum256([]byte(token))
	return token != "" && subtle.ConstantTimeCompare(want[:], got[:]) == 1
}
