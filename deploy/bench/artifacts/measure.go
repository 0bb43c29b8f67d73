package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// artifactFile is the name of the artifact in the jobs' workspaces.
const artifactFile = "big.bin"

// repeat is what one repeat measured.
type repeat struct {
	// Load is the 1-minute load average before the repeat.
	Load string
	// CP is `cp` of the file on the same filesystem (the source in the
	// page cache, the copy not flushed); CPSync adds fsync of the copy.
	CP, CPSync time.Duration
	// Upload runs from the producing job's last script line to the
	// coordinator recording the stored artifact: collecting, tar, gzip,
	// gRPC, sha256 and writing the blob.
	Upload time.Duration
	// Fetch runs from the dependent job's start (recorded by the
	// coordinator) to its script's first line: DownloadArtifacts, gunzip
	// and unpacking into the workspace, less JobStart.
	Fetch time.Duration
	// JobStart is the same span for a job without dependencies: what a
	// job start costs anyway (the source, a container for docker).
	JobStart time.Duration
	// Download is `gantry artifacts download RUN produce -o FILE`, process
	// start to exit (it checks the archive's sha256 too).
	Download time.Duration
	// ArchiveBytes is the size of the stored archive (tar.gz).
	ArchiveBytes int64
	// Coordinator and runner use in each window; CLI is the download's
	// process (its peak RSS from rusage, CPU over its lifetime); CPCPU is
	// cp's CPU time.
	UpCoord, UpRunner, FetchCoord, FetchRunner, DownCoord usage
	CLIPeak                                               int64
	CLICPU, CPCPU                                         time.Duration
}

// run measures every executor in turn and reports.
func run(ctx context.Context, cfg *Config) error {
	work, err := os.MkdirTemp(cfg.Dir, "gantry-artifacts-bench-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if !cfg.Keep {
		defer os.RemoveAll(work)
	}
	if err := checkDisk(work, cfg.Size, cfg.Repeats); err != nil {
		return err
	}
	rep := &report{Started: time.Now(), Label: cfg.Label, Cfg: cfg, Machine: describeMachine(filepath.Join(cfg.Bin, "gantry-coordinator")), Dir: work}
	input := filepath.Join(work, "input.bin")
	fmt.Fprintf(os.Stderr, "writing %d random bytes to %s\n", cfg.Size, input)
	if err := writeRandom(input, cfg.Size); err != nil {
		return err
	}
	var runErr error
	for _, ex := range cfg.Executors {
		res, err := measureExecutor(ctx, cfg, work, input, ex)
		if res != nil && len(res.Repeats) > 0 {
			rep.Results = append(rep.Results, res)
		}
		if err != nil {
			runErr = fmt.Errorf("%s executor: %w", ex, err)
			break
		}
	}
	if len(rep.Results) == 0 {
		return runErr
	}
	if err := rep.writeText(os.Stdout); err != nil {
		return errors.Join(runErr, err)
	}
	if cfg.Markdown != "" {
		if err := appendMarkdown(cfg.Markdown, rep); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(os.Stderr, "results appended to %s\n", cfg.Markdown)
	}
	return runErr
}

// executorResult is one executor's repeats and the processes' lifetime
// peaks.
type executorResult struct {
	Executor string
	Repeats  []repeat
	// CoordHWM and RunnerHWM are VmHWM at the end: the peak resident set
	// over the processes' lives, start-up and every repeat included.
	CoordHWM, RunnerHWM int64
}

// measureExecutor starts a fleet with the executor and runs the repeats.
func measureExecutor(ctx context.Context, cfg *Config, work, input, executor string) (res *executorResult, err error) {
	dir := filepath.Join(work, executor)
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, ".gantry.yml"), []byte(pipelineYAML(executor, input, cfg.Image, cfg.Size)), 0o644); err != nil {
		return nil, err
	}
	// The archive of incompressible data is a little larger than the file.
	f, err := startFleet(ctx, cfg, dir, executor, 2*cfg.Size+64<<20)
	if err != nil {
		return nil, err
	}
	res = &executorResult{Executor: executor}
	smp := newSampler(cfg.SampleEvery, f.coordinator.pid(), f.runner.pid())
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { // owned here: stopped and waited for below
		defer close(sampled)
		smp.run(sctx)
	}()
	defer func() {
		if st, serr := readStatus(f.coordinator.pid()); serr == nil {
			res.CoordHWM = st.HWM
		}
		if st, serr := readStatus(f.runner.pid()); serr == nil {
			res.RunnerHWM = st.HWM
		}
		stopSampling()
		<-sampled
		err = errors.Join(err, f.stop())
		if !cfg.Keep {
			// Every repeat stored a full-size archive.
			err = errors.Join(err, os.RemoveAll(dir))
		}
	}()
	for i := range cfg.Repeats {
		r, err := measureOnce(ctx, cfg, f, smp, input, src, executor)
		if err != nil {
			return res, fmt.Errorf("repeat %d: %w", i+1, err)
		}
		res.Repeats = append(res.Repeats, r)
		fmt.Fprintf(os.Stderr, "%s %d/%d: load %s, cp %.0f MB/s (+fsync %.0f), upload %.0f MB/s, job download %.0f MB/s, CLI download %.0f MB/s; peak RSS coordinator %s, runner %s\n",
			executor, i+1, cfg.Repeats, r.Load, mbps(cfg.Size, r.CP), mbps(cfg.Size, r.CPSync), mbps(cfg.Size, r.Upload),
			mbps(cfg.Size, r.Fetch), mbps(r.ArchiveBytes, r.Download),
			mib(max(r.UpCoord.PeakRSS, r.FetchCoord.PeakRSS, r.DownCoord.PeakRSS)), mib(max(r.UpRunner.PeakRSS, r.FetchRunner.PeakRSS)))
	}
	return res, nil
}

// measureOnce runs one repeat: cp, then the pipeline, then the CLI's
// download. Dirty pages are flushed before each, so none starts with the
// previous one's writeback pending.
func measureOnce(ctx context.Context, cfg *Config, f *fleet, smp *sampler, input, src, executor string) (repeat, error) {
	r := repeat{Load: loadAvg()}
	var err error
	syscall.Sync()
	if r.CP, r.CPSync, r.CPCPU, err = timeCP(ctx, input, filepath.Join(f.dir, "cp.bin")); err != nil {
		return r, err
	}

	syscall.Sync()
	runCtx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	out, _, err := f.cli(runCtx, "submit", "--detach", "--ref", "main", src)
	if err != nil {
		return r, err
	}
	runID, err := parseRunID(out)
	if err != nil {
		return r, err
	}
	final, err := f.waitRun(runCtx, runID)
	if err != nil {
		return r, err
	}
	if final.GetRun().GetStatus() != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		return r, fmt.Errorf("run %d ended %s:\n%s", runID, final.GetRun().GetStatus(), f.logsText(ctx, runID))
	}
	arts, err := f.pipeline.ListArtifacts(ctx, &gantryv1.ListArtifactsRequest{RunId: runID})
	if err != nil {
		return r, fmt.Errorf("list artifacts: %w", err)
	}
	var stored time.Time
	for _, a := range arts.GetArtifacts() {
		if a.GetJobName() == "produce" {
			stored, r.ArchiveBytes = a.GetCreatedAt().AsTime(), a.GetSize()
		}
	}
	if stored.IsZero() {
		return r, fmt.Errorf("run %d: job produce has no artifact", runID)
	}
	started := map[string]time.Time{}
	for _, j := range final.GetJobs() {
		started[j.GetName()] = j.GetStartedAt().AsTime()
	}
	offset, err := uptimeOffset()
	if err != nil {
		return r, err
	}
	scriptDone, err := f.markTime(ctx, runID, "produce", offset, true)
	if err != nil {
		return r, err
	}
	scriptBegun, err := f.markTime(ctx, runID, "consume", offset, false)
	if err != nil {
		return r, err
	}
	startupBegun, err := f.markTime(ctx, runID, "startup", offset, false)
	if err != nil {
		return r, err
	}
	consumeStarted := started["consume"]
	r.Upload, r.JobStart = stored.Sub(scriptDone), startupBegun.Sub(started["startup"])
	r.Fetch = scriptBegun.Sub(consumeStarted) - r.JobStart
	if r.Upload <= 0 || r.Fetch <= 0 || r.JobStart <= 0 {
		return r, fmt.Errorf("run %d: upload %s, download %s, job start %s: the marks in the logs are out of order", runID, r.Upload, r.Fetch, r.JobStart)
	}
	coord, runner := f.coordinator.pid(), f.runner.pid()
	r.UpCoord, r.UpRunner = smp.window(coord, scriptDone, stored), smp.window(runner, scriptDone, stored)
	r.FetchCoord, r.FetchRunner = smp.window(coord, consumeStarted, scriptBegun), smp.window(runner, consumeStarted, scriptBegun)

	syscall.Sync()
	dst := filepath.Join(f.dir, "download.tar.gz")
	start := time.Now()
	_, ps, err := f.cli(runCtx, "artifacts", "download", strconv.FormatInt(runID, 10), "produce", "-o", dst)
	end := time.Now()
	if err != nil {
		return r, err
	}
	r.Download = end.Sub(start)
	r.DownCoord = smp.window(coord, start, end)
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.CLIPeak = ru.Maxrss << 10 // kB on Linux
		r.CLICPU = ps.UserTime() + ps.SystemTime()
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != r.ArchiveBytes {
		return r, fmt.Errorf("download: %s is not the %d byte archive (%v)", dst, r.ArchiveBytes, err)
	}
	if err := os.Remove(dst); err != nil {
		return r, err
	}
	return r, nil
}

// timeCP copies src to dst with cp, then fsyncs dst, and removes it. It
// returns the times without and with the fsync, and cp's CPU time.
func timeCP(ctx context.Context, src, dst string) (cp, cpSync, cpu time.Duration, err error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "cp", src, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, 0, fmt.Errorf("cp: %w: %s", err, out)
	}
	cp = time.Since(start)
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fh, err := os.Open(dst)
	if err != nil {
		return 0, 0, 0, err
	}
	err = fh.Sync()
	cpSync = time.Since(start)
	fh.Close()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("fsync the copy: %w", err)
	}
	return cp, cpSync, cpu, os.Remove(dst)
}

// pipelineYAML is the benchmark pipeline: produce puts the file in its
// workspace and declares it as its artifact; consume needs it; startup,
// without dependencies, measures what starting a job costs anyway. Each
// script prints a time mark the benchmark reads back from the log: the
// shell executor's jobs run on this host (date with nanoseconds); the
// docker executor's busybox has no %N, so its jobs print the kernel's
// uptime, which containers share.
func pipelineYAML(executor, input, image string, size int64) string {
	var produce []string
	mark := `echo "BENCH_T=$(date +%s%N)"`
	switch executor {
	case "docker":
		// The file cannot be linked into a container: the job writes
		// random bytes of its own, as incompressible as the host's.
		produce = []string{fmt.Sprintf("head -c %d /dev/urandom > %s", size, artifactFile)}
		mark = `echo "BENCH_UP=$(cut -d' ' -f1 /proc/uptime)"`
	default:
		// A hard link: the same bytes cp copies, already in the page cache.
		produce = []string{fmt.Sprintf(`ln "%s" %s || cp "%s" %s`, input, artifactFile, input, artifactFile)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "stages: [build, use]\ndefault:\n  image: %s\n", yamlQuote(image))
	b.WriteString("produce:\n  stage: build\n  script:\n")
	for _, line := range append(produce, mark) {
		fmt.Fprintf(&b, "    - %s\n", yamlQuote(line))
	}
	fmt.Fprintf(&b, "  artifacts:\n    paths: [%s]\n", artifactFile)
	fmt.Fprintf(&b, "startup:\n  stage: build\n  script:\n    - %s\n", yamlQuote(mark))
	b.WriteString("consume:\n  stage: use\n  needs: [produce]\n  script:\n")
	for _, line := range []string{mark, fmt.Sprintf(`test "$(wc -c < %s)" -eq %d`, artifactFile, size)} {
		fmt.Fprintf(&b, "    - %s\n", yamlQuote(line))
	}
	return b.String()
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// markRE matches a time mark line (colour codes before it allowed), not
// the echoed command that prints it.
var markRE = regexp.MustCompile(`(?m)^(?:\x1b\[[0-9;]*m)*BENCH_(T|UP)=([0-9.]+)\r?$`)

// markTime reads a job's log and returns the time of its last (or first)
// mark.
func (f *fleet) markTime(ctx context.Context, runID int64, job string, uptimeOffset time.Duration, last bool) (time.Time, error) {
	log, err := f.jobLog(ctx, runID, job)
	if err != nil {
		return time.Time{}, err
	}
	return parseMark(log, uptimeOffset, last)
}

// parseMark finds the first or last time mark in a job log.
func parseMark(log string, uptimeOffset time.Duration, last bool) (time.Time, error) {
	ms := markRE.FindAllStringSubmatch(log, -1)
	if len(ms) == 0 {
		return time.Time{}, errors.New("no BENCH_ time mark in the job log")
	}
	m := ms[0]
	if last {
		m = ms[len(ms)-1]
	}
	if m[1] == "T" {
		ns, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("time mark %q: %w", m[2], err)
		}
		return time.Unix(0, ns), nil
	}
	up, err := parseUptime(m[2])
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, int64(uptimeOffset+up)), nil
}

var runIDRE = regexp.MustCompile(`gantry runs (\d+)`)

// parseRunID reads the run number `gantry submit --detach` prints.
func parseRunID(out string) (int64, error) {
	m := runIDRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no run number in the output of gantry submit --detach: %q", out)
	}
	return strconv.ParseInt(m[1], 10, 64)
}

// logsText returns the jobs' logs of a failed run, for the error.
func (f *fleet) logsText(ctx context.Context, runID int64) string {
	var b strings.Builder
	for _, job := range []string{"produce", "startup", "consume"} {
		log, err := f.jobLog(ctx, runID, job)
		if err != nil {
			log = err.Error()
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", job, log)
	}
	fmt.Fprintf(&b, "--- runner log\n%s\n", f.runner.logTail(20))
	return b.String()
}

// writeRandom writes size bytes of a ChaCha8 stream seeded at random
// (incompressible) to path and flushes them to disk.
func writeRandom(path string, size int64) error {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.CopyN(fh, rand.NewChaCha8(seed), size)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tmpfsMagic is statfs's f_type of tmpfs.
const tmpfsMagic = 0x01021994

// checkDisk refuses a memory filesystem (cp would not touch a disk) and
// one without room for the file, its copies, and every repeat's stored
// archive.
func checkDisk(dir string, size int64, repeats int) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == tmpfsMagic {
		return fmt.Errorf("%s is on tmpfs: give --dir a directory on a disk", dir)
	}
	need := size * int64(repeats+4)
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("%s has %s free; the benchmark needs about %s", dir, gib(free), gib(need))
	}
	return nil
}
