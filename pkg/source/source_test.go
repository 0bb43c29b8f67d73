package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
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

// entry is one archive member for tests that hand-craft archives.
type entry struct {
	hdr  tar.Header
	body string
}

func tarFile(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func tarFileMode(name, body string, mode int64) entry {
	e := tarFile(name, body)
	e.hdr.Mode = mode
	return e
}

func tarDir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func tarSymlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func tarHardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func tarSpecial(typeflag byte, name string) entry {
	return entry{hdr: tar.Header{Typeflag: typeflag, Name: name, Mode: 0o644}}
}

// archive builds a tar, gzip-compressed if gz, from entries written as given:
// tar.Writer does not vet names, so hostile archives are easy to make.
func archive(tb testing.TB, gz bool, entries ...entry) []byte {
	tb.Helper()
	data, err := buildArchive(gz, entries...)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func buildArchive(gz bool, entries ...entry) ([]byte, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, fmt.Errorf("write header %q: %w", hdr.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			return nil, fmt.Errorf("write body %q: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if !gz {
		return tarBuf.Bytes(), nil
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// node describes one file system entry of a test tree.
type node struct {
	path string // slash-separated, relative
	kind byte   // 'f' file, 'd' dir, 'l' symlink
	mode fs.FileMode
	body string // file content or link target
}

func file(p string, mode fs.FileMode, body string) node {
	return node{path: p, kind: 'f', mode: mode, body: body}
}
func dirNode(p string, mode fs.FileMode) node { return node{path: p, kind: 'd', mode: mode} }
func link(p, target string) node              { return node{path: p, kind: 'l', body: target} }

// mkTree creates nodes under root with exact modes (whatever the umask) and a
// fixed modification time on files.
func mkTree(tb testing.TB, root string, nodes ...node) {
	tb.Helper()
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, n := range nodes {
		p := filepath.Join(root, filepath.FromSlash(n.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		var err error
		switch n.kind {
		case 'f':
			if err = os.WriteFile(p, []byte(n.body), 0o600); err == nil {
				if err = os.Chmod(p, n.mode); err == nil {
					err = os.Chtimes(p, mtime, mtime)
				}
			}
		case 'd':
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = os.Chmod(p, n.mode)
			}
		case 'l':
			err = os.Symlink(n.body, p)
		}
		if err != nil {
			tb.Fatalf("create %s: %v", n.path, err)
		}
	}
}

// snapshot describes every entry under root in walk order, without
// following links: "path file 0644", "path dir 0755", "path link -> target".
// With content, file lines also carry a content hash and the mtime.
func snapshot(tb testing.TB, root string, content bool) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch info.Mode().Type() {
		case 0:
			line := fmt.Sprintf("%s file %#o", rel, info.Mode().Perm())
			if content {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(data)
				line += fmt.Sprintf(" %s mtime=%d", hex.EncodeToString(sum[:8]), info.ModTime().Unix())
			}
			out = append(out, line)
		case fs.ModeDir:
			out = append(out, fmt.Sprintf("%s dir %#o", rel, info.Mode().Perm()))
		case fs.ModeSymlink:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%s link -> %s", rel, target))
		default:
			out = append(out, fmt.Sprintf("%s other %v", rel, info.Mode()))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// sandbox makes parent/out (the destination, not yet created) and
// parent/outside (an empty directory that must stay empty).
func sandbox(tb testing.TB) (parent, out, outside string) {
	tb.Helper()
	parent = tb.TempDir()
	out = filepath.Join(parent, "out")
	outside = filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		tb.Fatal(err)
	}
	return parent, out, outside
}

// checkConfined fails the test if anything was written next to out in
// parent, or into parent/outside, or if a symlink under out resolves outside
// it. Links named in trusted (relative to out) were planted by the test.
func checkConfined(tb testing.TB, parent string, trusted ...string) {
	tb.Helper()
	names, err := os.ReadDir(parent)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		if n.Name() != "out" && n.Name() != "outside" {
			tb.Errorf("unexpected %q written beside the destination", n.Name())
		}
	}
	inOutside, err := os.ReadDir(filepath.Join(parent, "outside"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range inOutside {
		tb.Errorf("unexpected %q written outside the destination", n.Name())
	}
	out := filepath.Join(parent, "out")
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == out {
				return nil
			}
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, err := filepath.Rel(out, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !slices.Contains(trusted, rel) && escapes(out, rel) {
			target, _ := os.Readlink(p)
			tb.Errorf("symlink %q -> %q resolves outside the destination", rel, target)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// escapes reports whether resolving rel inside root the way the kernel
// would, following every symlink, ever steps above root or to an absolute
// path. Missing elements are taken lexically.
func escapes(root, rel string) bool {
	var stack []string
	queue := strings.Split(rel, "/")
	for hops := 0; len(queue) > 0; {
		el := queue[0]
		queue = queue[1:]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return true
			}
			stack = stack[:len(stack)-1]
			continue
		}
		p := filepath.Join(append([]string{root}, append(stack, el)...)...)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			stack = append(stack, el)
			continue
		}
		if hops++; hops > 255 {
			return false // A loop: the kernel gives up with ELOOP.
		}
		target, err := os.Readlink(p)
		if err != nil {
			return true
		}
		if filepath.IsAbs(target) {
			return true
		}
		queue = append(strings.Split(target, "/"), queue...)
	}
	return false
}
