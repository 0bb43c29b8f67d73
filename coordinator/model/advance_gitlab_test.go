package model

import (
	"testing"
	"time"
)

// j builds a named job for the GitLab-semantics table.
type jb struct {
	name   string
	stage  int
	status JobStatus
	when   string
	needs  []string // nil: stage order; non-nil (maybe empty): needs
	allow  bool
	codes  []int
	exit   int
	matrix string
}

func build(specs []jb) []*Job {
	out := make([]*Job, len(specs))
	for i, s := range specs {
		j := &Job{ID: int64(i + 1), Name: s.name, StageIndex: s.stage, Status: s.status, When: s.when,
			AllowFailure: s.allow, AllowFailureExitCodes: s.codes, ExitCode: s.exit, MatrixGroup: s.matrix, FailFast: s.matrix != "",
			StartIn: time.Minute}
		if s.status == JobFailed {
			j.FailureReason = ReasonScriptFailure
		}
		if s.needs != nil {
			j.UsesNeeds, j.Needs = true, s.needs
		}
		out[i] = j
	}
	return out
}

func TestAdvanceGitLabRules(t *testing.T) {
	now := time.Unix(5000, 0)
	tests := []struct {
		name string
		jobs []jb
		want []JobStatus
		run  RunStatus
	}{
		{"needs start ahead of stage order",
			[]jb{{name: "build", status: JobRunning}, {name: "lint", stage: 1, needs: []string{}}, {name: "test", stage: 1, needs: []string{"build"}}, {name: "other", stage: 1}},
			[]JobStatus{JobRunning, JobPending, JobCreated, JobCreated}, RunRunning},
		{"a need's success releases its dependant only",
			[]jb{{name: "a", status: JobSuccess}, {name: "b", status: JobRunning}, {name: "x", stage: 1, needs: []string{"a"}}, {name: "y", stage: 1}},
			[]JobStatus{JobSuccess, JobRunning, JobPending, JobCreated}, RunRunning},
		{"a failed need skips on_success, runs on_failure and always",
			[]jb{{name: "a", status: JobFailed}, {name: "s", stage: 1, needs: []string{"a"}}, {name: "f", stage: 1, needs: []string{"a"}, when: "on_failure"}, {name: "w", stage: 1, needs: []string{"a"}, when: "always"}},
			[]JobStatus{JobFailed, JobSkipped, JobPending, JobPending}, RunRunning},
		{"on_failure is skipped when nothing failed",
			[]jb{{name: "a", status: JobSuccess}, {name: "cleanup", stage: 1, when: "on_failure"}, {name: "notify", stage: 1, when: "always"}},
			[]JobStatus{JobSuccess, JobSkipped, JobPending}, RunRunning},
		{"an allowed failure counts as success",
			[]jb{{name: "a", status: JobFailed, allow: true}, {name: "b", stage: 1}, {name: "c", stage: 1, when: "on_failure"}},
			[]JobStatus{JobFailed, JobPending, JobSkipped}, RunRunning},
		{"allow_failure exit codes: another code fails the run",
			[]jb{{name: "a", status: JobFailed, allow: true, codes: []int{3}, exit: 1}, {name: "b", stage: 1}},
			[]JobStatus{JobFailed, JobSkipped}, RunFailed},
		{"allow_failure exit codes: a listed code is allowed",
			[]jb{{name: "a", status: JobFailed, allow: true, codes: []int{3}, exit: 3}, {name: "b", stage: 1, status: JobSuccess}},
			[]JobStatus{JobFailed, JobSuccess}, RunSuccess},
		{"skipped job skips what needs it",
			[]jb{{name: "a", status: JobSuccess}, {name: "f", stage: 1, when: "on_failure"}, {name: "g", stage: 2, needs: []string{"f"}}},
			[]JobStatus{JobSuccess, JobSkipped, JobSkipped}, RunSuccess},
		{"manual job waits to be played; optional one does not hold later stages",
			[]jb{{name: "a", status: JobSuccess}, {name: "deploy", stage: 1, when: "manual", allow: true}, {name: "after", stage: 2}},
			[]JobStatus{JobSuccess, JobManual, JobPending}, RunRunning},
		{"optional manual job left alone: the run succeeds",
			[]jb{{name: "a", status: JobSuccess}, {name: "deploy", stage: 1, status: JobManual, allow: true}},
			[]JobStatus{JobSuccess, JobManual}, RunSuccess},
		{"blocking manual job blocks later stages and the run",
			[]jb{{name: "a", status: JobSuccess}, {name: "deploy", stage: 1, when: "manual"}, {name: "after", stage: 2}},
			[]JobStatus{JobSuccess, JobManual, JobCreated}, RunBlocked},
		{"needs on an optional manual job wait for it",
			[]jb{{name: "deploy", when: "manual", allow: true}, {name: "smoke", stage: 1, needs: []string{"deploy"}}},
			[]JobStatus{JobManual, JobCreated}, RunPending},
		{"manual job after a failure is skipped",
			[]jb{{name: "a", status: JobFailed}, {name: "deploy", stage: 1, when: "manual"}},
			[]JobStatus{JobFailed, JobSkipped}, RunFailed},
		{"delayed job is scheduled",
			[]jb{{name: "a", status: JobSuccess}, {name: "later", stage: 1, when: "delayed"}},
			[]JobStatus{JobSuccess, JobScheduled}, RunRunning},
		{"fail-fast cancels the matrix group's waiting jobs",
			[]jb{{name: "t 1", status: JobFailed, matrix: "t"}, {name: "t 2", status: JobPending, matrix: "t"}, {name: "other", status: JobPending}},
			[]JobStatus{JobFailed, JobCanceled, JobPending}, RunRunning},
		{"canceled predecessor skips on_success",
			[]jb{{name: "a", status: JobCanceled}, {name: "b", stage: 1}},
			[]JobStatus{JobCanceled, JobSkipped}, RunCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.jobs {
				if tt.jobs[i].status == "" {
					tt.jobs[i].status = JobCreated
				}
			}
			jobs := build(tt.jobs)
			run := &Run{Status: RunPending}
			Advance(run, jobs, now)
			for i, j := range jobs {
				if j.Status != tt.want[i] {
					t.Errorf("job %s: status %s, want %s", j.Name, j.Status, tt.want[i])
				}
				if j.Status == JobScheduled && !j.ScheduledAt.Equal(now.Add(time.Minute)) {
					t.Errorf("job %s: scheduled at %v, want %v", j.Name, j.ScheduledAt, now.Add(time.Minute))
				}
			}
			if run.Status != tt.run {
				t.Errorf("run status %s, want %s", run.Status, tt.run)
			}
		})
	}
}
