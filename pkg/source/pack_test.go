package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var longName = strings.Repeat("deep/", 25) + "long-file-name.txt" // > 100 bytes: needs PAX

func sourceTree(tb testing.TB) string {
	tb.Helper()
	root := tb.TempDir()
	mkTree(tb, root,
		file("README.md", 0o644, "# hello\n"),
		file("build.sh", 0o755, "#!/bin/sh\necho hi\n"),
		file("secret.key", 0o600, "k"),
		file("empty.txt", 0o644, ""),
		file("a/b/c/deep.go", 0o644, "package c\n"),
		file(longName, 0o640, "long"),
		dirNode("a/b", 0o750),
		dirNode("empty", 0o755),
		link("link", "a/b/c/deep.go"),
		link("a/up", "../README.md"),
		link("dangling", "does-not-exist"),
	)
	return root
}

func readHeaders(tb testing.TB, gzData []byte) []*tar.Header {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gzData))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs
		}
		if err != nil {
			tb.Fatal(err)
		}
		hdrs = append(hdrs, hdr)
	}
}

func TestPackRoundTrip(t *testing.T) {
	src := sourceTree(t)
	var buf bytes.Buffer
	st, err := Pack(t.Context(), src, &buf, PackOptions{})
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	wantBytes := int64(len("# hello\n") + len("#!/bin/sh\necho hi\n") + 1 + len("package c\n") + len("long"))
	// Dirs: a, a/b, a/b/c, empty, and the 25 "deep" levels.
	want := Stats{Files: 6, Dirs: 4 + 25, Symlinks: 3, Bytes: wantBytes}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}

	dst := filepath.Join(t.TempDir(), "job")
	if err := Unpack(t.Context(), bytes.NewReader(buf.Bytes()), dst, UnpackOptions{}); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	got, wantTree := snapshot(t, dst, true), snapshot(t, src, true)
	if !slices.Equal(got, wantTree) {
		t.Errorf("unpacked tree differs\n got: %q\nwant: %q", got, wantTree)
	}
	info, err := os.Stat(filepath.Join(dst, "build.sh"))
	if err != nil || info.Mode().Perm()&0o111 == 0 {
		t.Errorf("build.sh lost its executable bit: %v %v", info.Mode(), err)
	}
}

func TestPackDeterministicHeaders(t *testing.T) {
	src := sourceTree(t)
	mkTree(t, src, link("abs", "/etc/hostname")) // packed as is, target unchanged
	var first, second bytes.Buffer
	if _, err := Pack(t.Context(), src, &first, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pack(t.Context(), src, &second, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Error("two packs of the same tree differ")
	}

	hdrs := readHeaders(t, first.Bytes())
	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 and no names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if strings.HasPrefix(h.Name, "./") || strings.HasPrefix(h.Name, "/") {
			t.Errorf("%s: name is not relative", h.Name)
		}
		if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			t.Errorf("%s: type %q, trailing slash mismatch", h.Name, h.Typeflag)
		}
		if h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v has sub-second precision", h.Name, h.ModTime)
		}
	}
	wantFirst := []string{"README.md", "a/", "a/b/", "a/b/c/", "a/b/c/deep.go", "a/up", "abs", "build.sh"}
	if !slices.Equal(names[:len(wantFirst)], wantFirst) {
		t.Errorf("entry order = %q, want it to start with %q", names, wantFirst)
	}
	for _, h := range hdrs {
		if h.Name == "abs" && h.Linkname != "/etc/hostname" {
			t.Errorf("abs symlink target = %q, want it unchanged", h.Linkname)
		}
	}
}

func TestPackExcludes(t *testing.T) {
	src := t.TempDir()
	mkTree(t, src,
		file("main.go", 0o644, "package main"),
		file("debug.log", 0o644, "x"),
		file("sub/trace.log", 0o644, "x"),
		file("sub/keep.txt", 0o644, "x"),
		file(".git/HEAD", 0o644, "ref"),
		file("node_modules/left-pad/index.js", 0o644, "x"),
		file("web/node_modules/x.js", 0o644, "x"),
		file("build/out/bin", 0o755, "x"),
		file("build/keep", 0o644, "x"),
	)
	all := []string{
		".git/", ".git/HEAD", "build/", "build/keep", "build/out/", "build/out/bin",
		"debug.log", "main.go", "node_modules/", "node_modules/left-pad/", "node_modules/left-pad/index.js",
		"sub/", "sub/keep.txt", "sub/trace.log", "web/", "web/node_modules/", "web/node_modules/x.js",
	}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool {
			for _, d := range drop {
				if n == d || strings.HasPrefix(n, d) && strings.HasSuffix(d, "/") {
					return true
				}
			}
			return false
		})
	}
	tests := []struct {
		name    string
		exclude []string
		want    []string
	}{
		{"none", nil, all},
		{"dir name anywhere", []string{"node_modules"}, without("node_modules/", "web/node_modules/")},
		{"glob on element", []string{"*.log"}, without("debug.log", "sub/trace.log")},
		{"dot dir", []string{".git"}, without(".git/")},
		{"relative path", []string{"build/out"}, without("build/out/")},
		{"trailing slash and dot prefix", []string{"./build/out/", "node_modules/"}, without("build/out/", "node_modules/", "web/node_modules/")},
		{"glob in path", []string{"sub/*.log"}, without("sub/trace.log")},
		{"several", []string{".git", "*.log", "node_modules"}, without(".git/", "debug.log", "sub/trace.log", "node_modules/", "web/node_modules/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := Pack(t.Context(), src, &buf, PackOptions{Exclude: tt.exclude}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range readHeaders(t, buf.Bytes()) {
				got = append(got, h.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPackBadExclude(t *testing.T) {
	for _, pat := range []string{"[", "a/[", "", "/"} {
		_, err := Pack(t.Context(), t.TempDir(), io.Discard, PackOptions{Exclude: []string{pat}})
		if err == nil {
			t.Errorf("pattern %q: Pack succeeded, want an error", pat)
		}
	}
}

func TestPackMaxBytes(t *testing.T) {
	src := t.TempDir()
	mkTree(t, src,
		file("a", 0o644, strings.Repeat("a", 100)),
		file("b", 0o644, strings.Repeat("b", 100)),
		file("c", 0o644, strings.Repeat("c", 100)),
	)
	tests := []struct {
		max     int64
		wantErr bool
	}{
		{0, false},
		{300, false},
		{299, true},
		{1, true},
	}
	for _, tt := range tests {
		_, err := Pack(t.Context(), src, io.Discard, PackOptions{MaxBytes: tt.max})
		if !tt.wantErr {
			if err != nil {
				t.Errorf("MaxBytes %d: %v", tt.max, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("MaxBytes %d: err = %v, want ErrTooLarge", tt.max, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "limit of "+strconv.FormatInt(tt.max, 10)) {
			t.Errorf("MaxBytes %d: error %q does not name the limit", tt.max, msg)
		}
	}
	_, err := Pack(t.Context(), src, io.Discard, PackOptions{MaxBytes: 250})
	if err == nil || !strings.Contains(err.Error(), "300 bytes") {
		t.Errorf("error %v does not name the size reached (300 bytes)", err)
	}
}

func TestPackNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{f, filepath.Join(t.TempDir(), "missing")} {
		if _, err := Pack(t.Context(), dir, io.Discard, PackOptions{}); err == nil {
			t.Errorf("Pack(%q) succeeded, want an error", dir)
		}
	}
}

// cancelWriter cancels its context on the first write, so the cancellation
// happens while Pack is running, on an event rather than a timer.
type cancelWriter struct {
	cancel context.CancelFunc
}

func (w cancelWriter) Write(p []byte) (int, error) {
	w.cancel()
	return len(p), nil
}

func TestPackCancel(t *testing.T) {
	src := t.TempDir()
	mkTree(t, src, file("a", 0o644, "a"), file("b", 0o644, "b"), file("c", 0o644, "c"))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Pack(ctx, src, io.Discard, PackOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("pre-cancelled: err = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	st, err := Pack(ctx, src, cancelWriter{cancel}, PackOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while packing: err = %v, want context.Canceled", err)
	}
	if st.Files == 3 {
		t.Errorf("cancelled Pack still packed every file: %+v", st)
	}
}
