package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/coordinator/blob/s3test"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

const s3Pipeline = `
stages: [build, test]
default:
  image: gantry-test/busybox:latest
build:
  stage: build
  cache: {key: deps, paths: [.deps/]}
  script:
    - mkdir -p out .deps && echo "artifact via s3" > out/a.txt && echo "cache via s3" > .deps/d.txt
  artifacts: {paths: [out/]}
use:
  stage: test
  cache: {key: deps, paths: [.deps/], policy: pull}
  script:
    - cat out/a.txt .deps/d.txt
`

// A coordinator with an S3 blob store (a real S3-compatible server) keeps
// the source, the artifact a dependent job unpacks and the cache it
// restores in the bucket, and nothing in its data dir's blobs.
func TestS3BlobStoreEndToEnd(t *testing.T) {
	srv := s3test.Start(t) // stopped after the coordinator (cleanups run last-in first-out)
	srv.CreateBucket(t, "gantry-e2e")
	harness.Docker(t)
	e := &env{dir: t.TempDir(), addr: harness.FreeAddr(t), token: "e2e-registration-token"}
	secret := filepath.Join(e.dir, "s3-secret")
	if err := os.WriteFile(secret, []byte(srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.coord = harness.Coordinator(t, e.dir, e.addr, e.token,
		"--blob-store", "s3://gantry-e2e/ci?insecure=true&path-style=true&endpoint="+srv.Endpoint,
		"--s3-access-key", srv.AccessKey, "--s3-secret-key-file", secret)
	e.runner, e.runnerID = startDockerRunner(t, e.dir, "runner-1", e.addr, e.token)
	e.client = harness.Dial(t, e.addr)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gantry.yml": s3Pipeline})
	runID := submitDetached(ctx, t, e.addr, src, "--ref", "main")
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		for _, j := range run.GetJobs() {
			t.Logf("%s: %s %s\n%s", j.GetName(), j.GetStatus(), j.GetFailureMessage(), e.client.Log(ctx, t, j.GetId()))
		}
		t.Fatalf("run %s, want success", st)
	}
	if log := e.client.Log(ctx, t, harness.Job(run, "use").GetId()); !strings.Contains(log, "artifact via s3\ncache via s3\n") {
		t.Errorf("use did not get the artifact and the cache:\n%s", log)
	}

	// The bytes are in the bucket, under the prefix.
	art := harness.Job(run, "build").GetArtifact()
	objects := srv.Objects(t, "gantry-e2e", "")
	var artifacts, sources, caches, logs int
	for _, o := range objects {
		switch {
		case strings.HasPrefix(o, "ci/artifacts/") && strings.HasSuffix(o, "/"+art.GetSha256()+".tar.gz"):
			artifacts++
		case strings.HasPrefix(o, "ci/sources/"):
			sources++
		case strings.HasPrefix(o, "ci/caches/"):
			caches++
		case strings.HasPrefix(o, "ci/logs/"):
			logs++
		case strings.HasPrefix(o, "ci/.tmp/"):
			t.Errorf("temporary object %q left", o)
		}
	}
	if artifacts != 1 || sources != 1 || caches != 1 {
		t.Errorf("bucket holds %d artifacts with sha256 %s, %d sources and %d caches, want one each: %q", artifacts, art.GetSha256(), sources, caches, objects)
	}
	if logs != len(run.GetJobs()) {
		t.Errorf("bucket holds %d job logs, want %d (one per attempt): %q", logs, len(run.GetJobs()), objects)
	}
	// A coordinator without the logs on its disk reads them from the bucket.
	useLog := e.client.Log(ctx, t, harness.Job(run, "use").GetId())
	if err := os.RemoveAll(filepath.Join(e.dir, "data", "logs")); err != nil {
		t.Fatal(err)
	}
	if again := e.client.Log(ctx, t, harness.Job(run, "use").GetId()); again != useLog {
		t.Errorf("use's log read back from the bucket differs:\n%s\nwant:\n%s", again, useLog)
	}
	if uploads := srv.IncompleteUploads(t, "gantry-e2e"); len(uploads) > 0 {
		t.Errorf("unfinished multipart uploads: %q", uploads)
	}
	// ... and nowhere in the data dir.
	_ = filepath.WalkDir(filepath.Join(e.dir, "data", "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("blob file %s in the data dir", p)
		}
		return nil
	})

	// The CLI downloads the artifact from the bucket byte for byte.
	dl := filepath.Join(t.TempDir(), "build.tar.gz")
	if res := harness.CLI(ctx, t, e.addr, "artifacts", "download", strconv.FormatInt(runID, 10), "build", "-o", dl); res.Code != 0 {
		t.Fatalf("artifacts download: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	raw, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != art.GetSha256() {
		t.Errorf("downloaded sha256 %x, the coordinator recorded %s", sum, art.GetSha256())
	}
}
