package model

import (
	"testing"
	"time"
)

func jobsOf(specs ...struct {
	stage  int
	status JobStatus
	allow  bool
}) []*Job {
	var out []*Job
	for i, s := range specs {
		out = append(out, &Job{ID: int64(i + 1), StageIndex: s.stage, Status: s.status, AllowFailure: s.allow})
	}
	return out
}

type js = struct {
	stage  int
	status JobStatus
	allow  bool
}

func TestAdvance(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name       string
		cancel     bool
		jobs       []js
		wantJobs   []JobStatus
		wantStatus RunStatus
	}{
		{
			name:       "first stage becomes pending, later waits",
			jobs:       []js{{0, JobCreated, false}, {0, JobCreated, false}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobPending, JobPending, JobCreated},
			wantStatus: RunPending,
		},
		{
			name:       "empty first stage index does not block",
			jobs:       []js{{2, JobCreated, false}, {5, JobCreated, false}},
			wantJobs:   []JobStatus{JobPending, JobCreated},
			wantStatus: RunPending,
		},
		{
			name:       "stage in progress keeps next stage waiting",
			jobs:       []js{{0, JobSuccess, false}, {0, JobRunning, false}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobSuccess, JobRunning, JobCreated},
			wantStatus: RunRunning,
		},
		{
			name:       "finished stage releases the next",
			jobs:       []js{{0, JobSuccess, false}, {0, JobSuccess, false}, {1, JobCreated, false}, {2, JobCreated, false}},
			wantJobs:   []JobStatus{JobSuccess, JobSuccess, JobPending, JobCreated},
			wantStatus: RunRunning,
		},
		{
			name:       "failure skips later stages and fails the run",
			jobs:       []js{{0, JobFailed, false}, {0, JobSuccess, false}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobFailed, JobSuccess, JobSkipped},
			wantStatus: RunFailed,
		},
		{
			// As in GitLab, later stages are decided once the stage ends.
			name:       "failure leaves later stages waiting while the stage still runs",
			jobs:       []js{{0, JobFailed, false}, {0, JobRunning, false}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobFailed, JobRunning, JobCreated},
			wantStatus: RunRunning,
		},
		{
			name:       "allowed failure lets the run go on and succeed",
			jobs:       []js{{0, JobFailed, true}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobFailed, JobPending},
			wantStatus: RunRunning,
		},
		{
			name:       "all success",
			jobs:       []js{{0, JobSuccess, false}, {1, JobSuccess, false}, {1, JobFailed, true}},
			wantJobs:   []JobStatus{JobSuccess, JobSuccess, JobFailed},
			wantStatus: RunSuccess,
		},
		{
			name:       "cancel cancels unstarted jobs, keeps running ones",
			cancel:     true,
			jobs:       []js{{0, JobRunning, false}, {0, JobPending, false}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobRunning, JobCanceled, JobCanceled},
			wantStatus: RunRunning,
		},
		{
			name:       "cancel ends the run once held jobs end",
			cancel:     true,
			jobs:       []js{{0, JobCanceled, false}, {1, JobCreated, false}},
			wantJobs:   []JobStatus{JobCanceled, JobCanceled},
			wantStatus: RunCanceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &Run{Status: RunPending, CancelRequested: tt.cancel}
			jobs := jobsOf(tt.jobs...)
			Advance(run, jobs, now)
			for i, j := range jobs {
				if j.Status != tt.wantJobs[i] {
					t.Errorf("job %d: status %s, want %s", i, j.Status, tt.wantJobs[i])
				}
			}
			if run.Status != tt.wantStatus {
				t.Errorf("run status %s, want %s", run.Status, tt.wantStatus)
			}
			if run.Status.Terminal() && run.FinishedAt != now {
				t.Errorf("terminal run without finish time")
			}
		})
	}
}

func TestAdvanceLeavesEndedRunAlone(t *testing.T) {
	run := &Run{Status: RunSuccess}
	jobs := []*Job{{Status: JobCreated}}
	Advance(run, jobs, time.Now())
	if jobs[0].Status != JobCreated || run.Status != RunSuccess {
		t.Fatalf("ended run changed: %s %s", run.Status, jobs[0].Status)
	}
}

func TestCanRun(t *testing.T) {
	tests := []struct {
		runner   []string
		untagged bool
		job      []string
		want     bool
	}{
		{nil, true, nil, true},
		{nil, false, nil, false},
		{[]string{"docker", "linux"}, false, []string{"docker"}, true},
		{[]string{"docker"}, true, []string{"docker", "gpu"}, false},
		{nil, true, []string{"gpu"}, false},
	}
	for _, tt := range tests {
		if got := CanRun(tt.runner, tt.untagged, tt.job); got != tt.want {
			t.Errorf("CanRun(%v,%v,%v)=%v want %v", tt.runner, tt.untagged, tt.job, got, tt.want)
		}
	}
}
