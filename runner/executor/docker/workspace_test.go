package docker

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/pkg/source"
	"github.com/gantry-ci/gantry/runner/executor"
)

// tarOf returns a tar (gzip-compressed when gz) of entries; a regular
// file's content is its name.
func tarOf(t testing.TB, gz bool, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(h.Name))
		}
	}
	_ = tw.Close()
	if zw != nil {
		_ = zw.Close()
	}
	return buf.Bytes()
}

// listTar describes a tar's entries: name, "->target" for links, "=body"
// for files, " mode" for artifacts' files and directories.
func listTar(t *testing.T, r io.Reader, modes bool) string {
	t.Helper()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := h.Name
		switch h.Typeflag {
		case tar.TypeLink, tar.TypeSymlink:
			n += "->" + h.Linkname
		case tar.TypeReg:
			body, _ := io.ReadAll(tr)
			n += "=" + string(body)
		}
		if modes && h.Typeflag != tar.TypeSymlink {
			n += " " + (fsMode(h.Mode))
		}
		names = append(names, n)
	}
	return strings.Join(names, " ")
}

func fsMode(m int64) string { return fmt.Sprintf("%04o", m) }

// entryNames lists the names in a tar that may lack its end marker.
func entryNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(io.MultiReader(bytes.NewReader(b), bytes.NewReader(make([]byte, 1024))))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func TestWorkspaceTarSource(t *testing.T) {
	for _, gz := range []bool{true, false} {
		src := tarOf(t, gz,
			&tar.Header{Name: "src/", Typeflag: tar.TypeDir, Mode: 0o755},
			&tar.Header{Name: "src/main.go", Typeflag: tar.TypeReg, Mode: 0o644},
			&tar.Header{Name: "./README", Typeflag: tar.TypeReg, Mode: 0o644},
			&tar.Header{Name: "link", Typeflag: tar.TypeLink, Linkname: "src/main.go"},
			// The user's own tree: an absolute link is kept, as it always was.
			&tar.Header{Name: "python", Typeflag: tar.TypeSymlink, Linkname: "/usr/bin/python3"},
		)
		var out bytes.Buffer
		wt, err := newWorkspaceTar(&out, "group/project")
		if err != nil {
			t.Fatal(err)
		}
		if err := wt.addSource(bytes.NewReader(src)); err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if err := wt.close(); err != nil {
			t.Fatal(err)
		}
		want := "group/ group/project/ group/project/src/ group/project/src/main.go=src/main.go group/project/README=./README group/project/link->group/project/src/main.go group/project/python->/usr/bin/python3"
		if got := listTar(t, &out, false); got != want {
			t.Errorf("gz=%v entries:\n got %s\nwant %s", gz, got, want)
		}
	}
}

func TestWorkspaceTarSourceRefusesEscapes(t *testing.T) {
	for _, h := range []*tar.Header{
		{Name: "../evil", Typeflag: tar.TypeReg},
		{Name: "/etc/passwd", Typeflag: tar.TypeReg},
		{Name: "a/../../evil", Typeflag: tar.TypeReg},
		{Name: "ok", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"},
	} {
		wt, err := newWorkspaceTar(io.Discard, "project")
		if err != nil {
			t.Fatal(err)
		}
		err = wt.addSource(bytes.NewReader(tarOf(t, true, h)))
		if err == nil || !strings.Contains(err.Error(), "leaves the workspace") {
			t.Errorf("%s -> %s: err %v, want refusal", h.Name, h.Linkname, err)
		}
	}
}

func TestWorkspaceTarArtifacts(t *testing.T) {
	var out bytes.Buffer
	wt, err := newWorkspaceTar(&out, "project")
	if err != nil {
		t.Fatal(err)
	}
	src := tarOf(t, true,
		&tar.Header{Name: "dist/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "dist/app", Typeflag: tar.TypeReg, Mode: 0o644},
	)
	if err := wt.addSource(bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	dep := tarOf(t, true,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "dist/", Typeflag: tar.TypeDir, Mode: 0o500},
		&tar.Header{Name: "dist/app", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Uname: "evil",
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "x"}},
		&tar.Header{Name: "dist/hard", Typeflag: tar.TypeLink, Linkname: "dist/app"},
		&tar.Header{Name: "dist/up", Typeflag: tar.TypeSymlink, Linkname: "../dist/app"},
		&tar.Header{Name: "new/deep/file", Typeflag: tar.TypeReg, Mode: 0o600},
	)
	if err := wt.addArtifacts(bytes.NewReader(dep)); err != nil {
		t.Fatal(err)
	}
	if err := wt.close(); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(out.Bytes()))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Uname != "" || len(h.PAXRecords) > 0 {
			t.Errorf("%s: owner or attributes kept: %+v", h.Name, h)
		}
		if h.Mode&^0o777 != 0 {
			t.Errorf("%s: mode %o keeps special bits", h.Name, h.Mode)
		}
	}
	want := "project/ project/dist/ project/dist/app=dist/app " + // the source
		"project/dist/ project/dist/app=dist/app project/dist/hard->project/dist/app project/dist/up->../dist/app project/new/deep/file=new/deep/file"
	if got := listTar(t, bytes.NewReader(out.Bytes()), false); got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	// Directories stay usable: owner rwx is added.
	if got := listTar(t, bytes.NewReader(out.Bytes()), true); !strings.Contains(got, "project/dist/ 0700") {
		t.Errorf("dependency directory mode not made owner-writable: %s", got)
	}
}

func TestWorkspaceTarRefusesUnsafeArtifacts(t *testing.T) {
	dir := func(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644} }
	link := func(n, to string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to} }
	hard := func(n, to string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: to} }
	cases := map[string]struct {
		entries []*tar.Header
		bad     string // the entry refused: nothing from it on may be written
		why     string
	}{
		"dot-dot":                   {[]*tar.Header{file("ok"), file("../evil")}, "../evil", "leaves the workspace"},
		"dot-dot inside":            {[]*tar.Header{file("a/../../evil")}, "a/../../evil", "leaves the workspace"},
		"absolute":                  {[]*tar.Header{file("/abs")}, "/abs", "leaves the workspace"},
		"absolute link":             {[]*tar.Header{link("etc", "/etc"), file("etc/evil")}, "etc", "symlink target \"/etc\" leaves"},
		"link climbing out":         {[]*tar.Header{link("up", "..")}, "up", "leaves the workspace"},
		"link with dot-dot inside":  {[]*tar.Header{dir("a/"), link("a/l", "b/../../..")}, "a/l", "leaves the workspace"},
		"write through inside link": {[]*tar.Header{dir("sub/"), link("sub/in", ".."), file("sub/in/evil")}, "sub/in/evil", "parent \"sub/in\" is a symbolic link"},
		"write through source link": {[]*tar.Header{file("lib/x")}, "lib/x", "parent \"lib\" is a symbolic link"},
		"replace a directory":       {[]*tar.Header{dir("out/"), link("out", "elsewhere")}, "out", "would replace a directory"},
		"replace source directory":  {[]*tar.Header{file("src")}, "src", "would replace a directory"},
		"hard link out":             {[]*tar.Header{hard("h", "../../etc/passwd")}, "h", "leaves the workspace"},
		"hard link to nothing":      {[]*tar.Header{hard("h", "missing")}, "h", "not a regular file"},
		"hard link to a directory":  {[]*tar.Header{dir("d/"), hard("h", "d")}, "h", "not a regular file"},
		"hard link through link":    {[]*tar.Header{hard("h", "lib/libc.so")}, "h", "parent \"lib\" is a symbolic link"},
		"device":                    {[]*tar.Header{{Name: "dev", Typeflag: tar.TypeChar}}, "dev", "not allowed"},
		"fifo":                      {[]*tar.Header{{Name: "fifo", Typeflag: tar.TypeFifo}}, "fifo", "not allowed"},
		"file named dot":            {[]*tar.Header{file(".")}, ".", "workspace itself"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			wt, err := newWorkspaceTar(&out, "project")
			if err != nil {
				t.Fatal(err)
			}
			src := tarOf(t, false, dir("src/"), file("src/main.go"), link("lib", "/usr/lib"))
			if err := wt.addSource(bytes.NewReader(src)); err != nil {
				t.Fatal(err)
			}
			_ = wt.tw.Flush()
			before := len(entryNames(t, out.Bytes()))
			err = wt.addArtifacts(bytes.NewReader(tarOf(t, true, tc.entries...)))
			if !errors.Is(err, source.ErrUnsafePath) || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), `"`+tc.bad+`"`) {
				t.Fatalf("err = %v, want ErrUnsafePath naming %q: %s", err, tc.bad, tc.why)
			}
			// The entries before the refused one reached the copy; it and
			// what follows did not.
			_ = wt.tw.Flush()
			names := entryNames(t, out.Bytes())
			bad := slices.IndexFunc(tc.entries, func(h *tar.Header) bool { return h.Name == tc.bad })
			if got := len(names) - before; got != bad {
				t.Errorf("%d dependency entries written, want the %d before the refused one: %q", got, bad, names[before:])
			}
		})
	}
}

// FuzzWorkspaceTarArtifacts checks, for any dependency archive, that what
// addArtifacts lets through stays in the workspace: names under it, links
// inside it, nothing beneath a link.
func FuzzWorkspaceTarArtifacts(f *testing.F) {
	f.Add(tarOf(f, false, &tar.Header{Name: "a/b", Typeflag: tar.TypeReg}))
	f.Add(tarOf(f, true, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "."},
		&tar.Header{Name: "l/x", Typeflag: tar.TypeReg}))
	f.Add(tarOf(f, false, &tar.Header{Name: "d/", Typeflag: tar.TypeDir},
		&tar.Header{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "../d"},
		&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "d/l"}))
	f.Fuzz(func(t *testing.T, archive []byte) {
		var out bytes.Buffer
		wt, err := newWorkspaceTar(&out, "project")
		if err != nil {
			t.Fatal(err)
		}
		_ = wt.addArtifacts(bytes.NewReader(archive))
		_ = wt.tw.Flush()
		links := map[string]bool{}
		tr := tar.NewReader(bytes.NewReader(out.Bytes()))
		for {
			h, err := tr.Next()
			if err != nil {
				return
			}
			name := path.Clean(h.Name)
			if name == "project" || name == "." {
				continue
			}
			rel, ok := strings.CutPrefix(name, "project/")
			if !ok || rel == ".." || strings.HasPrefix(rel, "../") {
				t.Fatalf("entry %q leaves the workspace", h.Name)
			}
			for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
				if links[dir] {
					t.Fatalf("entry %q beneath link %q", h.Name, dir)
				}
			}
			switch h.Typeflag {
			case tar.TypeSymlink:
				if !executor.LinkStaysInside(rel, h.Linkname) {
					t.Fatalf("link %q -> %q leaves the workspace", h.Name, h.Linkname)
				}
				links[rel] = true
			case tar.TypeLink:
				if !strings.HasPrefix(h.Linkname, "project/") {
					t.Fatalf("hard link %q -> %q leaves the workspace", h.Name, h.Linkname)
				}
			}
		}
	})
}
