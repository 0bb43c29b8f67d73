package docker

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/runner/executor"
)

func TestRunEchoesCommandsInOrder(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo first", "echo second")
	job.BeforeScript = []string{"echo before"}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	if res.ExitCode != 0 {
		t.Errorf("exit code = %d, want 0", res.ExitCode)
	}
	assertInOrder(t, log.String(),
		"$ echo before\n", "before\n",
		"$ echo first\n", "first\n",
		"$ echo second\n", "second\n")
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
	assertInOrder(t, log.String(), "$ echo one\n", "one\n", "$ exit 3\n")
	if strings.Contains(log.String(), "never-printed") {
		t.Error("the script went on after a failing command")
	}
}

func TestRunMultiLineCommandAndQuoting(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, newJob(
		"for i in 1 2 3; do\n  echo \"line-$i\"\ndone",
		`echo "it's \"quoted\" and \$escaped"`,
		"false | true",
	), log)
	// pipefail: `false | true` fails as GitLab's bash would make it.
	assertOutcome(t, res, executor.OutcomeScriptFailure)
	assertInOrder(t, log.String(), "line-1\n", "line-2\n", "line-3\n",
		`it's "quoted" and $escaped`+"\n")
}

func TestRunVariablesAndWorkspace(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob(
		`echo "greeting=$GREETING"`,
		`echo "$TRICKY"`,
		`echo "overridden=$SAME"`,
		`echo "project_dir=$CI_PROJECT_DIR builds_dir=$CI_BUILDS_DIR pwd=$(pwd)"`,
		`touch written-by-job && ls`,
	)
	job.ProjectName = "group/app"
	job.Variables = []executor.Variable{
		{Key: "GREETING", Value: "hello world"},
		{Key: "TRICKY", Value: `a'b"c$d` + "\nsecond line", Raw: true}, // raw: no $ expansion
		{Key: "SAME", Value: "first"},
		{Key: "SAME", Value: "second"},
		{Key: "not-a-shell-name", Value: "skipped"},
	}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"greeting=hello world\n",
		`a'b"c$d`+"\nsecond line\n",
		"overridden=second\n",
		"project_dir=/builds/group/app builds_dir=/builds pwd=/builds/group/app\n",
		"written-by-job\n")
}

func TestRunUnpacksSourceIntoWorkspace(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	archive := tarGz(t, map[string]string{
		"hello.txt":     "hello from the source\n",
		"sub/world.txt": "nested file\n",
	})
	job := newJob("pwd", "cat hello.txt", "cat sub/world.txt", "echo changed > hello.txt")
	job.AfterScript = []string{"cat hello.txt"}
	opened := 0
	job.Source = func(context.Context) (io.ReadCloser, error) {
		opened++
		return io.NopCloser(bytes.NewReader(archive)), nil
	}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	if opened != 1 {
		t.Errorf("Source opened %d times, want 1", opened)
	}
	assertInOrder(t, log.String(),
		"$ pwd\n", "/builds/project\n",
		"hello from the source\n", "nested file\n",
		"Running after_script", "$ cat hello.txt\n", "changed\n")
}

func TestRunSourceErrorIsSystemFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo never")
	job.Source = func(context.Context) (io.ReadCloser, error) {
		return nil, errors.New("blob store down")
	}
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	if !strings.Contains(res.Message, "blob store down") {
		t.Errorf("message %q does not name the cause", res.Message)
	}
}

func TestRunHonoursImageEntrypoint(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo in-script")
	job.Image.Name = entrypointImage
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(), "entrypoint ran\n", "in-script\n")
}

func TestRunClearsEntrypoint(t *testing.T) {
	t.Parallel()
	for name, ep := range map[string][]string{
		"gitlab-style empty string": {""},
		"empty list":                {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{})
			job := newJob("echo in-script")
			job.Image = executor.Image{Name: entrypointImage, Entrypoint: ep, EntrypointSet: true}
			log := newLogBuffer("")
			res := runJob(t.Context(), t, e, job, log)
			assertOutcome(t, res, executor.OutcomeSuccess)
			assertInOrder(t, log.String(), "in-script\n")
			if strings.Contains(log.String(), "entrypoint ran") {
				t.Error("the image's entrypoint ran although it was cleared")
			}
		})
	}
}

func TestRunMissingImageIsPullFailure(t *testing.T) {
	t.Parallel()
	const missing = "gantry-test/does-not-exist:1"
	cases := map[string]struct {
		policy  PullPolicy
		service bool
	}{
		"job image":          {policy: PullIfNotPresent},
		"service image":      {policy: PullIfNotPresent, service: true},
		"pull policy never":  {policy: PullNever},
		"pull policy always": {policy: PullAlways},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{PullPolicy: tc.policy})
			job := newJob("echo never")
			if tc.service {
				job.Services = []executor.Service{{Name: missing}}
			} else {
				job.Image.Name = missing
			}
			log := newLogBuffer("")
			res := runJob(t.Context(), t, e, job, log)
			assertOutcome(t, res, executor.OutcomeImagePullFailure)
			if !strings.Contains(res.Message, `"`+missing+`"`) {
				t.Errorf("message %q does not name the image", res.Message)
			}
			if !strings.Contains(log.String(), missing) {
				t.Error("the job log does not name the missing image")
			}
		})
	}
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo started", "sleep 300")
	job.Timeout = time.Second
	job.AfterScript = []string{`echo "after-script-ran status=$CI_JOB_STATUS"`}
	log := newLogBuffer("")
	start := time.Now()
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeTimeout)
	if d := time.Since(start); d > time.Minute {
		t.Errorf("timed-out job took %v", d)
	}
	assertInOrder(t, log.String(), "started\n",
		"ERROR: Job failed: execution took longer than 1s seconds\n",
		"after-script-ran status=failed\n")
}

func TestRunCancelStopsScriptAndRunsAfterScript(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo started", "sleep 300")
	// A long grace: the script must end on SIGTERM, not on SIGKILL.
	job.CancelGrace = 2 * time.Minute
	job.AfterScript = []string{`echo "after-script-ran status=$CI_JOB_STATUS"`}
	log := newLogBuffer("started\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	canceledAt := make(chan time.Time, 1)
	go func() {
		select {
		case <-log.Seen():
			canceledAt <- time.Now()
			cancel()
		case <-ctx.Done():
		}
	}()
	res := runJob(ctx, t, e, job, log)
	assertOutcome(t, res, executor.OutcomeCanceled)
	if d := time.Since(<-canceledAt); d > time.Minute {
		t.Errorf("Run returned %v after the cancellation", d)
	}
	assertInOrder(t, log.String(), "started\n",
		"WARNING: Job canceled, stopping script\n",
		"Running after_script", "after-script-ran status=canceled\n")
}

func TestRunCancelKillsScriptIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{DefaultCancelGrace: time.Second})
	job := newJob(`trap "echo got-term" TERM`, "echo started",
		"sleep 300 & wait || true", "sleep 300 & wait || true")
	log := newLogBuffer("started\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		select {
		case <-log.Seen():
			cancel()
		case <-ctx.Done():
		}
	}()
	res := runJob(ctx, t, e, job, log)
	assertOutcome(t, res, executor.OutcomeCanceled)
	// The trap ran (SIGTERM reached the shell), the shell went on to the
	// next sleep, and SIGKILL ended it after the grace period.
	assertInOrder(t, log.String(), "WARNING: Job canceled, stopping script\n", "got-term\n")
}

func TestRunAfterScriptRunsAfterFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo fail-now", "exit 7")
	job.AfterScript = []string{`echo "after-script-ran status=$CI_JOB_STATUS"`, "exit 1"}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	// after_script's own failure changes nothing.
	assertOutcome(t, res, executor.OutcomeScriptFailure)
	if res.ExitCode != 7 {
		t.Errorf("exit code = %d, want 7", res.ExitCode)
	}
	assertInOrder(t, log.String(), "fail-now\n", "Running after_script",
		"after-script-ran status=failed\n",
		"WARNING: after_script failed, but job will continue unaffected: exit code 1\n")
}

func TestRunAfterScriptTimeoutDoesNotFailJob(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{DefaultCancelGrace: time.Second})
	job := newJob("echo ok")
	job.AfterScript = []string{"echo after-started", "sleep 300"}
	job.AfterScriptTimeout = time.Second
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(), "after-started\n",
		"WARNING: after_script failed, but job will continue unaffected: execution took longer than 1s seconds\n")
}

func TestRunRejectsInvalidJob(t *testing.T) {
	t.Parallel()
	e := New(nil, Config{RunnerID: "unused"}, zaptest.NewLogger(t))
	for name, job := range map[string]*executor.Job{
		"no script":       newJob(),
		"blank script":    newJob("  "),
		"no image":        {ID: 1, Script: []string{"true"}},
		"escaping dir":    {ID: 1, Image: executor.Image{Name: busyboxImage}, Script: []string{"true"}, ProjectName: "../etc"},
		"unnamed service": {ID: 1, Image: executor.Image{Name: busyboxImage}, Script: []string{"true"}, Services: []executor.Service{{}}},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := e.Run(t.Context(), job, io.Discard)
			if !errors.Is(err, executor.ErrInvalidJob) {
				t.Fatalf("Run error = %v, want ErrInvalidJob", err)
			}
			assertOutcome(t, res, executor.OutcomeSystemFailure)
		})
	}
}

// tarGz returns a gzip-compressed tar of files (path → content).
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
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
