package docker

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
)

func tarOf(t *testing.T, gz bool, entries ...*tar.Header) []byte {
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

func TestRerootTar(t *testing.T) {
	dirs, err := dirTar("group/project")
	if err != nil {
		t.Fatal(err)
	}
	for _, gz := range []bool{true, false} {
		src := tarOf(t, gz,
			&tar.Header{Name: "src/", Typeflag: tar.TypeDir, Mode: 0o755},
			&tar.Header{Name: "src/main.go", Typeflag: tar.TypeReg, Mode: 0o644},
			&tar.Header{Name: "./README", Typeflag: tar.TypeReg, Mode: 0o644},
			&tar.Header{Name: "link", Typeflag: tar.TypeLink, Linkname: "src/main.go"},
		)
		var out bytes.Buffer
		if err := rerootTar(&out, dirs.Bytes(), "group/project", bytes.NewReader(src)); err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		var names []string
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n := h.Name
			if h.Typeflag == tar.TypeLink {
				n += "->" + h.Linkname
			}
			if h.Typeflag == tar.TypeReg {
				body, _ := io.ReadAll(tr)
				n += "=" + string(body)
			}
			names = append(names, n)
		}
		want := "group/ group/project/ group/project/src/ group/project/src/main.go=src/main.go group/project/README=./README group/project/link->group/project/src/main.go"
		if got := strings.Join(names, " "); got != want {
			t.Errorf("gz=%v entries:\n got %s\nwant %s", gz, got, want)
		}
	}
}

func TestRerootTarRefusesEscapes(t *testing.T) {
	dirs, _ := dirTar("project")
	for _, h := range []*tar.Header{
		{Name: "../evil", Typeflag: tar.TypeReg},
		{Name: "/etc/passwd", Typeflag: tar.TypeReg},
		{Name: "a/../../evil", Typeflag: tar.TypeReg},
		{Name: "ok", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"},
	} {
		err := rerootTar(io.Discard, dirs.Bytes(), "project", bytes.NewReader(tarOf(t, true, h)))
		if err == nil || !strings.Contains(err.Error(), "leaves the workspace") {
			t.Errorf("%s -> %s: err %v, want refusal", h.Name, h.Linkname, err)
		}
	}
}
