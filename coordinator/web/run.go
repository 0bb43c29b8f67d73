package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// jobRow is one job as the run and job pages show it.
type jobRow struct {
	ID, RunID           int64
	URL                 string
	Name, Stage         string
	Status, StatusClass string
	Duration            elapsed
	Runner              string
	Coverage            string
	Tests               *testTotals
	// Note says why the job failed, or why it waits.
	Note         string
	AllowFailure bool
	Needs        []string
}

func newJobRow(j *gantryv1.Job, now time.Time) jobRow {
	st := jobStatusText(j.GetStatus())
	row := jobRow{
		ID: j.GetId(), RunID: j.GetRunId(), URL: jobURL(j.GetRunId(), j.GetId()),
		Name: j.GetName(), Stage: j.GetStage(),
		Status: st, StatusClass: statusClass(st),
		Duration:     span(j.GetStartedAt(), j.GetFinishedAt(), now),
		Runner:       cmp.Or(j.GetRunnerName(), j.GetRunnerId()),
		AllowFailure: j.GetAllowFailure(),
		Needs:        j.GetNeeds(),
	}
	if j.Coverage != nil {
		row.Coverage = percent(j.GetCoverage())
	}
	row.Tests = newTestTotals(j.GetTests())
	switch j.GetStatus() {
	case gantryv1.JobStatus_JOB_STATUS_FAILED, gantryv1.JobStatus_JOB_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_LOST:
		row.Note = failureText(j)
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS, gantryv1.JobStatus_JOB_STATUS_RUNNING, gantryv1.JobStatus_JOB_STATUS_LEASED:
	default:
		row.Note = j.GetPendingReason()
	}
	return row
}

func jobURL(runID, jobID int64) string {
	return fmt.Sprintf("/runs/%d/jobs/%d", runID, jobID)
}

// runHeader is a run's summary line.
type runHeader struct {
	runRow
	PipelinePath string
	Stages       []string
	Ended        bool
}

// runView is the run page's live part: header, graph, jobs, summaries.
type runView struct {
	Run   runHeader
	Graph graphView
	Jobs  []jobRow
	// Coverage is the run's coverage (the mean of its jobs'), "" when no
	// job has one; CoverageJobs counts those that do.
	Coverage     string
	CoverageJobs int
	// Tests adds up the jobs' JUnit reports; nil when none has one.
	Tests *testTotals
	// Reports lists the jobs with tests or coverage; Failed their first
	// failing cases.
	Reports []reportRow
	Failed  []failedCase
}

func newRunView(run *gantryv1.Run, jobs []*gantryv1.Job, now time.Time) runView {
	jobs = slices.Clone(jobs)
	slices.SortStableFunc(jobs, func(a, b *gantryv1.Job) int {
		return cmp.Or(cmp.Compare(a.GetStageIndex(), b.GetStageIndex()), cmp.Compare(a.GetId(), b.GetId()))
	})
	v := runView{
		Run:   runHeader{runRow: newRunRow(run, now), PipelinePath: run.GetPipelinePath(), Stages: run.GetStages(), Ended: runEnded(run.GetStatus())},
		Graph: layoutGraph(run, jobs, now),
	}
	var sum float64
	for _, j := range jobs {
		row := newJobRow(j, now)
		v.Jobs = append(v.Jobs, row)
		if j.Coverage != nil {
			sum += j.GetCoverage()
			v.CoverageJobs++
		}
		if row.Tests != nil || row.Coverage != "" {
			v.Reports = append(v.Reports, reportRow{Name: row.Name, URL: row.URL, Tests: row.Tests, Coverage: row.Coverage, Source: coverageSource(j)})
		}
		v.Failed = append(v.Failed, failedCases(j)...)
	}
	switch {
	case run.Coverage != nil:
		v.Coverage = percent(run.GetCoverage())
	case v.CoverageJobs > 0:
		// GitLab's pipeline coverage: the mean of its jobs' coverage.
		v.Coverage = percent(sum / float64(v.CoverageJobs))
	}
	v.Tests = newTestTotals(run.GetTests())
	return v
}

// runPageView is the whole run page.
type runPageView struct {
	runView
	// Live is the events URL while the run may still change.
	Live string
}

func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

func (h *Handler) runPage(w http.ResponseWriter, r *http.Request) {
	runID, ok := pathID(r, "run")
	if !ok {
		h.fail(w, r, http.StatusNotFound, "no such run")
		return
	}
	ctx, cancel := apiContext(r)
	defer cancel()
	resp, err := h.pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runID})
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	v := runPageView{runView: newRunView(resp.GetRun(), resp.GetJobs(), h.opts.Now())}
	if !v.Run.Ended {
		v.Live = fmt.Sprintf("/runs/%d/events", runID)
	}
	h.render(w, r, "run", fmt.Sprintf("Run #%d", runID), v)
}

func (h *Handler) runEvents(w http.ResponseWriter, r *http.Request) {
	runID, ok := pathID(r, "run")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.watch(w, r, runID, func(m *gantryv1.WatchRunResponse) (string, bool, error) {
		html, err := h.fragment("run", "run-live", newRunView(m.GetRun(), m.GetJobs(), h.opts.Now()))
		return html, runEnded(m.GetRun().GetStatus()), err
	})
}
