package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything printed about one invocation.
type report struct {
	Started time.Time
	Label   string
	Cfg     *Config
	Machine machine
	// Dir is the work directory: its filesystem is the one measured.
	Dir     string
	Results []*executorResult
}

// machine describes where the benchmark ran.
type machine struct {
	CPUModel string
	CPUs     int
	MemTotal int64
	Kernel   string
	// CoordGo is the coordinator binary's Go version.
	CoordGo string
}

func describeMachine(coordinatorBin string) machine {
	m := machine{CoordGo: runtime.Version() + " (this program)"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			key, val, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(key) {
			case "processor":
				m.CPUs++
			case "model name":
				if m.CPUModel == "" {
					m.CPUModel = strings.TrimSpace(val)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemTotal = kb << 10
				}
			}
		}
	}
	if bi, err := buildinfo.ReadFile(coordinatorBin); err == nil {
		m.CoordGo = bi.GoVersion
	}
	return m
}

// filesystem returns the device and type of the mount holding dir, from
// /proc/self/mounts (the longest mount point that is a prefix of it).
func filesystem(dir string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "?"
	}
	best, desc := "", "?"
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, desc = mp, fmt.Sprintf("%s (%s on %s)", mp, f[2], f[0])
		}
	}
	return desc
}

// summary is one executor's medians.
type summary struct {
	CP, CPSync, Upload, Fetch, Download float64 // MB/s
	// Ratios are medians of each repeat's ratio to that repeat's cp and
	// cp + fsync.
	UploadRatio, FetchRatio, DownloadRatio             float64
	UploadRatioSync, FetchRatioSync, DownloadRatioSync float64
	// CPU seconds per GiB of the file: cp's, and the processes' during
	// the upload and the downloads.
	CPCPU, UpRunnerCPU, UpCoordCPU, FetchRunnerCPU, FetchCoordCPU, DownCoordCPU, CLICPU float64
	// Peaks over all repeats.
	UpCoord, UpRunner, FetchCoord, FetchRunner, DownCoord usage
	CLIPeak                                               int64
}

func (r *executorResult) summary(size int64) summary {
	var s summary
	rate := func(get func(repeat) float64) float64 {
		var xs []float64
		for _, x := range r.Repeats {
			xs = append(xs, get(x))
		}
		return median(xs)
	}
	s.CP = rate(func(x repeat) float64 { return mbps(size, x.CP) })
	s.CPSync = rate(func(x repeat) float64 { return mbps(size, x.CPSync) })
	s.Upload = rate(func(x repeat) float64 { return mbps(size, x.Upload) })
	s.Fetch = rate(func(x repeat) float64 { return mbps(size, x.Fetch) })
	s.Download = rate(func(x repeat) float64 { return mbps(x.ArchiveBytes, x.Download) })
	s.UploadRatio = rate(func(x repeat) float64 { return x.CP.Seconds() / x.Upload.Seconds() })
	s.FetchRatio = rate(func(x repeat) float64 { return x.CP.Seconds() / x.Fetch.Seconds() })
	s.DownloadRatio = rate(func(x repeat) float64 { return mbps(x.ArchiveBytes, x.Download) / mbps(size, x.CP) })
	s.UploadRatioSync = rate(func(x repeat) float64 { return x.CPSync.Seconds() / x.Upload.Seconds() })
	s.FetchRatioSync = rate(func(x repeat) float64 { return x.CPSync.Seconds() / x.Fetch.Seconds() })
	s.DownloadRatioSync = rate(func(x repeat) float64 { return mbps(x.ArchiveBytes, x.Download) / mbps(size, x.CPSync) })
	perGiB := func(d time.Duration) float64 { return d.Seconds() / (float64(size) / (1 << 30)) }
	s.CPCPU = rate(func(x repeat) float64 { return perGiB(x.CPCPU) })
	s.UpRunnerCPU = rate(func(x repeat) float64 { return perGiB(x.UpRunner.CPU) })
	s.UpCoordCPU = rate(func(x repeat) float64 { return perGiB(x.UpCoord.CPU) })
	s.FetchRunnerCPU = rate(func(x repeat) float64 { return perGiB(x.FetchRunner.CPU) })
	s.FetchCoordCPU = rate(func(x repeat) float64 { return perGiB(x.FetchCoord.CPU) })
	s.DownCoordCPU = rate(func(x repeat) float64 { return perGiB(x.DownCoord.CPU) })
	s.CLICPU = rate(func(x repeat) float64 { return perGiB(x.CLICPU) })
	for _, x := range r.Repeats {
		s.UpCoord, s.UpRunner = peak(s.UpCoord, x.UpCoord), peak(s.UpRunner, x.UpRunner)
		s.FetchCoord, s.FetchRunner = peak(s.FetchCoord, x.FetchCoord), peak(s.FetchRunner, x.FetchRunner)
		s.DownCoord, s.CLIPeak = peak(s.DownCoord, x.DownCoord), max(s.CLIPeak, x.CLIPeak)
	}
	return s
}

func peak(a, b usage) usage {
	return usage{PeakRSS: max(a.PeakRSS, b.PeakRSS), PeakAnon: max(a.PeakAnon, b.PeakAnon)}
}

// table is a report table: a title, a header and rows of cells.
type table struct {
	title  string
	header []string
	rows   [][]string
}

func (r *report) tables() []table {
	size := r.Cfg.Size
	med := table{
		title: fmt.Sprintf("Throughput, medians of %d repeats (MB/s; ratio = the repeat's cp time / Gantry's time, median)", r.Cfg.Repeats),
		header: []string{"executor", "cp", "cp + fsync", "upload", "upload / cp", "upload / cp+fsync",
			"job download + unpack", "/ cp", "/ cp+fsync", "gantry artifacts download", "/ cp", "/ cp+fsync"},
	}
	mem := table{
		title: "Peak resident memory while streaming, max over the repeats: VmRSS (anon), sampled every " + r.Cfg.SampleEvery.String() + "; VmHWM over the process's life",
		header: []string{"executor", "coordinator: upload", "job download", "CLI download", "VmHWM",
			"runner: upload", "job download", "VmHWM", "gantry CLI (rusage)"},
	}
	cpu := table{
		title: "CPU seconds per GiB, medians (load-independent cost; a share of 2 vCPUs)",
		header: []string{"executor", "cp", "upload: runner", "coordinator", "job download: runner", "coordinator",
			"CLI download: gantry", "coordinator"},
	}
	per := table{
		title: "Every repeat (MB/s)",
		header: []string{"executor", "#", "load avg", "cp", "cp + fsync", "upload", "job download", "(job start subtracted)", "CLI download",
			"runner + coordinator CPU (upload)", "coordinator RSS", "runner RSS"},
	}
	for _, res := range r.Results {
		s := res.summary(size)
		med.rows = append(med.rows, []string{res.Executor, f0(s.CP), f0(s.CPSync),
			f0(s.Upload), ratio(s.UploadRatio), ratio(s.UploadRatioSync),
			f0(s.Fetch), ratio(s.FetchRatio), ratio(s.FetchRatioSync),
			f0(s.Download), ratio(s.DownloadRatio), ratio(s.DownloadRatioSync)})
		mem.rows = append(mem.rows, []string{res.Executor, rss(s.UpCoord), rss(s.FetchCoord), rss(s.DownCoord), mib(res.CoordHWM),
			rss(s.UpRunner), rss(s.FetchRunner), mib(res.RunnerHWM), mib(s.CLIPeak)})
		cpu.rows = append(cpu.rows, []string{res.Executor, f2(s.CPCPU), f2(s.UpRunnerCPU), f2(s.UpCoordCPU),
			f2(s.FetchRunnerCPU), f2(s.FetchCoordCPU), f2(s.CLICPU), f2(s.DownCoordCPU)})
		for i, x := range res.Repeats {
			per.rows = append(per.rows, []string{res.Executor, strconv.Itoa(i + 1), x.Load, f0(mbps(size, x.CP)), f0(mbps(size, x.CPSync)),
				f0(mbps(size, x.Upload)), f0(mbps(size, x.Fetch)), x.JobStart.Round(time.Millisecond).String(), f0(mbps(x.ArchiveBytes, x.Download)),
				fmt.Sprintf("%.2f + %.2f cores", cores(x.UpRunner.CPU, x.Upload), cores(x.UpCoord.CPU, x.Upload)),
				mib(max(x.UpCoord.PeakRSS, x.FetchCoord.PeakRSS, x.DownCoord.PeakRSS)), mib(max(x.UpRunner.PeakRSS, x.FetchRunner.PeakRSS))})
		}
	}
	return []table{med, mem, cpu, per}
}

func (r *report) params() string {
	return fmt.Sprintf("%s of random bytes (%d), %d repeats; work directory %s on %s",
		mib(r.Cfg.Size), r.Cfg.Size, r.Cfg.Repeats, r.Dir, filesystem(r.Dir))
}

func (r *report) machineText() string {
	m := r.Machine
	return fmt.Sprintf("%d CPUs (%s), %.1f GiB RAM, Linux %s, coordinator built with %s",
		m.CPUs, m.CPUModel, float64(m.MemTotal)/(1<<30), m.Kernel, m.CoordGo)
}

var notes = []string{
	"upload: from the producing job's last script line (date +%s%N in its log; /proc/uptime in a container) to the artifact's created_at on the coordinator (after the blob is stored): walk, tar, gzip, gRPC, sha256, write.",
	"job download: from the dependent job's started_at to its script's first line (DownloadArtifacts, gunzip, untar into the workspace), less the same span of a job without dependencies in the same run (job start).",
	"CLI download: `gantry artifacts download RUN produce -o FILE`, process start to exit, into the same filesystem (sha256 checked).",
	"cp: `cp` of the same file, source in the page cache, copy not flushed; cp + fsync adds fsync of the copy. Dirty pages are flushed (sync) before each measurement; nothing measured here fsyncs.",
}

func (r *report) writeText(w io.Writer) error {
	fmt.Fprintf(w, "\nArtifact throughput, %s", r.Started.Format(time.DateTime))
	if r.Label != "" {
		fmt.Fprintf(w, " (%s)", r.Label)
	}
	fmt.Fprintf(w, "\n%s\n%s\n", r.machineText(), r.params())
	for _, t := range r.tables() {
		fmt.Fprintf(w, "\n%s\n", t.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintln(w, "- "+n)
	}
	return nil
}

func (r *report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Artifact throughput, %s", r.Started.Format(time.DateTime))
	if r.Label != "" {
		fmt.Fprintf(&b, " (%s)", r.Label)
	}
	fmt.Fprintf(&b, "\n\n%s. %s.\n", r.machineText(), r.params())
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n%s:\n\n| %s |\n|%s\n", t.title, strings.Join(t.header, " | "), strings.Repeat("---|", len(t.header)))
		for _, row := range t.rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	b.WriteString("\n")
	for _, n := range notes {
		b.WriteString("- " + n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func appendMarkdown(path string, rep *report) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("markdown report: %w", err)
	}
	if err := rep.writeMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("markdown report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("markdown report %s: %w", path, err)
	}
	return nil
}

// median returns the median of xs (the mean of the middle two for an
// even count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// mbps is n bytes over d in MB/s (10^6 bytes).
func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds() / 1e6
}

// cores is CPU time over a span, in cores.
func cores(cpu, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return cpu.Seconds() / span.Seconds()
}

func f0(x float64) string    { return strconv.FormatFloat(x, 'f', 0, 64) }
func f2(x float64) string    { return strconv.FormatFloat(x, 'f', 2, 64) }
func ratio(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) + "×" }
func mib(b int64) string     { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
func gib(b int64) string     { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
func rss(u usage) string     { return fmt.Sprintf("%s (%s)", mib(u.PeakRSS), mib(u.PeakAnon)) }
