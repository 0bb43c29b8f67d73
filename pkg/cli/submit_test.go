package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/source"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

const validPipeline = `stages: [build, test]
build:
  stage: build
  script: [make]
unit:
  stage: test
  script: [make test]
lint:
  stage: test
  script: [make lint]
  release:
    description: x
`

// writeTree creates files (path -> content) under a new temporary dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func validPipelineDir(t *testing.T) string {
	return writeTree(t, map[string]string{".gantry.yml": validPipeline})
}

// submitted is the answer of the fake to a submit of validPipeline.
func submitted() *gantryv1.SubmitRunResponse {
	return &gantryv1.SubmitRunResponse{
		Run: &gantryv1.Run{Id: 12, Status: gantryv1.RunStatus_RUN_STATUS_PENDING},
		Jobs: []*gantryv1.Job{
			{Id: 1, Name: "build", Stage: "build"},
			{Id: 2, Name: "unit", Stage: "test", StageIndex: 1},
			{Id: 3, Name: "lint", Stage: "test", StageIndex: 1},
		},
	}
}

func TestSubmitSendsHeaderAndSource(t *testing.T) {
	t.Setenv("USER", "alice")
	host, _ := os.Hostname()
	files := map[string]string{
		".gantry.yml":    validPipeline,
		"src/main.go":    "package main\n",
		"README.md":      "# demo\n",
		"build.log":      "excluded\n",
		".git/HEAD":      "ref: refs/heads/main\n", // .git is sent unless excluded
		"docs/empty.txt": "",
	}
	dir := writeTree(t, files)

	// The coordinator parses the file too and repeats its warnings, named
	// by pipeline_path; the CLI must show each warning once.
	pl, err := pipeline.Parse(".gantry.yml", []byte(validPipeline))
	if err != nil || len(pl.Warnings) != 1 {
		t.Fatalf("test pipeline: %v, warnings %v; want one warning", err, pl.Warnings)
	}
	resp := submitted()
	resp.Warnings = []string{pl.Warnings[0].String(), "runner tags [gpu] match no runner"}
	f := &fakeCoordinator{submitResp: resp}
	addr := f.serve(t)

	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", "--detach",
		"--ref", "main", "--sha", "deadbeef", "--var", "A=1", "--var", "B=x=y", "--exclude", "*.log", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if want := "Run #12 submitted: 3 jobs in 2 stages\ncheck on it with: gantry runs 12\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	localWarning := "warning: " + filepath.Join(dir, ".gantry.yml") + ":11:3: "
	if strings.Count(errOut, "warning: ") != 2 || !strings.Contains(errOut, localWarning) ||
		!strings.Contains(errOut, "warning: runner tags [gpu] match no runner\n") {
		t.Errorf("stderr %q: want the local warning (%s...) and the server's own one, once each", errOut, localWarning)
	}

	wantHeader := &gantryv1.SubmitHeader{
		Pipeline: []byte(validPipeline), PipelinePath: ".gantry.yml", Ref: "main", Sha: "deadbeef",
		Submitter: "alice@" + host, ProjectName: filepath.Base(dir),
		Variables: []*gantryv1.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "x=y"}},
		Source:    "push", DefaultBranch: "main",
	}
	header, archive := f.submission()
	if !proto.Equal(header, wantHeader) {
		t.Errorf("header %v\nwant %v", header, wantHeader)
	}
	unpacked := t.TempDir()
	if err := source.Unpack(t.Context(), bytes.NewReader(archive), unpacked, source.UnpackOptions{}); err != nil {
		t.Fatalf("unpack the source the fake received: %v", err)
	}
	delete(files, "build.log")
	if got := readTree(t, unpacked); !equalMaps(got, files) {
		t.Errorf("source unpacked to %v, want %v", got, files)
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSubmitPipelineFile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		args     []string
		wantPath string
	}{
		{"gantry first", map[string]string{".gantry.yml": validPipeline, ".gitlab-ci.yml": "x: ["}, nil, ".gantry.yml"},
		{"gitlab fallback", map[string]string{".gitlab-ci.yml": validPipeline}, nil, ".gitlab-ci.yml"},
		{"-f relative to DIR", map[string]string{"ci/pipeline.yml": validPipeline}, []string{"-f", "ci/pipeline.yml"}, "ci/pipeline.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCoordinator{submitResp: submitted()}
			addr := f.serve(t)
			dir := writeTree(t, tc.files)
			args := append([]string{"--coordinator", addr, "submit", "--detach", "--project", "demo", dir}, tc.args...)
			if _, errOut, code := gantry(t.Context(), args...); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			header, _ := f.submission()
			if header.GetPipelinePath() != tc.wantPath || header.GetProjectName() != "demo" {
				t.Errorf("pipeline_path %q, project %q; want %q, demo", header.GetPipelinePath(), header.GetProjectName(), tc.wantPath)
			}
		})
	}
}

func TestSubmitGitInfo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := validPipelineDir(t)
	gitCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com",
			"-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitCmd("init", "-q")
	gitCmd("add", ".")
	gitCmd("commit", "-q", "-m", "init")
	gitCmd("checkout", "-q", "-b", "feature/x")
	sha := gitCmd("rev-parse", "HEAD")

	f := &fakeCoordinator{submitResp: submitted()}
	addr := f.serve(t)
	if _, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", "--detach", dir); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	header, _ := f.submission()
	if header.GetRef() != "feature/x" || header.GetSha() != sha {
		t.Errorf("ref %q sha %q, want feature/x %s", header.GetRef(), header.GetSha(), sha)
	}
}

func TestSubmitInvalidPipeline(t *testing.T) {
	f := &fakeCoordinator{submitResp: submitted()}
	addr := f.serve(t)
	dir := writeTree(t, map[string]string{".gantry.yml": "a:\n  stage: nope\n  script: [x]\nb:\n  stage: nope2\n  script: [y]\n"})
	path := filepath.Join(dir, ".gantry.yml")

	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", dir)
	if code != 2 || out != "" {
		t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if len(lines) != 3 ||
		!strings.HasPrefix(lines[0], path+":2:10: ") || !strings.Contains(lines[0], `"nope"`) ||
		!strings.HasPrefix(lines[1], path+":5:10: ") || !strings.Contains(lines[1], `"nope2"`) ||
		lines[2] != "gantry: "+path+" is invalid (2 errors); nothing was submitted" {
		t.Errorf("stderr:\n%s\nwant both errors as file:line:column: message, then a summary", errOut)
	}
	if n := f.callCount(); n != 0 {
		t.Errorf("the coordinator got %d calls for an invalid pipeline", n)
	}
}

func TestSubmitNoPipeline(t *testing.T) {
	f := &fakeCoordinator{}
	addr := f.serve(t)
	dir := writeTree(t, map[string]string{"README.md": "hi"})
	_, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", dir)
	if code != 2 || !strings.Contains(errOut, "no pipeline file in "+dir) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = gantry(t.Context(), "--coordinator", addr, "submit", "-f", "../elsewhere.yml", dir)
	if code != 2 || !strings.Contains(errOut, "is outside") {
		t.Errorf("-f outside DIR: exit %d, stderr %q", code, errOut)
	}
	if n := f.callCount(); n != 0 {
		t.Errorf("the coordinator got %d calls", n)
	}
}

// TestSubmitRejected has the coordinator refuse the run before reading the
// source: the CLI reports the coordinator's reason, and the packing
// goroutine stops (goleak checks it).
func TestSubmitRejected(t *testing.T) {
	big := make([]byte, 3<<20) // incompressible: several chunks
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	dir := writeTree(t, map[string]string{".gantry.yml": validPipeline, "blob.bin": string(big)})
	f := &fakeCoordinator{submitErr: status.Error(codes.InvalidArgument, "source archive larger than 1 MiB")}
	addr := f.serve(t)

	out, errOut, code := gantry(t.Context(), "--coordinator", addr, "submit", dir)
	if code != 2 || out != "" || !strings.HasSuffix(errOut, "gantry: source archive larger than 1 MiB\n") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the coordinator's message", code, out, errOut)
	}
}

func TestParseSecrets(t *testing.T) {
	env := map[string]string{"TOKEN": "from-the-environment"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := parseSecrets([]string{"API_KEY=abcdefgh12", "TOKEN"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].GetValue() != "abcdefgh12" || !got[0].GetMasked() || got[1].GetValue() != "from-the-environment" || !got[1].GetMasked() {
		t.Fatalf("secrets %v", got)
	}
	for arg, want := range map[string]string{
		"SHORT=abc": "at least 8 characters",
		"MISSING":   "$MISSING is not set",
		"=value123": "want KEY=VALUE",
	} {
		if _, err := parseSecrets([]string{arg}, lookup); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--secret %s: err %v, want %q", arg, err, want)
		}
	}
}
