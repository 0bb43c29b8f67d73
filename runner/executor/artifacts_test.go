package executor

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestArtifactsWanted(t *testing.T) {
	outcomes := []Outcome{OutcomeSuccess, OutcomeScriptFailure, OutcomeTimeout, OutcomeSystemFailure, OutcomeCanceled}
	for when, want := range map[string][]bool{
		"":           {true, false, false, false, false},
		"on_success": {true, false, false, false, false},
		"on_failure": {false, true, true, true, false},
		"always":     {true, true, true, true, false},
	} {
		for i, o := range outcomes {
			if got := ArtifactsWanted(&Artifacts{When: when}, o); got != want[i] {
				t.Errorf("when %q, outcome %v: wanted = %v, want %v", when, o, got, want[i])
			}
		}
	}
	if ArtifactsWanted(nil, OutcomeSuccess) {
		t.Error("a job without artifacts wants them")
	}
}

func TestLinkStaysInside(t *testing.T) {
	for _, c := range []struct {
		name, target string
		want         bool
	}{
		{"link", "file", true},
		{"link", "./sub/file", true},
		{"a/link", "../file", true},
		{"a/b/link", "../../file", true},
		{"a/link", "..", true},
		{"link", "..", false},
		{"a/link", "../../etc", false},
		{"link", "/etc", false},
		{"link", "", false},
		{"a/link", "b/../../..", false},
		{"a/link", "b/../c", false}, // ".." after an element that may be a link
	} {
		if got := LinkStaysInside(c.name, c.target); got != c.want {
			t.Errorf("LinkStaysInside(%q, %q) = %v, want %v", c.name, c.target, got, c.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB",
		100 << 20: "100 MiB", 5<<30 + 512<<20: "5.5 GiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// makeWorkspace creates the tree the selection tests match against.
func makeWorkspace(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ws")
	files := []string{"top.txt", "other.txt", "out/a.txt", "out/.hidden", "out/skip.log",
		"out/sub/b.txt", "deep/x/y/z.txt", "node_modules/pkg/index.js"}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"out/link": "a.txt", "out/escape": "/etc", "up": "../.."} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dockerTar returns what Docker's CopyFromContainer returns for dir/sub:
// a tar of the tree, entries named after sub's last element (dir's, for "").
func dockerTar(t *testing.T, dir, sub string) []byte {
	t.Helper()
	src := filepath.Join(dir, filepath.FromSlash(sub))
	base := filepath.Base(src)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = path.Join(base, filepath.ToSlash(rel))
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readArchive returns the entries of a gzip-compressed tar: name → content
// for files, "->target" for links, "" for directories (named with "/").
func readArchive(t *testing.T, b []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[h.Name]; dup {
			t.Errorf("entry %s archived twice", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			body, _ := io.ReadAll(tr)
			out[h.Name] = string(body)
		case tar.TypeSymlink, tar.TypeLink:
			out[h.Name] = "->" + h.Linkname
		default:
			out[h.Name] = ""
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// collectWith runs a collector over dir the way an executor named by how
// does, and returns the archive (nil when empty) and the log.
func collectWith(t *testing.T, how, dir string, spec *Artifacts) ([]byte, string) {
	t.Helper()
	var archive, log bytes.Buffer
	c := newArtifactCollector(spec, dir, &archive, &log)
	var err error
	switch how {
	case "shell":
		err = CollectDir(t.Context(), dir, c)
	case "docker, whole workspace":
		err = FilterArtifacts(t.Context(), bytes.NewReader(dockerTar(t, dir, "")), filepath.Base(dir), c)
	case "docker, top level":
		tops, all := c.TopLevel()
		if all {
			tops = []string{""}
		}
		for _, top := range tops {
			if _, statErr := os.Lstat(filepath.Join(dir, top)); statErr != nil {
				continue // Docker: not found
			}
			strip := ""
			if top == "" {
				strip = filepath.Base(dir)
			}
			if err = FilterArtifacts(t.Context(), bytes.NewReader(dockerTar(t, dir, top)), strip, c); err != nil {
				break
			}
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", how, err)
	}
	if c.entries == 0 {
		c.report()
		return nil, log.String()
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	c.report()
	return archive.Bytes(), log.String()
}

var collectors = []string{"shell", "docker, whole workspace", "docker, top level"}

func TestArtifactSelection(t *testing.T) {
	dir := makeWorkspace(t)
	cases := map[string]struct {
		paths, exclude []string
		want           []string
	}{
		"directory path takes everything under it": {
			paths: []string{"out/"},
			want:  []string{"out/", "out/.hidden", "out/a.txt", "out/link", "out/skip.log", "out/sub/", "out/sub/b.txt"},
		},
		"exclude": {
			paths: []string{"out/", "top.txt"}, exclude: []string{"out/*.log"},
			want: []string{"out/", "out/.hidden", "out/a.txt", "out/link", "out/sub/", "out/sub/b.txt", "top.txt"},
		},
		"double star crosses directories": {
			paths: []string{"**/*.txt"},
			want:  []string{"deep/x/y/z.txt", "other.txt", "out/a.txt", "out/sub/b.txt", "top.txt"},
		},
		"double star under a directory matches zero directories too": {
			paths: []string{"out/**/*.txt"},
			want:  []string{"out/a.txt", "out/sub/b.txt"},
		},
		"star stays in one directory, dot files included": {
			paths: []string{"out/*"},
			want:  []string{"out/.hidden", "out/a.txt", "out/link", "out/skip.log", "out/sub/", "out/sub/b.txt"},
		},
		"braces and a leading ./": {
			paths: []string{"./{top,other}.txt", "./deep/x"},
			want:  []string{"deep/x/", "deep/x/y/", "deep/x/y/z.txt", "other.txt", "top.txt"},
		},
		"exclude is not recursive, as in GitLab": {
			paths: []string{"out/sub"}, exclude: []string{"out/sub"},
			want: []string{"out/sub/b.txt"},
		},
		"exclude with double star": {
			paths: []string{"out", "deep"}, exclude: []string{"**/*.txt", "out/sub"},
			want: []string{"deep/", "deep/x/", "deep/x/y/", "out/", "out/.hidden", "out/link", "out/skip.log"},
		},
		"absolute path inside the workspace": {
			paths: []string{dir + "/out/sub/", dir + "/empty"},
			want:  []string{"empty/", "out/sub/", "out/sub/b.txt"},
		},
		"the whole workspace, escaping links skipped": {
			paths:   []string{"."},
			exclude: []string{"node_modules/**", "deep/**", "out/**"},
			want:    []string{"empty/", "other.txt", "top.txt"},
		},
		"trailing double star takes everything beneath": {
			paths: []string{"deep/**", "**/pkg"},
			want:  []string{"deep/", "deep/x/", "deep/x/y/", "deep/x/y/z.txt", "node_modules/pkg/", "node_modules/pkg/index.js"},
		},
		"double star alone": {
			paths:   []string{"**"},
			exclude: []string{"{deep,node_modules,out}/**"},
			want:    []string{"empty/", "other.txt", "top.txt"},
		},
		"paths leaving the workspace": {
			paths: []string{"../ws/top.txt", "/etc/passwd", dir + "2/x", "up/"},
			want:  nil,
		},
		"no match": {
			paths: []string{"missing/", "*.zip"},
			want:  nil,
		},
	}
	for name, tc := range cases {
		for _, how := range collectors {
			t.Run(name+"/"+how, func(t *testing.T) {
				archive, log := collectWith(t, how, dir, &Artifacts{Paths: tc.paths, Exclude: tc.exclude})
				var got []string
				if archive != nil {
					entries := readArchive(t, archive)
					got = sortedKeys(entries)
					for n, body := range entries {
						if strings.HasSuffix(n, ".txt") && body != "content of "+n {
							t.Errorf("%s holds %q", n, body)
						}
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("archived:\n got %q\nwant %q\nlog:\n%s", got, tc.want, log)
				}
			})
		}
	}
}

func TestArtifactLogLines(t *testing.T) {
	dir := makeWorkspace(t)
	for _, how := range collectors {
		_, log := collectWith(t, how, dir, &Artifacts{
			Paths:   []string{"out/", "top.txt", "missing/", "/etc"},
			Exclude: []string{"out/*.log"},
		})
		for _, want := range []string{
			"WARNING: /etc: artifact path is not a subpath of project directory: " + dir + "\n",
			"WARNING: out/escape: symbolic link to /etc leads out of the working directory; not archived\n",
			"out/: found 6 matching artifact files and directories\n",
			"top.txt: found 1 matching artifact files and directories\n",
			"WARNING: missing/: no matching files. Ensure that the artifact path is relative to the working directory (" + dir + ")\n",
			"out/*.log: excluded 1 files\n",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("%s: log lacks %q:\n%s", how, want, log)
			}
		}
	}
}

func TestCollectDirSkipsDirectoriesThatCannotMatch(t *testing.T) {
	c := newArtifactCollector(&Artifacts{Paths: []string{"out/sub", "deep/*/y", "./x/{a,b}/c", "lib/**"}}, "/ws", io.Discard, io.Discard)
	for dir, want := range map[string]bool{
		"out": true, "out/sub": true, "out/sub/x": true, "out/other": false, "outer": false,
		"deep": true, "deep/anything": true, "node_modules": false, "node_modules/pkg": false,
		"x": true, "x/q": true, "z": false, "x/a/c/d": true,
		"lib": true, "lib/x/y": true,
	} {
		if got := c.mayHold(dir); got != want {
			t.Errorf("mayHold(%q) = %v, want %v", dir, got, want)
		}
	}

	if os.Geteuid() == 0 {
		t.Skip("root reads unreadable directories")
	}
	dir := makeWorkspace(t)
	// Unreadable: walking into it would fail the collection.
	locked := filepath.Join(dir, "node_modules")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(locked, 0o755) })
	archive, log := collectWith(t, "shell", dir, &Artifacts{Paths: []string{"out/sub", "deep/*/y"}})
	if got := sortedKeys(readArchive(t, archive)); !slices.Equal(got, []string{"deep/x/y/", "deep/x/y/z.txt", "out/sub/", "out/sub/b.txt"}) {
		t.Errorf("archived %q; log:\n%s", got, log)
	}
}

func TestFilterArtifactsRefusesEscapingNames(t *testing.T) {
	for _, name := range []string{"project/../evil", "/project/x", "other/x", "project2/x"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644})
		_ = tw.Close()
		c := newArtifactCollector(&Artifacts{Paths: []string{"."}}, "/builds/project", io.Discard, io.Discard)
		err := FilterArtifacts(t.Context(), &buf, "project", c)
		if err == nil || !strings.Contains(err.Error(), "leaves the workspace") {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
		if c.entries != 0 {
			t.Errorf("%s: archived", name)
		}
	}
}

func TestFilterArtifactsHardLinks(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "project/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "project/cache.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4},
		{Name: "project/out/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "project/out/a.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4},
		{Name: "project/out/b.bin", Typeflag: tar.TypeLink, Linkname: "project/out/a.bin"},
		{Name: "project/out/c.bin", Typeflag: tar.TypeLink, Linkname: "project/cache.bin"},
	} {
		_ = tw.WriteHeader(h)
		if h.Size > 0 {
			_, _ = tw.Write([]byte("data"))
		}
	}
	_ = tw.Close()
	var archive, log bytes.Buffer
	c := newArtifactCollector(&Artifacts{Paths: []string{"**/*.bin"}, Exclude: []string{"cache.bin"}}, "/builds/project", &archive, &log)
	if err := FilterArtifacts(t.Context(), &buf, "project", c); err != nil {
		t.Fatal(err)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	got := readArchive(t, archive.Bytes())
	want := map[string]string{"out/a.bin": "data", "out/b.bin": "->out/a.bin"}
	if len(got) != len(want) || got["out/a.bin"] != want["out/a.bin"] || got["out/b.bin"] != want["out/b.bin"] {
		t.Errorf("archived %q, want %q", got, want)
	}
	if !strings.Contains(log.String(), "WARNING: out/c.bin: hard link to cache.bin, which is not archived") {
		t.Errorf("no warning for the link to a file not archived:\n%s", log.String())
	}
}

func TestLimitWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &limitWriter{w: &buf, max: 10}
	if n, err := w.Write([]byte("123456")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	n, err := w.Write([]byte("78901"))
	if n != 0 || !errors.Is(err, ErrArtifactsTooLarge) {
		t.Fatalf("Write over the limit = %d, %v; want 0, ErrArtifactsTooLarge", n, err)
	}
	if want := "artifacts are larger than the 10 B limit (--max-artifact-size): the compressed archive reached 11 B"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if buf.String() != "123456" {
		t.Errorf("passed %q", buf.String())
	}
	if n, err := w.Write([]byte("7890")); n != 4 || err != nil {
		t.Errorf("Write up to the limit = %d, %v", n, err)
	}
	unlimited := &limitWriter{w: io.Discard}
	if _, err := unlimited.Write(make([]byte, 1<<20)); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

// uploadRecorder is a Job.UploadArtifacts that keeps what it reads.
type uploadRecorder struct {
	calls   int
	archive []byte
	readErr error
	fail    error // returned after reading everything
}

func (u *uploadRecorder) upload(_ context.Context, r io.Reader) error {
	u.calls++
	u.archive, u.readErr = io.ReadAll(r)
	if u.readErr != nil {
		return u.readErr
	}
	return u.fail
}

func artifactJob(up *uploadRecorder, spec *Artifacts) *Job {
	return &Job{Artifacts: spec, UploadArtifacts: up.upload}
}

func collectDir(dir string) func(context.Context, *ArtifactCollector) error {
	return func(ctx context.Context, c *ArtifactCollector) error { return CollectDir(ctx, dir, c) }
}

func TestUploadJobArtifacts(t *testing.T) {
	dir := makeWorkspace(t)
	ok := Result{Outcome: OutcomeSuccess}
	t.Run("uploads the archive", func(t *testing.T) {
		up := &uploadRecorder{}
		var log bytes.Buffer
		res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"top.txt"}}), ok, dir, &log, collectDir(dir))
		if res != ok || up.calls != 1 {
			t.Fatalf("result %+v, %d uploads", res, up.calls)
		}
		if got := readArchive(t, up.archive); len(got) != 1 || got["top.txt"] != "content of top.txt" {
			t.Errorf("uploaded %q", got)
		}
		want := "Uploading artifacts for successful job\nUploading artifacts...\n" +
			"top.txt: found 1 matching artifact files and directories\n" +
			"Uploading artifacts as \"archive\" to coordinator... " + formatBytes(int64(len(up.archive))) + " OK\n"
		if log.String() != want {
			t.Errorf("log:\n%s\nwant:\n%s", log.String(), want)
		}
	})
	t.Run("not wanted", func(t *testing.T) {
		up := &uploadRecorder{}
		var log bytes.Buffer
		res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"top.txt"}, When: "on_failure"}), ok, dir, &log, collectDir(dir))
		if res != ok || up.calls != 0 || log.Len() != 0 {
			t.Errorf("result %+v, %d uploads, log %q", res, up.calls, log.String())
		}
	})
	t.Run("nothing matches: nothing uploaded", func(t *testing.T) {
		up := &uploadRecorder{}
		var log bytes.Buffer
		failed := Result{Outcome: OutcomeScriptFailure, ExitCode: 1, Message: "exit code 1"}
		res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"nothing/"}, When: "always", Untracked: true}), failed, dir, &log, collectDir(dir))
		if res != failed || up.calls != 0 {
			t.Errorf("result %+v, %d uploads", res, up.calls)
		}
		for _, want := range []string{"Uploading artifacts for failed job\n", "WARNING: untracked: this executor cannot tell untracked files; none kept\n",
			"WARNING: nothing/: no matching files", "ERROR: No files to upload\n"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
		}
	})
	t.Run("upload failure fails a successful job", func(t *testing.T) {
		up := &uploadRecorder{fail: errors.New("coordinator unreachable")}
		var log bytes.Buffer
		res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"out/"}}), ok, dir, &log, collectDir(dir))
		if res.Outcome != OutcomeSystemFailure || res.ExitCode != 0 || res.Message != "uploading artifacts: coordinator unreachable" {
			t.Errorf("result %+v", res)
		}
		if !strings.Contains(log.String(), "ERROR: Job failed (system failure): uploading artifacts: coordinator unreachable\n") {
			t.Errorf("log:\n%s", log.String())
		}
	})
	t.Run("upload failure keeps a failed job's outcome", func(t *testing.T) {
		up := &uploadRecorder{fail: errors.New("coordinator unreachable")}
		timedOut := Result{Outcome: OutcomeTimeout, ExitCode: 143, Message: "execution took longer than 1s seconds"}
		res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"out/"}, When: "on_failure"}), timedOut, dir, io.Discard, collectDir(dir))
		want := Result{Outcome: OutcomeTimeout, ExitCode: 143, Message: "execution took longer than 1s seconds; uploading artifacts: coordinator unreachable"}
		if res != want {
			t.Errorf("result %+v, want %+v", res, want)
		}
	})
	t.Run("upload that stops reading", func(t *testing.T) {
		job := &Job{Artifacts: &Artifacts{Paths: []string{"out/"}}, UploadArtifacts: func(context.Context, io.Reader) error { return nil }}
		res := UploadJobArtifacts(t.Context(), job, ok, dir, io.Discard, collectDir(dir))
		if res.Outcome != OutcomeSystemFailure || !strings.Contains(res.Message, "the upload ended before the archive did") {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("collection failure", func(t *testing.T) {
		up := &uploadRecorder{}
		res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"out/"}}), ok, dir, io.Discard,
			func(ctx context.Context, c *ArtifactCollector) error {
				if err := CollectDir(ctx, dir, c); err != nil {
					return err
				}
				return errors.New("docker daemon gone")
			})
		if res.Outcome != OutcomeSystemFailure || res.Message != "collecting artifacts: docker daemon gone" {
			t.Errorf("result %+v", res)
		}
		if up.calls != 1 || up.readErr == nil {
			t.Errorf("the upload (%d calls) did not see the failure: %v", up.calls, up.readErr)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		up := &uploadRecorder{}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		res := UploadJobArtifacts(ctx, artifactJob(up, &Artifacts{Paths: []string{"out/"}, When: "always"}), ok, dir, io.Discard, collectDir(dir))
		if res.Outcome != OutcomeCanceled || up.calls != 0 {
			t.Errorf("result %+v, %d uploads", res, up.calls)
		}
		if res := UploadJobArtifacts(t.Context(), artifactJob(up, &Artifacts{Paths: []string{"out/"}, When: "always"}),
			Result{Outcome: OutcomeCanceled}, dir, io.Discard, collectDir(dir)); res.Outcome != OutcomeCanceled || up.calls != 0 {
			t.Errorf("canceled job uploaded: %+v, %d uploads", res, up.calls)
		}
	})
}

func TestUploadJobArtifactsLimit(t *testing.T) {
	dir := t.TempDir()
	noise := make([]byte, 256<<10)
	_, _ = rand.Read(noise)
	if err := os.WriteFile(filepath.Join(dir, "noise.bin"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	up := &uploadRecorder{}
	job := artifactJob(up, &Artifacts{Paths: []string{"*.bin"}})
	job.MaxArtifactBytes = 64 << 10
	var log bytes.Buffer
	res := UploadJobArtifacts(t.Context(), job, Result{Outcome: OutcomeSuccess}, dir, &log, collectDir(dir))
	if res.Outcome != OutcomeSystemFailure || !strings.HasPrefix(res.Message, "uploading artifacts: artifacts are larger than the 64 KiB limit (--max-artifact-size): the compressed archive reached ") {
		t.Errorf("result %+v", res)
	}
	if !errors.Is(up.readErr, ErrArtifactsTooLarge) || len(up.archive) > 64<<10 {
		t.Errorf("the upload read %d bytes, then %v; want at most the limit, then ErrArtifactsTooLarge", len(up.archive), up.readErr)
	}
	if !strings.Contains(log.String(), "ERROR: Job failed (system failure): uploading artifacts: artifacts are larger than the 64 KiB limit") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestUploadJobArtifactsStreams checks that the archive reaches the upload
// while it is being written, not once it is whole: the workspace reader
// stops after 2 MiB until the upload has received 512 KiB.
func TestUploadJobArtifactsStreams(t *testing.T) {
	const size = 4 << 20
	received := make(chan struct{})
	job := &Job{
		Artifacts: &Artifacts{Paths: []string{"big.bin"}},
		UploadArtifacts: func(_ context.Context, r io.Reader) error {
			if _, err := io.CopyN(io.Discard, r, 512<<10); err != nil {
				return err
			}
			close(received)
			_, err := io.Copy(io.Discard, r)
			return err
		},
	}
	collect := func(ctx context.Context, c *ArtifactCollector) error {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			_ = tw.WriteHeader(&tar.Header{Name: "ws/big.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
			noise := make([]byte, size)
			_, _ = rand.Read(noise)
			_, _ = tw.Write(noise[:size/2])
			select {
			case <-received:
			case <-time.After(20 * time.Second):
				pw.CloseWithError(errors.New("the upload received nothing while the archive was written"))
				return
			}
			_, _ = tw.Write(noise[size/2:])
			pw.CloseWithError(tw.Close())
		}()
		return FilterArtifacts(ctx, pr, "ws", c)
	}
	res := UploadJobArtifacts(t.Context(), job, Result{Outcome: OutcomeSuccess}, "/ws", io.Discard, collect)
	if res.Outcome != OutcomeSuccess {
		t.Errorf("result %+v", res)
	}
}

func TestDownloadDependencies(t *testing.T) {
	archive := func(body string) Dependency {
		return Dependency{JobName: body, Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(body)), nil
		}}
	}
	var got []string
	unpack := func(_ context.Context, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = append(got, string(b))
		if string(b) == "bad" {
			return errors.New("unsafe entry")
		}
		return err
	}
	var log bytes.Buffer
	err := DownloadDependencies(t.Context(), []Dependency{archive("build"), archive("lint"), archive("bad"), archive("never")}, &log, unpack)
	var depErr *DependencyError
	if !errors.As(err, &depErr) || depErr.JobName != "bad" || err.Error() != "failed to download artifacts for bad: unsafe entry" {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(got, []string{"build", "lint", "bad"}) {
		t.Errorf("unpacked %q", got)
	}
	want := "Downloading artifacts for build ...\nDownloading artifacts for build (5 B) ... OK\n" +
		"Downloading artifacts for lint ...\nDownloading artifacts for lint (4 B) ... OK\n" +
		"Downloading artifacts for bad ...\nERROR: Downloading artifacts for bad failed: unsafe entry\n"
	if log.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", log.String(), want)
	}

	openErr := Dependency{JobName: "gone", Open: func(context.Context) (io.ReadCloser, error) { return nil, errors.New("404 not found") }}
	if err := DownloadDependencies(t.Context(), []Dependency{openErr}, io.Discard, unpack); err == nil || err.Error() != "failed to download artifacts for gone: 404 not found" {
		t.Errorf("open error: %v", err)
	}
}

func TestDownloadDependenciesCancelInterruptsRead(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	defer pw.Close()
	dep := Dependency{JobName: "slow", Open: func(context.Context) (io.ReadCloser, error) { return pr, nil }}
	done := make(chan error, 1)
	go func() {
		done <- DownloadDependencies(ctx, []Dependency{dep}, io.Discard, func(_ context.Context, r io.Reader) error {
			_, err := io.ReadAll(r)
			return err
		})
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked read outlived the cancellation")
	}
}
