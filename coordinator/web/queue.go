package web

import (
	"cmp"
	"context"
	"maps"
	"math"
	"net/http"
	"slices"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Wait-time statistics: the time from a job being queued (queued_at) to
// its first lease after that (the attempt's leased_at), over the jobs
// leased within statsWindow among the newest statsRuns runs. They cost a
// GetRun per run, so they are computed at most every statsTTL.
const (
	statsWindow = 24 * time.Hour
	statsRuns   = 100
	statsTTL    = 30 * time.Second
)

// pendingRow is a waiting job.
type pendingRow struct {
	RunID, JobID        int64
	URL, RunURL         string
	Name, Stage         string
	Status, StatusClass string
	Waiting             elapsed
	Reason              string
}

// queueGroup is the waiting jobs of one tag set.
type queueGroup struct {
	Tags string
	Jobs []pendingRow
}

// queueView is the queue page's live part.
type queueView struct {
	Groups []queueGroup
	Total  int
	Stats  *waitStatsView
	// StatsErr says why the statistics are missing.
	StatsErr string
}

// waitStatsView is the wait-time percentiles per tag set.
type waitStatsView struct {
	Window   string
	Runs     int
	Rows     []waitStatsRow
	Computed time.Time
}

// waitStatsRow is one tag set's percentiles (the first row: all jobs).
type waitStatsRow struct {
	Tags               string
	Jobs               int
	P50, P90, P99, Max string
}

func (h *Handler) queueView(r *http.Request) (queueView, error) {
	ctx, cancel := apiContext(r)
	defer cancel()
	resp, err := h.admin.ListPendingJobs(ctx, &gantryv1.ListPendingJobsRequest{})
	if err != nil {
		return queueView{}, err
	}
	now := h.opts.Now()
	groups := map[string]*queueGroup{}
	var v queueView
	for _, j := range resp.GetJobs() {
		key := tagSet(j.GetTags())
		g := groups[key]
		if g == nil {
			g = &queueGroup{Tags: key}
			groups[key] = g
		}
		since := j.GetQueuedAt()
		if since == nil {
			since = j.GetCreatedAt()
		}
		st := jobStatusText(j.GetStatus())
		g.Jobs = append(g.Jobs, pendingRow{
			RunID: j.GetRunId(), JobID: j.GetId(), URL: jobURL(j.GetRunId(), j.GetId()), RunURL: "/runs/" + itoa(j.GetRunId()),
			Name: j.GetName(), Stage: j.GetStage(), Status: st, StatusClass: statusClass(st),
			Waiting: span(since, nil, now), Reason: j.GetPendingReason(),
		})
		v.Total++
	}
	for _, g := range groups {
		v.Groups = append(v.Groups, *g)
	}
	slices.SortFunc(v.Groups, func(a, b queueGroup) int { return cmp.Compare(a.Tags, b.Tags) })
	v.Stats, err = h.waitStats(ctx)
	if err != nil {
		v.StatsErr = err.Error()
	}
	return v, nil
}

// waitStats returns the cached statistics, recomputing them when stale.
func (h *Handler) waitStats(ctx context.Context) (*waitStatsView, error) {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	now := h.opts.Now()
	if h.stats != nil && now.Sub(h.stats.Computed) < statsTTL {
		return h.stats, nil
	}
	runs, err := h.pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: statsRuns})
	if err != nil {
		return nil, err
	}
	var jobs []*gantryv1.Job
	n := 0
	for _, run := range runs.GetRuns() {
		if now.Sub(run.GetCreatedAt().AsTime()) > statsWindow {
			break // newest first: the rest are older
		}
		resp, err := h.pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: run.GetId()})
		if err != nil {
			return nil, err
		}
		n++
		jobs = append(jobs, resp.GetJobs()...)
	}
	s := computeWaitStats(jobs, now, statsWindow)
	s.Runs = n
	h.stats = &s
	return h.stats, nil
}

// jobWait is how long a job waited for its first lease after it was
// queued; ok is false when it was not leased since.
func jobWait(j *gantryv1.Job) (wait time.Duration, leased time.Time, ok bool) {
	q := j.GetQueuedAt()
	if q == nil {
		return 0, time.Time{}, false
	}
	for _, a := range j.GetAttempts() {
		if l := a.GetLeasedAt(); l != nil && !l.AsTime().Before(q.AsTime()) {
			return l.AsTime().Sub(q.AsTime()), l.AsTime(), true
		}
	}
	return 0, time.Time{}, false
}

// computeWaitStats gives the wait-time percentiles of the jobs leased
// within window before now, for all of them and per tag set.
func computeWaitStats(jobs []*gantryv1.Job, now time.Time, window time.Duration) waitStatsView {
	all := []time.Duration{}
	byTags := map[string][]time.Duration{}
	for _, j := range jobs {
		w, leased, ok := jobWait(j)
		if !ok || now.Sub(leased) > window {
			continue
		}
		all = append(all, w)
		byTags[tagSet(j.GetTags())] = append(byTags[tagSet(j.GetTags())], w)
	}
	v := waitStatsView{Window: formatWindow(window), Computed: now}
	if len(all) == 0 {
		return v
	}
	v.Rows = append(v.Rows, statsRow("all tag sets", all))
	if len(byTags) > 1 {
		for _, tags := range slices.Sorted(maps.Keys(byTags)) {
			v.Rows = append(v.Rows, statsRow(tags, byTags[tags]))
		}
	}
	return v
}

func statsRow(tags string, waits []time.Duration) waitStatsRow {
	slices.Sort(waits)
	f := func(p float64) string { return formatWait(percentile(waits, p)) }
	return waitStatsRow{Tags: tags, Jobs: len(waits), P50: f(50), P90: f(90), P99: f(99), Max: formatWait(waits[len(waits)-1])}
}

// percentile is the nearest-rank percentile p (0-100] of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// formatWait shows short waits with a decimal: queueing is often
// sub-second.
func formatWait(d time.Duration) string {
	switch {
	case d < 100*time.Millisecond:
		return "<0.1s"
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return formatDuration(d)
}

func formatWindow(d time.Duration) string {
	if d%time.Hour == 0 {
		return itoa(int64(d/time.Hour)) + " h"
	}
	return d.String()
}

func (h *Handler) queuePage(w http.ResponseWriter, r *http.Request) {
	v, err := h.queueView(r)
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	h.render(w, r, "queue", "Queue", v)
}

func (h *Handler) queueEvents(w http.ResponseWriter, r *http.Request) {
	h.poll(w, r, func() (string, error) {
		v, err := h.queueView(r)
		if err != nil {
			return "", err
		}
		return h.fragment("queue", "queue-live", v)
	})
}
