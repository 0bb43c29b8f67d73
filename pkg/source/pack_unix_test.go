//go:build unix

package source

import (
	"bytes"
	"path/filepath"
	"syscall"
	"testing"
)

func TestPackSkipsSpecialFiles(t *testing.T) {
	src := t.TempDir()
	mkTree(t, src, file("keep", 0o644, "x"))
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var buf bytes.Buffer
	st, err := Pack(t.Context(), src, &buf, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hdrs := readHeaders(t, buf.Bytes())
	if len(hdrs) != 1 || hdrs[0].Name != "keep" || st.Files != 1 {
		t.Errorf("packed %d entries (%+v), want only keep", len(hdrs), st)
	}
}
