package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/gantry-ci/gantry/pkg/source"
	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/executor/executortest"
)

type uploads = executortest.Uploads

var assertEntries = executortest.AssertEntries

func TestRunUploadsArtifacts(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob(
		"mkdir -p out/sub",
		"echo a > out/a.txt", "echo b > out/sub/b.txt", "echo skip > out/skip.log",
		"echo top > top.txt", "echo other > other.txt",
		"ln -s /etc out/etc", "ln -s a.txt out/link",
		// Top-level links are copied out of the container as links, not
		// followed.
		"ln -s /etc etc", "ln -s out alias",
	)
	// after_script's output is kept too.
	job.AfterScript = []string{"echo after > out/after.txt"}
	job.Artifacts = &executor.Artifacts{Paths: []string{"out/", "top.txt", "etc/", "alias"}, Exclude: []string{"out/*.log"}}
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	uploadedBeforeFinished := false
	job.Finished = func(executor.Result) { uploadedBeforeFinished = up.Count() == 1 }
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertEntries(t, up.Only(t), map[string]string{
		"out/": "", "out/a.txt": "a\n", "out/sub/": "", "out/sub/b.txt": "b\n",
		"out/after.txt": "after\n", "out/link": "->a.txt", "top.txt": "top\n", "alias": "->out",
	})
	if !uploadedBeforeFinished {
		t.Error("Finished was called before the artifacts were uploaded")
	}
	assertInOrder(t, log.String(),
		"Running after_script", "Uploading artifacts for successful job\n", "Uploading artifacts...\n",
		"WARNING: etc: symbolic link to /etc leads out of the working directory; not archived\n",
		"WARNING: out/etc: symbolic link to /etc leads out of the working directory; not archived\n",
		"out/: found 6 matching artifact files and directories\n",
		"top.txt: found 1 matching artifact files and directories\n",
		"out/*.log: excluded 1 files\n",
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
		"on_failure, job succeeds": {when: "on_failure", script: []string{"echo x > keep.txt"},
			outcome: executor.OutcomeSuccess},
		"on_success, job fails": {when: "on_success", script: []string{"echo x > keep.txt", "exit 1"},
			outcome: executor.OutcomeScriptFailure},
		"always, job fails": {when: "always", script: []string{"echo x > keep.txt", "exit 1"},
			outcome: executor.OutcomeScriptFailure, uploaded: true},
		// Killed by the timeout, no after_script: the job container is
		// still there to copy from.
		"on_failure, job times out": {when: "on_failure", script: []string{"echo x > keep.txt", "sleep 300"},
			timeout: time.Second, outcome: executor.OutcomeTimeout, uploaded: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{DefaultCancelGrace: time.Second})
			job := newJob(tc.script...)
			job.Timeout = tc.timeout
			job.Artifacts = &executor.Artifacts{Paths: []string{"keep.txt"}, When: tc.when}
			up := &uploads{}
			job.UploadArtifacts = up.Upload
			log := newLogBuffer("")
			res := runJob(t.Context(), t, e, job, log)
			assertOutcome(t, res, tc.outcome)
			if !tc.uploaded {
				if up.Count() != 0 || strings.Contains(log.String(), "Uploading artifacts") {
					t.Errorf("artifacts uploaded (%d)", up.Count())
				}
				return
			}
			assertEntries(t, up.Only(t), map[string]string{"keep.txt": "x\n"})
			assertInOrder(t, log.String(), "Uploading artifacts for failed job\n", " OK\n")
		})
	}
}

func TestRunArtifactsGlobOverWholeWorkspace(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("mkdir -p d/e", "echo a > a.txt", "echo f > d/e/f.txt", "echo x > x.log")
	job.ProjectName = "group/app"
	job.Artifacts = &executor.Artifacts{Paths: []string{"**/*.txt", "/builds/group/app/x.log"}}
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertEntries(t, up.Only(t), map[string]string{"a.txt": "a\n", "d/e/f.txt": "f\n", "x.log": "x\n"})
}

func TestRunArtifactsTooLarge(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("head -c 262144 /dev/urandom > big.bin")
	job.Artifacts = &executor.Artifacts{Paths: []string{"big.bin"}}
	job.MaxArtifactBytes = 64 << 10
	up := &uploads{}
	job.UploadArtifacts = up.Upload
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	const want = "artifacts are larger than the 64 KiB limit (--max-artifact-size): the compressed archive reached "
	if !strings.Contains(res.Message, want) {
		t.Errorf("message %q lacks %q", res.Message, want)
	}
	if up.Count() != 1 || !errors.Is(up.ReadErrs()[0], executor.ErrArtifactsTooLarge) {
		t.Errorf("the upload did not end with the limit error: %v", up.ReadErrs())
	}
	assertInOrder(t, log.String(), "ERROR: Job failed (system failure): uploading artifacts: "+want)
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
	assertInOrder(t, log.String(),
		"WARNING: missing/: no matching files. Ensure that the artifact path is relative to the working directory (/builds/project)\n",
		"ERROR: No files to upload\n")
}

func TestRunArtifactsUploadFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo x > keep.txt")
	job.Artifacts = &executor.Artifacts{Paths: []string{"keep.txt"}}
	job.UploadArtifacts = (&uploads{Fail: errors.New("coordinator unreachable")}).Upload
	var finished executor.Result
	job.Finished = func(r executor.Result) { finished = r }
	res := runJob(t.Context(), t, e, job, newLogBuffer(""))
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	if res.Message != "uploading artifacts: coordinator unreachable" || finished != res {
		t.Errorf("result %+v, Finished got %+v", res, finished)
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
	src := tarGz(t, map[string]string{"dist/app.txt": "from source\n"})
	job := newJob("cat dist/app.txt", "cat report.txt")
	job.Source = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(src)), nil }
	job.Dependencies = []executor.Dependency{
		dependency("build", tarGz(t, map[string]string{"dist/app.txt": "from build\n"})),
		dependency("lint", tarGz(t, map[string]string{"report.txt": "lint report\n"})),
	}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"Downloading artifacts for build ...\n", "Downloading artifacts for build (", " B) ... OK\n",
		"Downloading artifacts for lint ...\n", "Downloading artifacts for lint (", " B) ... OK\n",
		"$ cat dist/app.txt\n", "from build\n", "$ cat report.txt\n", "lint report\n")
}

func TestRunDependencyOpenFailure(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo never-ran")
	job.Dependencies = []executor.Dependency{{JobName: "build", Open: func(context.Context) (io.ReadCloser, error) {
		return nil, errors.New("artifacts expired")
	}}}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSystemFailure)
	if res.Message != "failed to download artifacts for build: artifacts expired" {
		t.Errorf("message %q", res.Message)
	}
	if strings.Contains(log.String(), "never-ran") {
		t.Error("the script ran")
	}
}

func TestRunRefusesUnsafeDependency(t *testing.T) {
	t.Parallel()
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	link := func(name, to string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to}
	}
	cases := map[string][]*tar.Header{
		"dot-dot":               {reg("ok.txt"), reg("../evil")},
		"absolute":              {reg("/abs")},
		"link to /etc":          {link("etc", "/etc"), reg("etc/evil")},
		"link up, then through": {link("up", ".."), reg("up/evil")},
		"inside link, through":  {{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o755}, link("sub/in", ".."), reg("sub/in/evil")},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestExecutor(t, Config{})
			job := newJob("echo never-ran")
			job.Dependencies = []executor.Dependency{dependency("evil", tarOf(t, true, entries...))}
			build := newNames(e.cfg.RunnerID, job.ID, job.Epoch).build()
			// Before cleanup, the job container and its volume are still
			// there to inspect.
			job.Finished = func(executor.Result) { assertNothingOutside(t, build) }
			log := newLogBuffer("")
			res := runJob(t.Context(), t, e, job, log)
			assertOutcome(t, res, executor.OutcomeSystemFailure)
			if !strings.HasPrefix(res.Message, "failed to download artifacts for evil: "+source.ErrUnsafePath.Error()) {
				t.Errorf("message %q", res.Message)
			}
			if strings.Contains(log.String(), "never-ran") {
				t.Error("the script ran")
			}
		})
	}
}

// assertNothingOutside checks that the container's /builds holds nothing
// but the workspace, and that no "evil" or "abs" file exists elsewhere.
func assertNothingOutside(t *testing.T, containerName string) {
	t.Helper()
	ctx := context.Background()
	rc, _, err := testCLI.CopyFromContainer(ctx, containerName, "/builds")
	if err != nil {
		t.Errorf("copying /builds: %v", err)
		return
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("reading /builds: %v", err)
			return
		}
		names = append(names, h.Name)
	}
	for _, n := range names {
		switch n {
		case "builds/", "builds/project/",
			// Entries before the refused one, inside the workspace.
			"builds/project/ok.txt", "builds/project/sub/", "builds/project/sub/in":
		default:
			t.Errorf("/builds holds %s", n)
		}
	}
	if !slices.Contains(names, "builds/project/") {
		t.Errorf("no workspace in /builds: %q", names)
	}
	for _, p := range []string{"/evil", "/abs", "/etc/evil", "/builds/evil"} {
		if _, err := testCLI.ContainerStatPath(ctx, containerName, p); !cerrdefs.IsNotFound(err) {
			t.Errorf("%s exists in the job container (stat: %v)", p, err)
		}
	}
}
