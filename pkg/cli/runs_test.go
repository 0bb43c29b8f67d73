package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func TestRunsList(t *testing.T) {
	now := time.Now()
	f := &fakeCoordinator{runs: []*gantryv1.Run{
		{Id: 12, Status: gantryv1.RunStatus_RUN_STATUS_PENDING, ProjectName: "gantry", Ref: "main",
			Submitter: "alice@box", CreatedAt: ts(now.Add(-time.Second))},
		{Id: 11, Status: gantryv1.RunStatus_RUN_STATUS_FAILED, ProjectName: "gantry", Ref: "fix/flaky",
			Submitter: "bob@box", CreatedAt: ts(now.Add(-3*time.Minute - 10*time.Second)),
			StartedAt: ts(now.Add(-3 * time.Minute)), FinishedAt: ts(now.Add(-3*time.Minute + 83*time.Second))},
		{Id: 10, Status: gantryv1.RunStatus_RUN_STATUS_SUCCESS, ProjectName: "web", Sha: "1a2b3c4d5e6f7a8b9c0d",
			Submitter: "carol@box", CreatedAt: ts(now.Add(-2*time.Hour - time.Minute)),
			StartedAt: ts(now.Add(-2 * time.Hour)), FinishedAt: ts(now.Add(-2*time.Hour + 12*time.Second))},
	}}
	addr := f.serve(t)

	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "runs")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "" +
		"ID  STATUS   PROJECT  REF           SUBMITTER  CREATED   DURATION\n" +
		"12  pending  gantry   main          alice@box  just now  -\n" +
		"11  failed   gantry   fix/flaky     bob@box    3m ago    1m23s\n" +
		"10  passed   web      1a2b3c4d5e6f  carol@box  2h ago    12s\n"
	if out != want {
		t.Errorf("runs printed\n%s\nwant\n%s", out, want)
	}

	out, _, code = gantry(t.Context(), "--coordinator", addr, "runs", "--limit", "1")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("runs --limit 1: exit %d, printed\n%s", code, out)
	}

	out, _, code = gantry(t.Context(), "--coordinator", addr, "runs", "-o", "json")
	var got gantryv1.ListRunsResponse
	if err := protojson.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("runs -o json: exit %d, %v:\n%s", code, err, out)
	}
	if !proto.Equal(&got, &gantryv1.ListRunsResponse{Runs: f.runs}) {
		t.Errorf("runs -o json decoded to %v", &got)
	}
	if n := f.missingVersions(); n != 0 {
		t.Errorf("%d calls lacked the protocol version metadata", n)
	}
}

func TestRunsShow(t *testing.T) {
	created := time.Now().Add(-10*time.Minute - 5*time.Second).Truncate(time.Second)
	at := func(d time.Duration) time.Time { return created.Add(d) }
	f := &fakeCoordinator{run: &gantryv1.GetRunResponse{
		Run: &gantryv1.Run{
			Id: 12, Status: gantryv1.RunStatus_RUN_STATUS_RUNNING, ProjectName: "gantry", Ref: "main",
			Sha: "1a2b3c4d5e6f7a8b9c0d", Submitter: "alice@box", PipelinePath: ".gantry.yml",
			CreatedAt: ts(created), StartedAt: ts(at(time.Second)),
		},
		Jobs: []*gantryv1.Job{
			{Id: 5, Name: "deploy", Stage: "deploy", StageIndex: 3, Status: gantryv1.JobStatus_JOB_STATUS_CREATED,
				PendingReason: "waiting for stage test"},
			{Id: 1, Name: "build", Stage: "build", StageIndex: 1, Status: gantryv1.JobStatus_JOB_STATUS_SUCCESS,
				Epoch: 2, RunnerName: "r1", StartedAt: ts(at(time.Second)), FinishedAt: ts(at(4 * time.Second)),
				Attempts: []*gantryv1.Attempt{
					{Epoch: 1, RunnerName: "r9", Status: gantryv1.JobStatus_JOB_STATUS_LOST, EndedAt: ts(at(time.Second)),
						FailureReason: gantryv1.FailureReason_FAILURE_REASON_LEASE_EXPIRED, FailureMessage: "runner r9 stopped renewing its lease"},
					{Epoch: 2, RunnerName: "r1", Status: gantryv1.JobStatus_JOB_STATUS_SUCCESS},
				}},
			{Id: 2, Name: "unit", Stage: "test", StageIndex: 2, Status: gantryv1.JobStatus_JOB_STATUS_FAILED,
				Epoch: 1, RunnerName: "r1", StartedAt: ts(at(5 * time.Second)), FinishedAt: ts(at(7 * time.Second)),
				FailureReason: gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE, ExitCode: 3},
			{Id: 3, Name: "lint", Stage: "test", StageIndex: 2, Status: gantryv1.JobStatus_JOB_STATUS_FAILED,
				Epoch: 2, RunnerId: "rid-2", AllowFailure: true, StartedAt: ts(at(5 * time.Second)), FinishedAt: ts(at(6 * time.Second)),
				FailureReason: gantryv1.FailureReason_FAILURE_REASON_IMAGE_PULL_FAILURE, FailureMessage: "pull golangci/lint:v9: not found"},
			{Id: 4, Name: "gpu", Stage: "test", StageIndex: 2, Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
				PendingReason: "no connected runner has tags [gpu]"},
		},
	}}
	addr := f.serve(t)

	want := fmt.Sprintf(""+
		"Run #12  running\n"+
		"\n"+
		"Project:    gantry\n"+
		"Ref:        main (1a2b3c4d5e6f)\n"+
		"Pipeline:   .gantry.yml\n"+
		"Submitter:  alice@box\n"+
		"Created:    %s (10m ago)\n"+
		"Duration:   10m4s\n"+
		"\n"+
		"ID  NAME    STAGE   STATUS   RUNNER  DURATION  DETAILS\n"+
		"1   build   build   passed   r1      3s        attempt 1 lost on r9 at %s: runner r9 stopped renewing its lease\n"+
		"2   unit    test    failed   r1      2s        exit code 3\n"+
		"3   lint    test    failed   rid-2   1s        pull golangci/lint:v9: not found (allowed to fail)\n"+
		"4   gpu     test    pending  -       -         no connected runner has tags [gpu]\n"+
		"5   deploy  deploy  created  -       -         waiting for stage test\n",
		created.Local().Format(time.DateTime), at(time.Second).Local().Format(time.TimeOnly))
	for _, args := range [][]string{{"runs", "12"}, {"run", "#12"}} {
		out, errOut, code := gantry(t.Context(), append([]string{"--coordinator", addr}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		// The running run's duration grows while the test runs.
		out = strings.Replace(out, "Duration:   10m5s", "Duration:   10m4s", 1)
		if out != want {
			t.Errorf("%v printed\n%s\nwant\n%s", args, out, want)
		}
	}

	out, _, code := gantry(t.Context(), "--coordinator", addr, "run", "12", "--output", "json")
	var got gantryv1.GetRunResponse
	if err := protojson.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("run -o json: exit %d, %v:\n%s", code, err, out)
	}
	if !proto.Equal(&got, f.run) {
		t.Errorf("run -o json decoded to %v", &got)
	}
}

func TestRunNotFound(t *testing.T) {
	addr := (&fakeCoordinator{}).serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "runs", "99")
	if code != 2 || out != "" || errOut != "gantry: run 99 not found\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and a plain gRPC message", code, out, errOut)
	}
}

func TestRunners(t *testing.T) {
	now := time.Now()
	f := &fakeCoordinator{runners: []*gantryv1.Runner{
		{Id: "rid-1", Name: "builder-1", Tags: []string{"docker", "linux"}, Capacity: 4, Connected: true,
			JobIds: []int64{7, 8}, Version: "v0.3.0", LastSeenAt: ts(now.Add(-2 * time.Second))},
		{Id: "rid-2", Name: "gpu-box", Tags: []string{"gpu"}, Capacity: 1, RunUntagged: true,
			Version: "v0.2.9", LastSeenAt: ts(now.Add(-50 * time.Hour))},
		{Id: "rid-3", Capacity: 2, Connected: true, LastSeenAt: ts(now)},
	}}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "runners")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "" +
		"NAME       ID     STATUS     TAGS             JOBS  LAST SEEN  VERSION\n" +
		"builder-1  rid-1  connected  docker,linux     2/4   just now   v0.3.0\n" +
		"gpu-box    rid-2  offline    gpu (+untagged)  0/1   2d ago     v0.2.9\n" +
		"-          rid-3  connected  -                0/2   just now   -\n"
	if out != want {
		t.Errorf("runners printed\n%s\nwant\n%s", out, want)
	}
}

func TestCancel(t *testing.T) {
	f := &fakeCoordinator{cancelled: &gantryv1.Run{Id: 12, Status: gantryv1.RunStatus_RUN_STATUS_CANCELED}}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "cancel", "12")
	if code != 0 || out != "Run #12: canceled\n" {
		t.Errorf("cancel: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestLogs(t *testing.T) {
	f := &fakeCoordinator{
		run: &gantryv1.GetRunResponse{Run: &gantryv1.Run{Id: 12}},
		logs: map[int64][]string{
			0: {"$ make\n", "partial"}, // by name: the fake only keys on job id
			7: {"line\r\n", "\x1b[31mred\x1b[0m\n"},
		},
	}
	addr := f.serve(t)

	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "logs", "12", "build")
	if code != 0 || out != "$ make\npartial" {
		t.Errorf("logs by name: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = gantry(t.Context(), "--coordinator", addr, "logs", "12", "7", "-f")
	if code != 0 || out != "line\r\n\x1b[31mred\x1b[0m\n" {
		t.Errorf("logs by id: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := []*gantryv1.FollowLogRequest{
		{RunId: 12, JobName: "build"},
		{RunId: 12, JobId: 7, Follow: true},
	}
	got := f.logRequests()
	if len(got) != len(want) {
		t.Fatalf("FollowLog requests %v, want %v", got, want)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("FollowLog request %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestUsageErrors(t *testing.T) {
	f := &fakeCoordinator{}
	addr := f.serve(t)
	for _, args := range [][]string{
		{"runs", "x"},
		{"runs", "1", "2"},
		{"run"},
		{"logs", "12"},
		{"runs", "--output", "yaml"},
		{"--color", "sometimes", "runs"},
		{"runs", "--no-such-flag"},
		{"nosuchcommand"},
		{"submit", "--var", "NOEQUALS", t.TempDir()},
		{"--coordinator", "http://x:1", "runs"},
	} {
		_, errOut, code := gantry(t.Context(), append([]string{"--coordinator", addr}, args...)...)
		if code != 2 || !strings.HasPrefix(errOut, "gantry: ") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a gantry: message", args, code, errOut)
		}
	}
	if n := f.callCount(); n != 0 {
		t.Errorf("usage errors made %d calls to the coordinator", n)
	}
}

func TestCoordinatorUnreachable(t *testing.T) {
	addr := closedAddr(t)
	for _, args := range [][]string{{"runs"}, {"runners"}, {"submit", "--detach", validPipelineDir(t)}} {
		out, errOut, code := gantry(t.Context(), append([]string{"--coordinator", addr}, args...)...)
		wantMsg := "gantry: cannot reach the coordinator at " + addr + ": "
		// submit prints the pipeline's warning first.
		lastLine := errOut[strings.LastIndex(strings.TrimSuffix(errOut, "\n"), "\n")+1:]
		if code != 2 || !strings.HasPrefix(lastLine, wantMsg) || !strings.Contains(errOut, "connection refused") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q...connection refused", args, code, errOut, wantMsg)
		}
		if strings.Contains(errOut, "rpc error") {
			t.Errorf("%v: stderr %q shows gRPC's error framing", args, errOut)
		}
		if out != "" {
			t.Errorf("%v: stdout %q", args, out)
		}
	}
}

func TestCoordinatorList(t *testing.T) {
	f := &fakeCoordinator{runners: []*gantryv1.Runner{{Id: "rid-1", Name: "only"}}}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", closedAddr(t)+", "+addr, "runners")
	if code != 0 || !strings.Contains(out, "only") {
		t.Errorf("first address down: exit %d, stdout %q, stderr %q; want the second used", code, out, errOut)
	}
}

func TestCoordinatorFromEnv(t *testing.T) {
	f := &fakeCoordinator{runners: []*gantryv1.Runner{{Id: "rid-1", Name: "env"}}}
	t.Setenv("GANTRY_COORDINATOR", f.serve(t))
	out, errOut, code := gantry(t.Context(), "runners")
	if code != 0 || !strings.Contains(out, "env") {
		t.Errorf("GANTRY_COORDINATOR: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := gantry(t.Context(), "version")
	if code != 0 || !strings.HasPrefix(out, "gantry ") || !strings.Contains(out, "protocol 1") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestRunnersDrain(t *testing.T) {
	f := &fakeCoordinator{runners: []*gantryv1.Runner{
		{Id: "rid-1", Name: "builder-1", Capacity: 2, Connected: true, JobIds: []int64{4}},
		{Id: "rid-2", Name: "gone", Capacity: 1},
	}}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "runners", "drain", "builder-1")
	if code != 0 || out != "runner builder-1 (rid-1) is draining: it finishes its 1 running job(s), takes no new ones, then exits\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = gantry(t.Context(), "--coordinator", addr, "runners", "drain", "gone")
	if code != 2 || !strings.Contains(errOut, "runner is not connected") {
		t.Errorf("draining an offline runner: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = gantry(t.Context(), "--coordinator", addr, "runners", "drain")
	if code != 2 || !strings.Contains(errOut, "arg") {
		t.Errorf("drain without a name: exit %d, stderr %q; want a usage error", code, errOut)
	}
}

func TestJobsPending(t *testing.T) {
	now := time.Now()
	f := &fakeCoordinator{pending: []*gantryv1.Job{
		{Id: 7, RunId: 3, Name: "gpu-test", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			QueuedAt: ts(now.Add(-90 * time.Second)), PendingReason: "no online runner has all the tags [gpu, linux]"},
		{Id: 8, RunId: 3, Name: "deploy", Stage: "deploy", Status: gantryv1.JobStatus_JOB_STATUS_CREATED,
			CreatedAt: ts(now.Add(-5 * time.Second)), PendingReason: "waiting for the jobs of earlier stages to finish"},
	}}
	addr := f.serve(t)
	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "jobs", "pending")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"RUN  JOB  NAME      STAGE   STATUS",
		"3    7    gpu-test  test    pending  1m       no online runner has all the tags [gpu, linux]",
		"3    8    deploy    deploy  created  5s       waiting for the jobs of earlier stages to finish",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("jobs pending printed\n%s\nwant a line containing %q", out, want)
		}
	}
	empty := (&fakeCoordinator{}).serve(t)
	if out, _, code := gantry(t.Context(), "--coordinator", empty, "jobs", "pending"); code != 0 || out != "no job is waiting\n" {
		t.Errorf("empty queue: exit %d, %q", code, out)
	}
}
