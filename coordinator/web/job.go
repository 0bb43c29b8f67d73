package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// maxPageLog bounds the log rendered into a job page; longer logs are
// cut there and read in full as text (raw).
const maxPageLog = 4 << 20

// attemptRow is one lease of a job.
type attemptRow struct {
	Epoch               int64
	Runner              string
	Status, StatusClass string
	Leased, LeasedStamp string
	Duration            elapsed
	Note                string
}

// jobView is the job page's live header.
type jobView struct {
	Job                       jobRow
	RunURL                    string
	RunStatus, RunStatusClass string
	Image, When, Tags         string
	ResourceGroup             string
	Queued, Started, Finished string
	ExitCode                  int32
	Ended                     bool
	Attempts                  []attemptRow
	Artifact                  string
	CoverageSource            string
	CoverageReport            string
	Failed                    []failedCase
	FailedOmitted             int32
	Warnings                  []string
}

func newJobView(run *gantryv1.Run, j *gantryv1.Job, now time.Time) jobView {
	rst := runStatusText(run.GetStatus())
	v := jobView{
		Job:    newJobRow(j, now),
		RunURL: fmt.Sprintf("/runs/%d", j.GetRunId()), RunStatus: rst, RunStatusClass: statusClass(rst),
		Image: j.GetImage(), When: j.GetWhen(), ResourceGroup: j.GetResourceGroup(),
		Queued: stamp(j.GetQueuedAt()), Started: stamp(j.GetStartedAt()), Finished: stamp(j.GetFinishedAt()),
		ExitCode: j.GetExitCode(),
		Ended:    jobEnded(j.GetStatus()),
	}
	if len(j.GetTags()) > 0 {
		v.Tags = strings.Join(j.GetTags(), ", ")
	}
	for _, a := range j.GetAttempts() {
		st := jobStatusText(a.GetStatus())
		row := attemptRow{
			Epoch: a.GetEpoch(), Runner: orDash(a.GetRunnerName()),
			Status: st, StatusClass: statusClass(st),
			Leased: ago(a.GetLeasedAt(), now), LeasedStamp: stamp(a.GetLeasedAt()),
			Duration: span(a.GetLeasedAt(), a.GetEndedAt(), now),
			Note:     a.GetFailureMessage(),
		}
		v.Attempts = append(v.Attempts, row)
	}
	v.CoverageSource, v.CoverageReport = coverageSource(j), coverageReport(j)
	v.Failed, v.FailedOmitted = failedCases(j), j.GetTests().GetFailedOmitted()
	v.Warnings = j.GetWarnings()
	if a := j.GetArtifact(); a != nil {
		v.Artifact = fmt.Sprintf("%s (%d bytes, sha256 %s)", a.GetName(), a.GetSize(), shortSHA(a.GetSha256()))
		switch {
		case a.GetDeletedAt() != nil:
			v.Artifact += ", expired " + stamp(a.GetDeletedAt())
		case a.GetExpireAt() != nil:
			v.Artifact += ", expires " + stamp(a.GetExpireAt())
		}
	}
	return v
}

// jobPageView is the whole job page.
type jobPageView struct {
	jobView
	// Live is the header's events URL while the run may change.
	Live string
	Log  []logItem
	// Open counts sections the log has not closed yet.
	Open int
	// Follow is the log's events URL while the job runs or waits.
	Follow string
	// Truncated says the log was cut at maxPageLog.
	Truncated bool
	RawURL    string
}

func findJob(jobs []*gantryv1.Job, id int64) *gantryv1.Job {
	for _, j := range jobs {
		if j.GetId() == id {
			return j
		}
	}
	return nil
}

func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request) {
	runID, ok1 := pathID(r, "run")
	jobID, ok2 := pathID(r, "job")
	if !ok1 || !ok2 {
		h.fail(w, r, http.StatusNotFound, "no such job")
		return
	}
	ctx, cancel := apiContext(r)
	defer cancel()
	resp, err := h.pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runID})
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	j := findJob(resp.GetJobs(), jobID)
	if j == nil {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("run %d has no job %d", runID, jobID))
		return
	}
	v := jobPageView{jobView: newJobView(resp.GetRun(), j, h.opts.Now()), RawURL: jobURL(runID, jobID) + "/raw"}
	data, truncated, err := h.readLog(r, jobID, maxPageLog)
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	v.Log, v.Truncated = renderLog(data, v.Ended || truncated), truncated
	v.Open = fillDurations(v.Log)
	if !runEnded(resp.GetRun().GetStatus()) {
		v.Live = jobURL(runID, jobID) + "/events"
	}
	if !v.Ended && !truncated {
		v.Follow = fmt.Sprintf("%s/log/events?from=%d", jobURL(runID, jobID), len(v.Log))
	}
	h.render(w, r, "job", fmt.Sprintf("%s · run #%d", j.GetName(), runID), v)
}

// readLog reads a job's log as it is now, up to limit bytes.
func (h *Handler) readLog(r *http.Request, jobID int64, limit int) (data []byte, truncated bool, err error) {
	ctx, cancel := apiContext(r)
	defer cancel()
	stream, err := h.pipeline.FollowLog(ctx, &gantryv1.FollowLogRequest{JobId: jobID})
	if err != nil {
		return nil, false, err
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return data, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		data = append(data, m.GetData()...)
		if len(data) > limit {
			return data[:limit], true, nil
		}
	}
}

// rawLog streams a job's whole log as text, escape codes and all.
func (h *Handler) rawLog(w http.ResponseWriter, r *http.Request) {
	jobID, ok := pathID(r, "job")
	if !ok {
		http.NotFound(w, r)
		return
	}
	stream, err := h.pipeline.FollowLog(r.Context(), &gantryv1.FollowLogRequest{JobId: jobID})
	var m *gantryv1.FollowLogResponse
	if err == nil {
		m, err = stream.Recv() // the first message says whether the job exists
	}
	if err != nil && !errors.Is(err, io.EOF) {
		h.failAPI(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for err == nil {
		if _, werr := w.Write(m.GetData()); werr != nil {
			return
		}
		m, err = stream.Recv()
	}
}

func (h *Handler) jobEvents(w http.ResponseWriter, r *http.Request) {
	runID, ok1 := pathID(r, "run")
	jobID, ok2 := pathID(r, "job")
	if !ok1 || !ok2 {
		http.NotFound(w, r)
		return
	}
	h.watch(w, r, runID, func(m *gantryv1.WatchRunResponse) (string, bool, error) {
		j := findJob(m.GetJobs(), jobID)
		if j == nil {
			return "", true, nil
		}
		// Followed until the run ends, which the header also shows.
		html, err := h.fragment("job", "job-live", newJobView(m.GetRun(), j, h.opts.Now()))
		return html, runEnded(m.GetRun().GetStatus()), err
	})
}

// findJob redirects a job id to its page. The API finds jobs by run, so
// it looks through the active runs among the newest ones: the links come
// from the runners page, whose jobs are running.
func (h *Handler) findJob(w http.ResponseWriter, r *http.Request) {
	jobID, ok := pathID(r, "job")
	if !ok {
		h.fail(w, r, http.StatusNotFound, "no such job")
		return
	}
	ctx, cancel := apiContext(r)
	defer cancel()
	runs, err := h.pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: 500})
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	for _, run := range runs.GetRuns() {
		if runEnded(run.GetStatus()) {
			continue
		}
		resp, err := h.pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: run.GetId()})
		if err != nil {
			h.failAPI(w, r, err)
			return
		}
		if findJob(resp.GetJobs(), jobID) != nil {
			http.Redirect(w, r, jobURL(run.GetId(), jobID), http.StatusSeeOther)
			return
		}
	}
	h.fail(w, r, http.StatusNotFound, fmt.Sprintf("job %d is in none of the active runs; it may have ended (see the runs list)", jobID))
}
