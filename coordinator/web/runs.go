package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// The runs list: newest first, filtered here (the API lists runs by id
// only), a page at a time.
const (
	runsPerPage  = 50
	runsScanPage = 200
	runsScanMax  = 2000
)

// runFilter is the runs list's query: all fields optional.
type runFilter struct {
	Status    string // a status word, as runStatusText says it
	Ref       string // substring of the ref
	Submitter string // substring of the submitter
	Project   string // substring of the project name
	Before    int64  // only runs older than this id
}

func parseRunFilter(q url.Values) runFilter {
	f := runFilter{
		Status:    strings.TrimSpace(q.Get("status")),
		Ref:       strings.TrimSpace(q.Get("ref")),
		Submitter: strings.TrimSpace(q.Get("submitter")),
		Project:   strings.TrimSpace(q.Get("project")),
	}
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	return f
}

// query is the filter as a URL query, without the page position.
func (f runFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "ref": f.Ref, "submitter": f.Submitter, "project": f.Project} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// Active reports whether any filter is set.
func (f runFilter) Active() bool { return len(f.query()) > 0 }

func containsFold(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func (f runFilter) match(r *gantryv1.Run) bool {
	if f.Status != "" {
		st, ok := runStatusFromText(f.Status)
		if !ok || r.GetStatus() != st {
			return false
		}
	}
	return containsFold(r.GetRef(), f.Ref) && containsFold(r.GetSubmitter(), f.Submitter) && containsFold(r.GetProjectName(), f.Project)
}

// runRow is one run of the list.
type runRow struct {
	ID                    int64
	URL                   string
	Status, StatusClass   string
	Name, Project         string
	Ref, SHA, Submitter   string
	Source                string
	Created, CreatedStamp string
	Duration              elapsed
	AllowedFailures       int32
}

func newRunRow(r *gantryv1.Run, now time.Time) runRow {
	st := runStatusText(r.GetStatus())
	return runRow{
		ID: r.GetId(), URL: "/runs/" + strconv.FormatInt(r.GetId(), 10),
		Status: st, StatusClass: statusClass(st),
		Name: r.GetName(), Project: r.GetProjectName(),
		Ref: r.GetRef(), SHA: shortSHA(r.GetSha()), Submitter: r.GetSubmitter(), Source: r.GetSource(),
		Created: ago(r.GetCreatedAt(), now), CreatedStamp: stamp(r.GetCreatedAt()),
		Duration:        span(r.GetStartedAt(), r.GetFinishedAt(), now),
		AllowedFailures: r.GetAllowedFailures(),
	}
}

// runsView is the runs list page.
type runsView struct {
	Filter   runFilter
	Statuses []string
	Rows     []runRow
	// Scanned is how many runs were read to find Rows.
	Scanned int
	// Older is the link to the next page, "" on the last.
	Older string
	// Live is the events URL of the rows.
	Live string
}

// listRuns reads runs newest first from f.Before until a page of matches
// is found, the runs end, or runsScanMax were read.
func (h *Handler) listRuns(r *http.Request, f runFilter) (runsView, error) {
	ctx, cancel := apiContext(r)
	defer cancel()
	now := h.opts.Now()
	v := runsView{Filter: f, Statuses: runStatusFilters}
	before, more := f.Before, true
	for more && len(v.Rows) < runsPerPage && v.Scanned < runsScanMax {
		limit := runsScanPage
		if !f.Active() {
			limit = runsPerPage
		}
		resp, err := h.pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: int32(limit), BeforeId: before})
		if err != nil {
			return v, err
		}
		runs := resp.GetRuns()
		more = len(runs) == limit
		for _, run := range runs {
			v.Scanned++
			before = run.GetId()
			if f.match(run) {
				v.Rows = append(v.Rows, newRunRow(run, now))
				if len(v.Rows) == runsPerPage {
					more = more || run != runs[len(runs)-1]
					break
				}
			}
		}
	}
	if more && before > 1 {
		q := f.query()
		q.Set("before", strconv.FormatInt(before, 10))
		v.Older = "/?" + q.Encode()
	}
	q := f.query()
	if f.Before > 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	v.Live = "/runs/events?" + q.Encode()
	return v, nil
}

func (h *Handler) runsPage(w http.ResponseWriter, r *http.Request) {
	v, err := h.listRuns(r, parseRunFilter(r.URL.Query()))
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	h.render(w, r, "runs", "Runs", v)
}

func (h *Handler) runsEvents(w http.ResponseWriter, r *http.Request) {
	f := parseRunFilter(r.URL.Query())
	h.poll(w, r, func() (string, error) {
		v, err := h.listRuns(r, f)
		if err != nil {
			return "", err
		}
		return h.fragment("runs", "runs-live", v)
	})
}
