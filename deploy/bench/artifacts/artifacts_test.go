package main

import (
	"testing"
	"time"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

func TestParseMark(t *testing.T) {
	offset := 1000 * time.Second // wall clock = uptime + offset
	log := "$ echo \"BENCH_T=$(date +%s%N)\"\n\x1b[0;m" +
		"BENCH_T=1700000000123456789\n" +
		"$ something\nBENCH_T=1700000001000000000\r\n"
	for _, tc := range []struct {
		name string
		log  string
		last bool
		want time.Time
	}{
		{"first", log, false, time.Unix(0, 1700000000123456789)},
		{"last, CRLF", log, true, time.Unix(0, 1700000001000000000)},
		{"uptime", "BENCH_UP=12.34\n", false, time.Unix(1012, 340000000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMark(tc.log, offset, tc.last)
			if err != nil {
				t.Fatal(err)
			}
			if d := got.Sub(tc.want); d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The echoed command line is not a mark.
	if _, err := parseMark("$ echo \"BENCH_T=$(date +%s%N)\"\n", offset, false); err == nil {
		t.Error("a log without a mark parsed")
	}
}

func TestParseRunID(t *testing.T) {
	id, err := parseRunID("run 42 submitted\ncheck on it with: gantry runs 42\n")
	if err != nil || id != 42 {
		t.Errorf("got %d, %v", id, err)
	}
	if _, err := parseRunID("nothing"); err == nil {
		t.Error("no error without a run number")
	}
}

func TestParseProc(t *testing.T) {
	st, err := parseStatus([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 512 kB\nRssFile:\t 512 kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st != (status{RSS: 1 << 20, Anon: 512 << 10, HWM: 2 << 20}) {
		t.Errorf("status %+v", st)
	}
	if _, err := parseStatus([]byte("VmRSS:\t1 kB\n")); err == nil {
		t.Error("status without VmHWM parsed")
	}
	// A command name with spaces and a parenthesis; utime 150, stime 50.
	cpu, err := parseStat([]byte("12 (a b) c) S 1 12 12 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 8 0 100 1000 200"))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 2*time.Second {
		t.Errorf("cpu %v, want 2s", cpu)
	}
	up, err := parseUptime("123.45 678.90\n")
	if err != nil || up != 123450*time.Millisecond {
		t.Errorf("uptime %v, %v", up, err)
	}
}

func TestWindowUsage(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ss := []sample{
		{at: at(0), rss: 10, anon: 5, cpu: 0},
		{at: at(100), rss: 50, anon: 40, cpu: 50 * time.Millisecond},
		{at: at(200), rss: 30, anon: 20, cpu: 150 * time.Millisecond},
		{at: at(300), rss: 90, anon: 80, cpu: 200 * time.Millisecond},
	}
	u := windowUsage(ss, at(50), at(250))
	// Peaks of the samples inside; CPU from the samples around (0 and 300
	// ms: 200 ms in 300 ms) scaled to the 200 ms window.
	if u.PeakRSS != 50 || u.PeakAnon != 40 {
		t.Errorf("peaks %d, %d; want 50, 40", u.PeakRSS, u.PeakAnon)
	}
	if want := 133 * time.Millisecond; u.CPU < want || u.CPU > want+time.Millisecond {
		t.Errorf("cpu %v, want ~%v", u.CPU, want)
	}
	if u := windowUsage(ss, at(250), at(400)); u.CPU != 0 {
		t.Errorf("cpu %v without a sample after the window", u.CPU)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The benchmark's pipelines parse and plan with Gantry's own parser, with
// consume needing produce.
func TestPipelineYAML(t *testing.T) {
	for _, executor := range []string{"shell", "docker"} {
		t.Run(executor, func(t *testing.T) {
			data := pipelineYAML(executor, "/var/tmp/x y/input.bin", "busybox:latest", 1<<30)
			pl, err := pipeline.Parse(".gantry.yml", []byte(data))
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			jobs := map[string]*pipeline.Job{}
			for _, j := range pl.Jobs {
				jobs[j.Name] = j
			}
			if len(jobs) != 3 || jobs["produce"] == nil || jobs["startup"] == nil || jobs["consume"] == nil {
				t.Fatalf("jobs %v", jobs)
			}
			if a := jobs["produce"].Artifacts; a == nil || len(a.Paths) != 1 || a.Paths[0] != artifactFile {
				t.Errorf("produce's artifacts %+v", a)
			}
			if n := jobs["consume"].Needs; len(n) != 1 || n[0].Job != "produce" {
				t.Errorf("consume's needs %+v", n)
			}
		})
	}
}
