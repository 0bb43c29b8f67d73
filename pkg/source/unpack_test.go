package source

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUnpackRefusesUnsafeEntries(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, out string) // plants trusted content in out
		entries []entry
		// entry is the archive entry the error must name.
		entry string
	}{
		{name: "parent escape", entries: []entry{tarFile("../evil", "x")}, entry: "../evil"},
		{name: "absolute", entries: []entry{tarFile("/abs", "x")}, entry: "/abs"},
		{name: "escape after clean", entries: []entry{tarFile("a/../../evil", "x")}, entry: "a/../../evil"},
		{name: "deep escape", entries: []entry{tarDir("a/", 0o755), tarFile("a/b/../../../outside/evil", "x")}, entry: "a/b/../../../outside/evil"},
		{name: "absolute symlink then write through it",
			entries: []entry{tarSymlink("link", "/etc"), tarFile("link/passwd", "root::0:0::/:/bin/sh")}, entry: "link"},
		{name: "absolute symlink to outside", entries: []entry{tarSymlink("link", "/")}, entry: "link"},
		{name: "symlink climbing out", entries: []entry{tarSymlink("up", "../..")}, entry: "up"},
		{name: "symlink climbing one too many", entries: []entry{tarSymlink("a/b/up", "../../../outside")}, entry: "a/b/up"},
		{name: "symlink with dotdot after element",
			entries: []entry{tarSymlink("r", "."), tarSymlink("t", "r/..")}, entry: "t"},
		{name: "write through in-tree symlink",
			entries: []entry{tarDir("sub/", 0o755), tarSymlink("inner", "sub"), tarFile("inner/x", "x")}, entry: "inner/x"},
		{name: "dir through in-tree symlink",
			entries: []entry{tarDir("sub/", 0o755), tarSymlink("inner", "sub"), tarDir("inner/d/", 0o755)}, entry: "inner/d/"},
		{name: "write through existing symlink",
			setup:   plantSymlink("pre", "../outside"),
			entries: []entry{tarFile("pre/x", "x")}, entry: "pre/x"},
		{name: "symlink through existing symlink",
			setup:   plantSymlink("pre", "../outside"),
			entries: []entry{tarSymlink("pre/l", "x")}, entry: "pre/l"},
		{name: "hard link outside", entries: []entry{tarHardlink("h", "../x")}, entry: "h"},
		{name: "hard link absolute", entries: []entry{tarHardlink("h", "/etc/passwd")}, entry: "h"},
		{name: "hard link through symlink",
			entries: []entry{tarFile("sub/f", "x"), tarSymlink("l", "sub"), tarHardlink("h", "l/f")}, entry: "h"},
		{name: "hard link to symlink",
			entries: []entry{tarFile("f", "x"), tarSymlink("l", "f"), tarHardlink("h", "l")}, entry: "h"},
		{name: "hard link to existing outside symlink",
			setup:   plantSymlink("pre", "../outside"),
			entries: []entry{tarHardlink("h", "pre")}, entry: "h"},
		{name: "hard link to directory", entries: []entry{tarDir("d/", 0o755), tarHardlink("h", "d")}, entry: "h"},
		{name: "symlink replacing directory",
			entries: []entry{tarDir("a/", 0o755), tarSymlink("a", "b"), tarFile("a/x", "x")}, entry: "a"},
		{name: "file replacing directory", entries: []entry{tarFile("a/x", "x"), tarFile("a", "x")}, entry: "a"},
		{name: "char device", entries: []entry{tarSpecial(tar.TypeChar, "null")}, entry: "null"},
		{name: "block device", entries: []entry{tarSpecial(tar.TypeBlock, "sda")}, entry: "sda"},
		{name: "fifo", entries: []entry{tarSpecial(tar.TypeFifo, "pipe")}, entry: "pipe"},
		{name: "unknown type", entries: []entry{tarSpecial('Z', "odd")}, entry: "odd"},
		{name: "file named dot", entries: []entry{tarFile(".", "x")}, entry: "."},
	}
	for _, tt := range tests {
		for _, gz := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/gzip=%v", tt.name, gz), func(t *testing.T) {
				parent, out, _ := sandbox(t)
				var trusted []string
				if tt.setup != nil {
					if err := os.Mkdir(out, 0o755); err != nil {
						t.Fatal(err)
					}
					tt.setup(t, out)
					trusted = append(trusted, "pre")
				}
				data := archive(t, gz, tt.entries...)
				err := Unpack(t.Context(), bytes.NewReader(data), out, UnpackOptions{})
				if !errors.Is(err, ErrUnsafePath) {
					t.Fatalf("err = %v, want ErrUnsafePath", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.entry)) {
					t.Errorf("error %q does not name entry %q", err, tt.entry)
				}
				checkConfined(t, parent, trusted...)
			})
		}
	}
}

func plantSymlink(name, target string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnpackAcceptsTrickyButSafeEntries(t *testing.T) {
	mtime := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	stamped := tarFile("stamped", "s")
	stamped.hdr.ModTime = mtime
	global := entry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}}}

	tests := []struct {
		name    string
		setup   func(t *testing.T, out string)
		entries []entry
		want    []string // snapshot lines, without mtimes
		check   func(t *testing.T, out string)
	}{
		{name: "dot slash prefix and root entry",
			entries: []entry{tarDir("./", 0o700), tarFile("./x", "x")},
			want:    []string{"x file 0644"}},
		{name: "dotdot that stays inside",
			entries: []entry{tarFile("a/../b", "b")},
			want:    []string{"b file 0644"}},
		{name: "implicit parents",
			entries: []entry{tarFile("x/y/z", "z")},
			want:    []string{"x dir 0755", "x/y dir 0755", "x/y/z file 0644"}},
		{name: "relative symlinks inside",
			entries: []entry{tarFile("x", "x"), tarSymlink("sub/l", "../x"), tarSymlink("l", "./sub/./l"), tarSymlink("d", "nowhere")},
			want:    []string{"d link -> nowhere", "l link -> ./sub/./l", "sub dir 0755", "sub/l link -> ../x", "x file 0644"}},
		{name: "hard link",
			entries: []entry{tarFile("f", "same"), tarHardlink("h", "f"), tarHardlink("f", "f")},
			want:    []string{"f file 0644", "h file 0644"},
			check:   wantContent(map[string]string{"f": "same", "h": "same"})},
		{name: "later duplicate replaces earlier",
			entries: []entry{tarFile("f", "old"), tarFile("f", "new")},
			want:    []string{"f file 0644"},
			check:   wantContent(map[string]string{"f": "new"})},
		{name: "file replaces hard link without writing through it",
			entries: []entry{tarFile("f", "orig"), tarHardlink("h", "f"), tarFile("h", "new")},
			want:    []string{"f file 0644", "h file 0644"},
			check:   wantContent(map[string]string{"f": "orig", "h": "new"})},
		{name: "file replaces symlink without following it",
			entries: []entry{tarFile("f", "orig"), tarSymlink("l", "f"), tarFile("l", "new")},
			want:    []string{"f file 0644", "l file 0644"},
			check:   wantContent(map[string]string{"f": "orig", "l": "new"})},
		{name: "file replaces existing outside symlink",
			setup:   plantSymlink("pre", "../outside/target"),
			entries: []entry{tarFile("pre", "mine")},
			want:    []string{"pre file 0644"},
			check:   wantContent(map[string]string{"pre": "mine"})},
		{name: "directory replaces existing outside symlink",
			setup:   plantSymlink("pre", "../outside"),
			entries: []entry{tarDir("pre/", 0o755), tarFile("pre/x", "x")},
			want:    []string{"pre dir 0755", "pre/x file 0644"}},
		{name: "modes kept, special bits masked, dirs owner-writable",
			entries: []entry{
				tarDir("ro/", 0o555), tarFileMode("ro/setuid", "x", 0o4755), tarFileMode("ro/grp", "x", 0o2664),
				tarFileMode("sticky", "x", 0o1600), tarFileMode("none", "x", 0),
			},
			want: []string{"none file 0", "ro dir 0755", "ro/grp file 0664", "ro/setuid file 0755", "sticky file 0600"}},
		{name: "mtime kept and pax global header ignored",
			entries: []entry{global, stamped},
			want:    []string{"stamped file 0644"},
			check: func(t *testing.T, out string) {
				info, err := os.Stat(filepath.Join(out, "stamped"))
				if err != nil || !info.ModTime().Equal(mtime) {
					t.Errorf("mtime = %v (%v), want %v", info.ModTime(), err, mtime)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, out, _ := sandbox(t)
			var trusted []string
			if tt.setup != nil {
				if err := os.Mkdir(out, 0o755); err != nil {
					t.Fatal(err)
				}
				tt.setup(t, out)
				trusted = append(trusted, "pre")
			}
			if err := Unpack(t.Context(), bytes.NewReader(archive(t, true, tt.entries...)), out, UnpackOptions{}); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			got := snapshot(t, out, false)
			if !slices.Equal(got, tt.want) {
				t.Errorf("tree = %q\nwant %q", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
			checkConfined(t, parent, trusted...)
		})
	}
}

func wantContent(files map[string]string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(out, name))
			if err != nil || string(got) != want {
				t.Errorf("%s = %q (%v), want %q", name, got, err, want)
			}
		}
	}
}

func TestUnpackUncompressedTar(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	data := archive(t, false, tarDir("d/", 0o755), tarFile("d/f", "plain"))
	if err := Unpack(t.Context(), bytes.NewReader(data), out, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	wantContent(map[string]string{"d/f": "plain"})(t, out)
}

func TestUnpackRejectsBrokenInput(t *testing.T) {
	good := archive(t, true, tarFile("f", strings.Repeat("data ", 1000)))
	corrupt := slices.Clone(good)
	corrupt[len(corrupt)-6] ^= 0xff // inside the gzip CRC trailer
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("this is not an archive, not even a little bit")},
		{"truncated gzip", good[:len(good)/2]},
		{"bad checksum", corrupt},
		{"truncated tar", archive(t, false, tarFile("f", strings.Repeat("x", 5000)))[:2048]},
		{"gzip magic only", []byte{0x1f, 0x8b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, out, _ := sandbox(t)
			err := Unpack(t.Context(), bytes.NewReader(tt.data), out, UnpackOptions{})
			if err == nil {
				t.Fatal("Unpack succeeded, want an error")
			}
			if errors.Is(err, ErrUnsafePath) || errors.Is(err, ErrTooLarge) {
				t.Errorf("err = %v, want a plain read error", err)
			}
			checkConfined(t, parent)
		})
	}
}

func TestUnpackMaxBytes(t *testing.T) {
	data := archive(t, true,
		tarFile("a", strings.Repeat("a", 100)),
		tarFile("b", strings.Repeat("b", 100)),
		tarFile("c", strings.Repeat("c", 100)),
	)
	tests := []struct {
		max  int64
		want []string // files extracted
		err  bool
	}{
		{max: 0, want: []string{"a", "b", "c"}},
		{max: 300, want: []string{"a", "b", "c"}},
		{max: 299, want: []string{"a", "b"}, err: true},
		{max: 50, want: nil, err: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			err := Unpack(t.Context(), bytes.NewReader(data), out, UnpackOptions{MaxBytes: tt.max})
			if tt.err {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("limit of %d bytes", tt.max)) {
					t.Errorf("error %q does not name the limit", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			names, _ := os.ReadDir(out)
			var got []string
			for _, n := range names {
				got = append(got, n.Name())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("extracted %q, want %q", got, tt.want)
			}
		})
	}
}

// cancelReader cancels its context after its first Read, so cancellation
// lands mid-archive on an event rather than a timer.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

func TestUnpackCancel(t *testing.T) {
	want := map[string][]byte{}
	var entries []entry
	for i := range 8 {
		body := make([]byte, 64<<10)
		rand.Read(body)
		name := fmt.Sprintf("f%d", i)
		want[name] = body
		entries = append(entries, tarFile(name, string(body)))
	}
	data := archive(t, true, entries...)

	t.Run("before start", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := Unpack(ctx, bytes.NewReader(data), out, UnpackOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("mid archive", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := Unpack(ctx, cancelReader{bytes.NewReader(data), cancel}, out, UnpackOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		names, _ := os.ReadDir(out)
		if len(names) == len(want) {
			t.Errorf("all %d files extracted despite cancellation", len(names))
		}
		// Whatever is left must be complete: the file being written was removed.
		for _, n := range names {
			got, err := os.ReadFile(filepath.Join(out, n.Name()))
			if err != nil || !bytes.Equal(got, want[n.Name()]) {
				t.Errorf("%s left partially written (%d of %d bytes, %v)", n.Name(), len(got), len(want[n.Name()]), err)
			}
		}
	})
}

// TestUnpackRemovesPartialFile cuts an archive in the middle of a file's
// data: the file must not be left half written.
func TestUnpackRemovesPartialFile(t *testing.T) {
	body := strings.Repeat("x", 10000)
	data := archive(t, false, tarFile("complete", "ok"), tarFile("partial", body))
	out := filepath.Join(t.TempDir(), "out")
	err := Unpack(t.Context(), bytes.NewReader(data[:len(data)-4096]), out, UnpackOptions{})
	if err == nil {
		t.Fatal("Unpack of a truncated archive succeeded")
	}
	if _, err := os.Lstat(filepath.Join(out, "partial")); !os.IsNotExist(err) {
		t.Errorf("partial file left behind (lstat: %v)", err)
	}
	wantContent(map[string]string{"complete": "ok"})(t, out)
}
