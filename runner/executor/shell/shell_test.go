package shell

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/executor/executortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var jobIDs atomic.Int64

// newTestExecutor returns an executor with a builds directory of its own,
// and checks when t ends that every job directory in it was removed.
func newTestExecutor(t *testing.T, cfg Config) *Executor {
	t.Helper()
	if cfg.BuildsDir == "" {
		cfg.BuildsDir = t.TempDir()
	}
	t.Cleanup(func() {
		entries, err := os.ReadDir(cfg.BuildsDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("job directory %s left behind", e.Name())
		}
	})
	return New(cfg, zaptest.NewLogger(t))
}

func newJob(script ...string) *executor.Job {
	return &executor.Job{
		ID:     jobIDs.Add(1),
		Epoch:  2,
		Name:   "test",
		Image:  executor.Image{Name: "ignored/by-the-shell-executor:1"},
		Script: script,
	}
}

func runJob(ctx context.Context, t *testing.T, e *Executor, job *executor.Job, log *logBuffer) executor.Result {
	t.Helper()
	res, err := e.Run(ctx, job, log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("outcome %v, exit code %d, message %q; log:\n%s", res.Outcome, res.ExitCode, res.Message, log.String())
	jobDir := filepath.Join(e.cfg.BuildsDir, fmt.Sprintf("%d-%d", job.ID, job.Epoch))
	if _, err := os.Lstat(jobDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("job directory %s still exists after Run (%v)", jobDir, err)
	}
	return res
}

func TestRunEchoesCommandsInOrder(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo first", "echo second >&2", "echo third")
	job.BeforeScript = []string{"echo before"}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"$ echo before\n", "before\n",
		"$ echo first\n", "first\n",
		"$ echo second >&2\n", "second\n",
		"$ echo third\n", "third\n")
}

func TestRunStopsAtFirstFailingCommand(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, newJob("echo one", "exit 3", "echo never-printed"), log)
	assertOutcome(t, res, executor.OutcomeScriptFailure)
	if res.ExitCode != 3 {
		t.Errorf("exit code = %d, want 3", res.ExitCode)
	}
	if strings.Contains(log.String(), "never-printed") {
		t.Error("the script went on after a failing command")
	}
}

func TestRunVariablesAndWorkingDirectory(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob(
		`echo "greeting=$GREETING"`,
		`echo "$TRICKY"`,
		`echo "same=$SAME"`,
		`test -n "$PATH" && echo host-env-visible`,
		`echo "pwd=$(pwd)"`,
		`echo "project=$CI_PROJECT_DIR"`,
		"for i in 1 2; do\n  echo \"line-$i\"\ndone",
		`echo "cache=$CACHE"`,
	)
	job.ProjectName = "group/app"
	job.Variables = []executor.Variable{
		{Key: "GREETING", Value: "hello world"},
		{Key: "TRICKY", Value: `a'b"c$d`, Raw: true}, // raw: no $ expansion
		{Key: "SAME", Value: "first"},
		{Key: "SAME", Value: "second"},
		{Key: "not-a-shell-name", Value: "x"},
		{Key: "CACHE", Value: "${CI_PROJECT_DIR}/.cache"}, // expanded as GitLab Runner does
	}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	dir := filepath.Join(e.cfg.BuildsDir, fmt.Sprintf("%d-%d", job.ID, job.Epoch), "group", "app")
	assertInOrder(t, log.String(),
		"greeting=hello world\n", `a'b"c$d`+"\n", "same=second\n", "host-env-visible\n",
		"pwd="+dir+"\n", "project="+dir+"\n", "line-1\n", "line-2\n", "cache="+dir+"/.cache\n")
}

func TestRunUnpacksSource(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("cat hello.txt", "cat sub/world.txt")
	job.AfterScript = []string{"cat hello.txt"}
	archive := tarGz(t, []tarEntry{
		{name: "hello.txt", body: "hello from the source\n"},
		{name: "sub/", dir: true},
		{name: "sub/world.txt", body: "nested file\n"},
	})
	job.Source = func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(archive)), nil
	}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(), "hello from the source\n", "nested file\n",
		"Running after_script", "hello from the source\n")
}

func TestRunRefusesUnsafeSource(t *testing.T) {
	t.Parallel()
	cases := map[string][]tarEntry{
		"dot-dot path":       {{name: "../escaped.txt", body: "x"}},
		"absolute path":      {{name: "/tmp/gantry-escaped.txt", body: "x"}},
		"link leaving dir":   {{name: "link", link: "../../.."}, {name: "link/escaped.txt", body: "x"}},
		"absolute link":      {{name: "link", link: "/etc"}},
		"link then write it": {{name: "ok/", dir: true}, {name: "ok/link", link: "../../x"}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{})
			job := newJob("echo never-ran")
			archive := tarGz(t, entries)
			job.Source = func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(archive)), nil
			}
			log := newLogBuffer("")
			res := runJob(t.Context(), t, e, job, log)
			assertOutcome(t, res, executor.OutcomeSystemFailure)
			if strings.Contains(log.String(), "never-ran") {
				t.Error("the script ran on an unsafe source")
			}
			if _, err := os.Lstat(filepath.Join(e.cfg.BuildsDir, "escaped.txt")); err == nil {
				t.Error("an entry escaped the job directory")
			}
		})
	}
}

func TestRunRejectsServices(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo never-ran")
	job.Name = "integration"
	job.Services = []executor.Service{{Name: "postgres:15"}, {Name: "redis:7"}}
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	if want := "services need the docker executor; job integration defines 2 services"; res.Message != want {
		t.Errorf("message = %q, want %q", res.Message, want)
	}
}

func TestRunRejectsInvalidJob(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	for name, job := range map[string]*executor.Job{
		"no script":    newJob(),
		"escaping dir": {ID: 1, Script: []string{"true"}, ProjectName: "../../etc"},
	} {
		res, err := e.Run(t.Context(), job, io.Discard)
		if !errors.Is(err, executor.ErrInvalidJob) {
			t.Errorf("%s: Run error = %v, want ErrInvalidJob", name, err)
		}
		assertOutcome(t, res, executor.OutcomeSystemFailure)
	}
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo started", "sleep 300")
	job.Timeout = 500 * time.Millisecond
	job.AfterScript = []string{`echo "after-script-ran status=$CI_JOB_STATUS"`}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeTimeout)
	assertInOrder(t, log.String(), "started\n",
		"ERROR: Job failed: execution took longer than 500ms seconds\n",
		"after-script-ran status=failed\n")
}

func TestRunCancelStopsScriptAndRunsAfterScript(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo started", "sleep 300")
	// A long grace: SIGTERM to the process group must end the script.
	job.CancelGrace = 2 * time.Minute
	job.AfterScript = []string{`echo "after-script-ran status=$CI_JOB_STATUS"`}
	log := newLogBuffer("started\n")
	ctx := cancelOnSeen(t, log)
	start := time.Now()
	res := runJob(ctx, t, e, job, log)
	assertOutcome(t, res, executor.OutcomeCanceled)
	if d := time.Since(start); d > time.Minute {
		t.Errorf("canceled job took %v", d)
	}
	assertInOrder(t, log.String(), "started\n", "WARNING: Job canceled, stopping script\n",
		"Running after_script", "after-script-ran status=canceled\n")
}

func TestRunCancelKillsScriptIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{DefaultCancelGrace: 200 * time.Millisecond})
	job := newJob(`trap "" TERM`, "echo started", "sleep 300")
	log := newLogBuffer("started\n")
	res := runJob(cancelOnSeen(t, log), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeCanceled)
	if res.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code = %d, want %d (SIGKILL)", res.ExitCode, 128+int(syscall.SIGKILL))
	}
}

func TestRunKillsBackgroundProcesses(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob(`sleep 300 & echo "bg=$!"`)
	log := newLogBuffer("")
	start := time.Now()
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	if d := time.Since(start); d >= drainTimeout {
		t.Errorf("Run took %v: it waited for the background process", d)
	}
	m := regexp.MustCompile(`bg=(\d+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatal("no background pid in the log")
	}
	pid, _ := strconv.Atoi(m[1])
	if !exitsSoon(t, pid) {
		t.Errorf("background process %d still running after the job", pid)
	}
}

func TestRunAfterScriptRunsAfterFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("exit 7")
	job.AfterScript = []string{`echo "after-script-ran status=$CI_JOB_STATUS"`, "exit 1"}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeScriptFailure)
	if res.ExitCode != 7 {
		t.Errorf("exit code = %d, want 7", res.ExitCode)
	}
	assertInOrder(t, log.String(), "after-script-ran status=failed\n",
		"WARNING: after_script failed, but job will continue unaffected: exit code 1\n")
}

func TestRunAfterScriptTimeoutDoesNotFailJob(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo ok")
	job.AfterScript = []string{"sleep 300"}
	job.AfterScriptTimeout = 200 * time.Millisecond
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"WARNING: after_script failed, but job will continue unaffected: execution took longer than 200ms seconds\n")
}

func TestRunRemovesReadOnlyTrees(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("mkdir -p ro/sub && touch ro/sub/f && chmod a-w ro/sub ro")
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSuccess)
}

func TestRunMissingShellIsSystemFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{Shell: "/nonexistent/gantry-shell"})
	res := runJob(t.Context(), t, e, newJob("true"), newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSystemFailure)
}

// exitsSoon reports whether process pid exits (or has exited) within a
// few seconds, waiting for the event on a pidfd. The executor's SIGKILL is
// asynchronous: the process may still be on its way out.
func exitsSoon(t *testing.T, pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	defer unix.Close(fd)
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10_000)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return n == 1
}

// cancelOnSeen returns a context cancelled once log shows what it waits for.
func cancelOnSeen(t *testing.T, log *logBuffer) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go func() {
		select {
		case <-log.Seen():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// The shared test helpers, under the names these tests use.
type logBuffer = executortest.LogBuffer

var (
	newLogBuffer  = executortest.NewLogBuffer
	stripANSI     = executortest.StripANSI
	assertInOrder = executortest.AssertInOrder
	assertOutcome = executortest.AssertOutcome
)

type tarEntry struct {
	name, body, link string
	dir              bool
}

func tarGz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, ModTime: time.Now()}
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		case e.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
