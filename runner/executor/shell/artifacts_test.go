package shell

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/pkg/source"
	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/executor/executortest"
)

type uploads = executortest.Uploads

func TestRunUploadsArtifacts(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob(
		"mkdir -p out/sub",
		"echo a > out/a.txt", "echo b > out/sub/b.txt", "echo skip > out/skip.log",
		"echo top > top.txt", "echo other > other.txt",
		"ln -s /etc out/etc", "ln -s a.txt out/link",
	)
	job.AfterScript = []string{"echo after > out/after.txt"}
	job.Artifacts = &executor.Artifacts{Paths: []string{"out/", "top.txt"}, Exclude: []string{"out/*.log"}}
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	uploadedBeforeFinished := false
	job.Finished = func(executor.Result) { uploadedBeforeFinished = up.Count() == 1 }
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	executortest.AssertEntries(t, up.Only(t), map[string]string{
		"out/": "", "out/a.txt": "a\n", "out/sub/": "", "out/sub/b.txt": "b\n",
		"out/after.txt": "after\n", "out/link": "->a.txt", "top.txt": "top\n",
	})
	if !uploadedBeforeFinished {
		t.Error("Finished was called before the artifacts were uploaded")
	}
	assertInOrder(t, log.String(), "Running after_script", "Uploading artifacts for successful job\n",
		"WARNING: out/etc: symbolic link to /etc leads out of the working directory; not archived\n",
		"out/: found 6 matching artifact files and directories\n", "out/*.log: excluded 1 files\n",
		`Uploading artifacts as "archive" to coordinator... `, " OK\n")
}

func TestRunArtifactsWhen(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		when     string
		script   []string
		timeout  time.Duration
		outcome  executor.Outcome
		uploaded bool
	}{
		"on_failure, job succeeds": {when: "on_failure", script: []string{"echo x > keep.txt"}, outcome: executor.OutcomeSuccess},
		"default, job fails":       {script: []string{"echo x > keep.txt", "exit 1"}, outcome: executor.OutcomeScriptFailure},
		"always, job fails": {when: "always", script: []string{"echo x > keep.txt", "exit 1"},
			outcome: executor.OutcomeScriptFailure, uploaded: true},
		"on_failure, job times out": {when: "on_failure", script: []string{"echo x > keep.txt", "sleep 300"},
			timeout: 300 * time.Millisecond, outcome: executor.OutcomeTimeout, uploaded: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{})
			job := newJob(tc.script...)
			job.Timeout = tc.timeout
			job.Artifacts = &executor.Artifacts{Paths: []string{"keep.txt"}, When: tc.when}
			up := &uploads{}
			job.UploadArtifacts = up.Upload
			res := runJob(t.Context(), t, e, job, newLogBuffer(""))
			assertOutcome(t, res, tc.outcome)
			if !tc.uploaded {
				if up.Count() != 0 {
					t.Error("artifacts uploaded")
				}
				return
			}
			executortest.AssertEntries(t, up.Only(t), map[string]string{"keep.txt": "x\n"})
		})
	}
}

func TestRunArtifactsCanceledJobUploadsNothing(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo x > keep.txt", "echo started", "sleep 300")
	job.Artifacts = &executor.Artifacts{Paths: []string{"keep.txt"}, When: "always"}
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	log := newLogBuffer("started\n")
	res := runJob(cancelOnSeen(t, log), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeCanceled)
	if up.Count() != 0 {
		t.Error("a canceled job uploaded its artifacts")
	}
}

func TestRunArtifactsTooLarge(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("head -c 262144 /dev/urandom > big.bin")
	job.Artifacts = &executor.Artifacts{Paths: []string{"big.bin"}}
	job.MaxArtifactBytes = 64 << 10
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	if !strings.Contains(res.Message, "artifacts are larger than the 64 KiB limit (--max-artifact-size)") {
		t.Errorf("message %q", res.Message)
	}
	if errs := up.ReadErrs(); len(errs) != 1 || !errors.Is(errs[0], executor.ErrArtifactsTooLarge) {
		t.Errorf("the upload did not end with the limit error: %v", errs)
	}
}

func TestRunArtifactsNothingToUpload(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("true")
	job.Artifacts = &executor.Artifacts{Paths: []string{"missing/"}}
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	if up.Count() != 0 {
		t.Error("an empty archive was uploaded")
	}
	assertInOrder(t, log.String(), "WARNING: missing/: no matching files", "ERROR: No files to upload\n")
}

func TestRunArtifactsUploadFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo x > keep.txt")
	job.Artifacts = &executor.Artifacts{Paths: []string{"keep.txt"}}
	job.UploadArtifacts = (&uploads{Fail: errors.New("coordinator unreachable")}).Upload
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	if res.Message != "uploading artifacts: coordinator unreachable" {
		t.Errorf("message %q", res.Message)
	}
}

func dependency(name string, archive []byte) executor.Dependency {
	return executor.Dependency{JobName: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(archive)), nil
	}}
}

func TestRunDownloadsDependencies(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("cat dist/app.txt", "cat report.txt")
	src := tarGz(t, []tarEntry{{name: "dist/app.txt", body: "from source\n"}})
	job.Source = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(src)), nil }
	job.Dependencies = []executor.Dependency{
		dependency("build", tarGz(t, []tarEntry{{name: "dist/app.txt", body: "from build\n"}})),
		dependency("lint", tarGz(t, []tarEntry{{name: "report.txt", body: "lint report\n"}})),
	}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"Downloading artifacts for build ...\n", " B) ... OK\n",
		"Downloading artifacts for lint ...\n", " B) ... OK\n",
		"Executing \"step_script\" stage of the job script", "from build\n", "lint report\n")
}

func TestRunRefusesUnsafeDependency(t *testing.T) {
	t.Parallel()
	cases := map[string][]tarEntry{
		"dot-dot":          {{name: "ok.txt", body: "ok"}, {name: "../escaped.txt", body: "x"}},
		"absolute":         {{name: "/tmp/gantry-escaped.txt", body: "x"}},
		"link to /etc":     {{name: "etc", link: "/etc"}, {name: "etc/escaped.txt", body: "x"}},
		"link up, through": {{name: "sub/", dir: true}, {name: "sub/up", link: ".."}, {name: "sub/up/escaped.txt", body: "x"}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{})
			job := newJob("echo never-ran")
			job.Dependencies = []executor.Dependency{dependency("evil", tarGz(t, entries))}
			log := newLogBuffer("")
			res := runJob(t.Context(), t, e, job, log)
			assertOutcome(t, res, executor.OutcomeSystemFailure)
			if !strings.HasPrefix(res.Message, "failed to download artifacts for evil: "+source.ErrUnsafePath.Error()) {
				t.Errorf("message %q", res.Message)
			}
			if strings.Contains(log.String(), "never-ran") {
				t.Error("the script ran")
			}
			for _, p := range []string{filepath.Join(e.cfg.BuildsDir, "escaped.txt"), "/tmp/gantry-escaped.txt", "/etc/escaped.txt"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s written outside the job directory", p)
				}
			}
		})
	}
}
