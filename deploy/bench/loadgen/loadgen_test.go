package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

func TestSummarize(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want dist
	}{
		{"empty", nil, dist{}},
		{"one", ms(7), dist{N: 1, P50: 7 * time.Millisecond, P90: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"nearest rank", ms(hundred...), dist{N: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		{"small", ms(4, 1, 3, 2), dist{N: 4, P50: 2 * time.Millisecond, P90: 4 * time.Millisecond, P99: 4 * time.Millisecond, Max: 4 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.in); got != tc.want {
				t.Errorf("summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    memory
		wantErr bool
	}{
		{"all", "Name:\tgantry\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nRssAnon:\t 768 kB\nRssFile:\t 256 kB\nThreads:\t9\n",
			memory{Peak: 2 << 20, Current: 1 << 20, Anon: 768 << 10, File: 256 << 10}, false},
		{"old kernel", "VmHWM:\t2048 kB\nVmRSS:\t1024 kB\n", memory{Peak: 2 << 20, Current: 1 << 20}, false},
		{"missing rss", "VmHWM:\t2048 kB\n", memory{}, true},
		{"odd unit", "VmHWM:\t2 MB\nVmRSS:\t1 MB\n", memory{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatus = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses must not shift fields.
	in := "4242 (gantry (co) ord) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 12 0 1000 0 0\n"
	got, err := parseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want {
		t.Errorf("parseStat = %s, want %s", got, want)
	}
	if _, err := parseStat([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("parseStat of a short line: no error")
	}
}

func TestParseProcStat(t *testing.T) {
	in := "cpu  100 5 50 1000 40 3 2 0 0 0\ncpu0 50 2 25 500 20 1 1 0 0 0\n"
	got, err := parseProcStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := 1600 * time.Millisecond; got != want { // 100+5+50+3+2 ticks
		t.Errorf("parseProcStat = %s, want %s", got, want)
	}
	if _, err := parseProcStat([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parseProcStat without a cpu line: no error")
	}
}

func TestParseCPUInfo(t *testing.T) {
	in := "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	model, n := parseCPUInfo([]byte(in))
	if model != "AMD EPYC 7B13" || n != 2 {
		t.Errorf("parseCPUInfo = %q, %d", model, n)
	}
}

func TestBenchPipelineParses(t *testing.T) {
	p, err := pipeline.Parse(".gantry.yml", benchPipeline(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Jobs) != 10 || len(p.Warnings) != 0 {
		t.Fatalf("got %d jobs, warnings %v; want 10 jobs", len(p.Jobs), p.Warnings)
	}
	for _, j := range p.Jobs {
		if len(j.Tags) != 0 || j.Stage != "bench" {
			t.Errorf("job %s: tags %v, stage %s; want untagged in stage bench", j.Name, j.Tags, j.Stage)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c, err := parseConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		return *c
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // in the error; "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"addr needs token", func(c *Config) { c.Addr = "localhost:7420" }, "--registration-token"},
		{"pid without addr", func(c *Config) { c.PID = 12 }, "--pid"},
		{"bad fleet", func(c *Config) { c.Runners = []int{10, 0} }, "not a fleet size"},
		{"depth below a run", func(c *Config) { c.Depth = 5 }, "no run would fit"},
		{"latency load", func(c *Config) { c.LatencyLoad = 1.5 }, "--latency-load"},
		{"window", func(c *Config) { c.Duration = 0 }, "--duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestReserveSeesStopDespiteRoom(t *testing.T) {
	rec := newRecorder()
	stop := make(chan struct{})
	close(stop)
	if err := rec.reserve(context.Background(), stop, 10, 100); !errors.Is(err, errStopped) {
		t.Fatalf("reserve after stop = %v, want errStopped", err)
	}
}

func TestReserveWaitsForRoom(t *testing.T) {
	rec := newRecorder()
	stop := make(chan struct{})
	if err := rec.reserve(context.Background(), stop, 10, 10); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- rec.reserve(context.Background(), stop, 10, 10) }()
	select {
	case err := <-got:
		t.Fatalf("second reserve returned %v before room was made", err)
	default:
	}
	for range 10 {
		rec.jobCompleted(time.Now(), time.Now())
	}
	if err := <-got; err != nil {
		t.Fatalf("reserve after room was made: %v", err)
	}
}

// TestRunAgainstCoordinator runs the whole benchmark briefly against a
// coordinator built from this tree, and checks that it reports jobs, no
// protocol errors, and leaves nothing behind.
func TestRunAgainstCoordinator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a coordinator")
	}
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "gantry-coordinator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gantry-coordinator")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build coordinator: %v\n%s", err, out)
	}
	md := filepath.Join(dir, "report.md")
	cfg, err := parseConfig([]string{"--coordinator-bin", bin, "--runners", "2,3", "--idle", "200ms", "--warmup", "300ms", "--duration", "1s",
		"--jobs-per-run", "4", "--markdown", md, "--coordinator-log-level", "warn"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "gantry-dispatch-bench-*"))
	if err := run(t.Context(), cfg, zaptest.NewLogger(t)); err != nil {
		t.Fatalf("run: %v", err)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{"| 2 | saturation |", "| 3 | latency |", "**Protocol errors and anomalies:**"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// Errors are listed as "N × Method: Code (e.g. ...)"; anomalies such
	// as a busy machine or a CancelJob racing a completion may appear.
	if m := regexp.MustCompile(`× \w+: \w+ \(e\.g\.[^\n]*`).FindString(report); m != "" {
		t.Errorf("protocol error reported: %s", m)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "gantry-dispatch-bench-*"))
	if len(after) > len(before) {
		t.Errorf("coordinator data dirs left behind: %v (before: %v)", after, before)
	}
}
