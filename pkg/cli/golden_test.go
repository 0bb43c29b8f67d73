package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// update rewrites the golden files: go test ./pkg/cli/ -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden with the output the tests get")

// goldenNow is the fixed clock of the golden tests.
var goldenNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// checkGolden compares got with testdata/name.golden, or writes it there
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// gantryAt runs the CLI like gantry does, with its clock stopped at now.
func gantryAt(ctx context.Context, now time.Time, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.now = func() time.Time { return now }
	code = a.main(ctx, args)
	return out.String(), errOut.String(), code
}

// goldenCase is one command line whose stdout is checked against a file.
type goldenCase struct {
	name string
	args []string
}

func runGolden(t *testing.T, addr string, cases []goldenCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := gantryAt(t.Context(), goldenNow, append([]string{"--coordinator", addr}, c.args...)...)
			if code != 0 {
				t.Fatalf("gantry %v: exit %d, stderr %q", c.args, code, errOut)
			}
			checkGolden(t, c.name, out)
		})
	}
}

func goldenAgo(d time.Duration) time.Time { return goldenNow.Add(-d) }

func TestGoldenRunners(t *testing.T) {
	f := &fakeCoordinator{runners: []*gantryv1.Runner{
		{Id: "3f9a1c", Name: "builder-1", Connected: true, Tags: []string{"docker", "linux"}, Capacity: 4,
			JobIds: []int64{12, 13}, LastSeenAt: ts(goldenAgo(2 * time.Second)), Version: "v0.9.0"},
		{Id: "7b2e44", Name: "gpu-1", Connected: true, Draining: true, Tags: []string{"gpu"}, RunUntagged: true,
			Capacity: 1, JobIds: []int64{14}, LastSeenAt: ts(goldenAgo(10 * time.Second)), Version: "v0.9.0"},
		{Id: "c01d00", Name: "mac-mini", Tags: nil, RunUntagged: true, Capacity: 2,
			LastSeenAt: ts(goldenAgo(3 * time.Hour)), Version: "v0.8.2"},
	}}
	runGolden(t, f.serve(t), []goldenCase{
		{"runners", []string{"runners"}},
		{"runners_json", []string{"runners", "-o", "json"}},
	})
}

func goldenPending() []*gantryv1.Job {
	return []*gantryv1.Job{
		{Id: 7, RunId: 3, Name: "gpu-test", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			Tags: []string{"linux", "gpu"}, QueuedAt: ts(goldenAgo(90 * time.Second)),
			PendingReason: "no online runner has all the tags [gpu, linux]"},
		{Id: 8, RunId: 3, Name: "deploy", Stage: "deploy", Status: gantryv1.JobStatus_JOB_STATUS_CREATED,
			CreatedAt: ts(goldenAgo(5 * time.Second)), PendingReason: "waiting for the jobs of earlier stages to finish"},
		{Id: 21, RunId: 5, Name: "lint", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			QueuedAt: ts(goldenAgo(40 * time.Second)), PendingReason: "every runner that could take it is busy"},
		{Id: 22, RunId: 5, Name: "cuda-bench", Stage: "test", Status: gantryv1.JobStatus_JOB_STATUS_PENDING,
			Tags: []string{"gpu", "linux"}, QueuedAt: ts(goldenAgo(75 * time.Minute)),
			PendingReason: "no online runner has all the tags [gpu, linux]"},
	}
}

func TestGoldenPending(t *testing.T) {
	f := &fakeCoordinator{pending: goldenPending()}
	runGolden(t, f.serve(t), []goldenCase{
		{"jobs_pending", []string{"jobs", "pending"}},
		{"jobs_pending_json", []string{"jobs", "pending", "-o", "json"}},
		{"queue", []string{"queue"}},
		{"queue_json", []string{"queue", "-o", "json"}},
	})
	empty := (&fakeCoordinator{}).serve(t)
	if out, _, code := gantry(t.Context(), "--coordinator", empty, "queue"); code != 0 || out != "no job is waiting\n" {
		t.Errorf("empty queue: exit %d, %q", code, out)
	}
}
