package tests

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

const artifactsPipeline = `
stages: [build, test]
build:
  image: gantry-test/busybox:latest
  stage: build
  script:
    - mkdir -p out/sub && echo hello > out/a.txt && echo deep > out/sub/b.txt && echo noise > out/x.log
    - printf 'total:\t(statements)\t71.5%%\n' && printf 'total:\t(statements)\t84.20%%\n'
  coverage: '/total:\s+\(statements\)\s+\d+.\d+%/'
  artifacts:
    name: "bin-$CI_COMMIT_REF_NAME"
    paths: [out/]
    exclude: [out/*.log]
use:
  image: gantry-test/busybox:latest
  stage: test
  script:
    - cat out/a.txt out/sub/b.txt
    - test ! -e out/x.log
without:
  image: gantry-test/busybox:latest
  stage: test
  needs: [{job: build, artifacts: false}]
  script: [test ! -e out/a.txt]
`

const artifactsWorkflow = `
on: push
jobs:
  make:
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    steps:
      - run: mkdir -p dist && echo "built by make" > dist/app.txt
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: dist/
  check:
    needs: make
    runs-on: ubuntu-latest
    container: gantry-test/busybox:latest
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: app
          path: got
      - run: cat got/app.txt
`

const cachePipeline = `
fill:
  image: gantry-test/busybox:latest
  cache:
    key: deps-$CI_COMMIT_REF_SLUG
    paths: [.deps/]
  script:
    - if [ -f .deps/dep.txt ]; then echo "restored $(cat .deps/dep.txt)"; else echo "cold cache"; fi
    - mkdir -p .deps && echo "run $CI_PIPELINE_ID" > .deps/dep.txt
readonly:
  image: gantry-test/busybox:latest
  cache:
    key: missing-key
    fallback_keys: [deps-$CI_COMMIT_REF_SLUG]
    paths: [.deps/]
    policy: pull
  script:
    - cat .deps/dep.txt
`

// A cache saved by one run's job is restored by the next run's, through
// the coordinator (so by any runner); a fallback key is used when the key
// has none; a pull-only cache saves nothing.
func TestCacheEndToEnd(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": cachePipeline})
	logOf := func(runID int64, job string) string {
		run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
		return e.client.Log(ctx, t, harness.Job(run, job).GetId())
	}
	first := submitDetached(ctx, t, e.addr, src, "--ref", "feature/x")
	if log := logOf(first, "fill"); !strings.Contains(log, "cold cache") || !strings.Contains(log, "Created cache deps-feature-x") {
		t.Errorf("first run's fill:\n%s", log)
	}
	second := submitDetached(ctx, t, e.addr, src, "--ref", "feature/x")
	want := "restored run " + strconv.FormatInt(first, 10)
	if log := logOf(second, "fill"); !strings.Contains(log, want) {
		t.Errorf("second run's fill lacks %q:\n%s", want, log)
	}
	if log := logOf(second, "readonly"); !strings.Contains(log, "Successfully extracted cache deps-feature-x") || strings.Contains(log, "Created cache") {
		t.Errorf("readonly (fallback key, pull policy):\n%s", log)
	}
}

const crossRunnerCachePipeline = `
stages: [build, test]
save:
  stage: build
  image: gantry-test/busybox:latest
  tags: [builder]
  cache:
    key: shared-$CI_PIPELINE_ID
    paths: [.deps/]
    policy: push
  script: [mkdir -p .deps, 'echo "saved on $CI_RUNNER_DESCRIPTION" > .deps/who.txt']
restore:
  stage: test
  image: gantry-test/busybox:latest
  tags: [tester]
  cache:
    key: shared-$CI_PIPELINE_ID
    paths: [.deps/]
    policy: pull
  script: [cat .deps/who.txt, 'echo "restored on $CI_RUNNER_DESCRIPTION"']
`

// A cache saved by a job on one runner is restored by a job on another:
// caches live in the coordinator's blob store, not on the runner.
func TestCacheAcrossRunners(t *testing.T) {
	harness.Docker(t)
	dir, addr, token := t.TempDir(), harness.FreeAddr(t), "e2e-registration-token"
	harness.Coordinator(t, dir, addr, token)
	for _, r := range []struct{ name, tag string }{{"runner-a", "builder"}, {"runner-b", "tester"}} {
		startDockerRunner(t, dir, r.name, addr, token, "--tags", r.tag)
	}
	client := harness.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": crossRunnerCachePipeline})
	runID := submitDetached(ctx, t, addr, src, "--ref", "main")
	run := client.WaitRun(ctx, t, runID, harness.RunEnded)
	save, restore := harness.Job(run, "save"), harness.Job(run, "restore")
	if save.GetRunnerName() != "runner-a" || restore.GetRunnerName() != "runner-b" {
		t.Fatalf("save ran on %q, restore on %q; want runner-a and runner-b", save.GetRunnerName(), restore.GetRunnerName())
	}
	log := client.Log(ctx, t, restore.GetId())
	if run.GetRun().GetStatus() != gantryv1.RunStatus_RUN_STATUS_SUCCESS || !strings.Contains(log, "saved on runner-a") || !strings.Contains(log, "restored on runner-b") {
		t.Errorf("run %s; restore's log:\n%s", run.GetRun().GetStatus(), log)
	}
}

// tarNames lists the regular files of a tar.gz.
func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, strings.TrimPrefix(h.Name, "./"))
		}
	}
	slices.Sort(names)
	return names
}

func TestArtifactsEndToEnd(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": artifactsPipeline, ".github/workflows/ci.yml": artifactsWorkflow})

	runID := submitDetached(ctx, t, e.addr, src, "--ref", "main")
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		for _, j := range run.GetJobs() {
			t.Logf("%s: %s %s\n%s", j.GetName(), j.GetStatus(), j.GetFailureMessage(), e.client.Log(ctx, t, j.GetId()))
		}
		t.Fatalf("run %s, want success", st)
	}
	build := harness.Job(run, "build")
	art := build.GetArtifact()
	if art == nil || art.GetName() != "bin-main" || art.GetSize() == 0 {
		t.Fatalf("build's artifact: %v, want bin-main", art)
	}
	if build.Coverage == nil || build.GetCoverage() != 84.2 {
		t.Errorf("build's coverage %v, want 84.2 (the last matching line)", build.Coverage)
	}
	if log := e.client.Log(ctx, t, harness.Job(run, "use").GetId()); !strings.Contains(log, "hello\ndeep\n") {
		t.Errorf("use did not see build's artifacts:\n%s", log)
	}

	// The CLI lists it and downloads it byte for byte.
	rid := strconv.FormatInt(runID, 10)
	if res := harness.CLI(ctx, t, e.addr, "artifacts", "list", rid); res.Code != 0 || !strings.Contains(res.Stdout, art.GetSha256()) {
		t.Errorf("artifacts list: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	dl := filepath.Join(t.TempDir(), "build.tar.gz")
	if res := harness.CLI(ctx, t, e.addr, "artifacts", "download", rid, "build", "-o", dl); res.Code != 0 {
		t.Fatalf("artifacts download: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	raw, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != art.GetSha256() || int64(len(raw)) != art.GetSize() {
		t.Errorf("downloaded %d bytes with sha256 %x; the coordinator recorded %d bytes, %s", len(raw), sum, art.GetSize(), art.GetSha256())
	}
	if got := tarNames(t, dl); !slices.Equal(got, []string{"out/a.txt", "out/sub/b.txt"}) {
		t.Errorf("archive holds %v, want out/a.txt and out/sub/b.txt (out/*.log excluded)", got)
	}
	dir := t.TempDir()
	if res := harness.CLI(ctx, t, e.addr, "artifacts", "download", rid, "build", "--extract", dir); res.Code != 0 {
		t.Fatalf("artifacts download --extract: exit %d\n%s", res.Code, res.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out", "sub", "b.txt")); err != nil || string(b) != "deep\n" {
		t.Errorf("extracted out/sub/b.txt: %q %v", b, err)
	}
	if res := harness.CLI(ctx, t, e.addr, "artifacts", "download", rid, "use"); res.Code == 0 || !strings.Contains(res.Stderr, "has no artifacts") {
		t.Errorf("download of a job without artifacts: exit %d %s", res.Code, res.Stderr)
	}

	// A GitHub workflow passes files with upload/download-artifact.
	wf := submitDetached(ctx, t, e.addr, src, "--ref", "main", "-f", ".github/workflows/ci.yml")
	done := e.client.WaitRun(ctx, t, wf, harness.RunEnded)
	check := harness.Job(done, "check")
	if log := e.client.Log(ctx, t, check.GetId()); done.GetRun().GetStatus() != gantryv1.RunStatus_RUN_STATUS_SUCCESS || !strings.Contains(log, "built by make") {
		t.Errorf("workflow run %s; check's log:\n%s", done.GetRun().GetStatus(), log)
	}
}

const untrackedPipeline = `
stages: [build, test]
build:
  stage: build
  image: gantry-test/busybox:latest
  script: [mkdir -p out, echo bin > out/app.bin, echo new > new.txt, echo noise > run.log, echo changed >> tracked.txt]
  artifacts:
    untracked: true
    exclude: ["*.log"]
  cache:
    key: untracked-$CI_PIPELINE_ID
    untracked: true
    policy: push
reuse:
  stage: test
  image: gantry-test/busybox:latest
  dependencies: []
  cache:
    key: untracked-$CI_PIPELINE_ID
    untracked: true
    policy: pull
  script: [cat new.txt out/app.bin]
`

// untracked: true keeps what the job's source did not hold (GitLab keeps
// what git does not track), in artifacts and in caches.
func TestUntrackedArtifactsAndCache(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": untrackedPipeline, "tracked.txt": "from the source\n", "docs/readme.md": "tracked too\n"})
	runID := submitDetached(ctx, t, e.addr, src, "--ref", "main")
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		for _, j := range run.GetJobs() {
			t.Logf("%s: %s\n%s", j.GetName(), j.GetStatus(), e.client.Log(ctx, t, j.GetId()))
		}
		t.Fatalf("run %s, want success", st)
	}
	dl := filepath.Join(t.TempDir(), "build.tar.gz")
	if res := harness.CLI(ctx, t, e.addr, "artifacts", "download", strconv.FormatInt(runID, 10), "build", "-o", dl); res.Code != 0 {
		t.Fatalf("artifacts download: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := tarNames(t, dl); !slices.Equal(got, []string{"new.txt", "out/app.bin"}) {
		t.Errorf("untracked artifacts hold %v, want new.txt and out/app.bin (not the source's files, not *.log)", got)
	}
}
