package source

import (
	"archive/tar"
	"bytes"
	"testing"
)

// fuzzSeeds are hostile and benign archives, each both compressed and plain:
// the fuzzer mutates plain tars far more productively, since a mutated gzip
// stream mostly fails its checksum.
var fuzzSeeds = [][]entry{
	{tarFile("../evil", "x")},
	{tarFile("/abs", "x")},
	{tarFile("a/../../evil", "x")},
	{tarSymlink("link", "/etc"), tarFile("link/passwd", "x")},
	{tarSymlink("up", "../.."), tarFile("up/x", "x")},
	{tarSymlink("r", "."), tarSymlink("t", "r/.."), tarFile("t/x", "x")},
	{tarDir("sub/", 0o755), tarSymlink("inner", "sub"), tarFile("inner/x", "x")},
	{tarDir("a/", 0o755), tarSymlink("a", "b"), tarFile("a/x", "x")},
	{tarHardlink("h", "../x")},
	{tarFile("f", "orig"), tarHardlink("h", "f"), tarFile("h", "new")},
	{tarSpecial(tar.TypeChar, "null")},
	{tarSpecial(tar.TypeFifo, "pipe")},
	{tarDir("./", 0o755), tarFile("./x", "x"), tarSymlink("sub/l", "../x"), tarSymlink("d", "nowhere")},
	{tarDir("ro/", 0o555), tarFileMode("ro/setuid", "x", 0o4755)},
}

func addSeeds(f *testing.F) {
	for _, entries := range fuzzSeeds {
		for _, gz := range []bool{false, true} {
			f.Add(archive(f, gz, entries...))
		}
	}
	var packed bytes.Buffer
	if _, err := Pack(f.Context(), sourceTree(f), &packed, PackOptions{}); err != nil {
		f.Fatal(err)
	}
	f.Add(packed.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("not an archive"))
}

// FuzzUnpack feeds arbitrary bytes to Unpack: whatever it returns, it must
// not panic, write anything outside the destination, or leave a symlink that
// resolves outside it.
func FuzzUnpack(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, out, _ := sandbox(t)
		_ = Unpack(t.Context(), bytes.NewReader(data), out, UnpackOptions{MaxBytes: 1 << 20})
		checkConfined(t, parent)
	})
}

// FuzzUnpackEntries builds well-formed archives from fuzzed entry types, names
// and link targets, reaching the path and link rules far faster than byte
// mutations of a tar stream do.
func FuzzUnpackEntries(f *testing.F) {
	f.Add(byte(tar.TypeSymlink), "r", ".", byte(tar.TypeSymlink), "t", "r/..", byte(tar.TypeReg), "t/x", "")
	f.Add(byte(tar.TypeSymlink), "a/l", "..", byte(tar.TypeSymlink), "a/l/m", "..", byte(tar.TypeReg), "a/l/m/x", "")
	f.Add(byte(tar.TypeDir), "d", "", byte(tar.TypeSymlink), "d", "../x", byte(tar.TypeLink), "h", "d")
	f.Add(byte(tar.TypeReg), "f", "", byte(tar.TypeLink), "g", "f", byte(tar.TypeSymlink), "f", "g")
	f.Fuzz(func(t *testing.T, t1 byte, n1, l1 string, t2 byte, n2, l2 string, t3 byte, n3, l3 string) {
		var entries []entry
		for _, e := range []struct {
			typ        byte
			name, link string
		}{{t1, n1, l1}, {t2, n2, l2}, {t3, n3, l3}} {
			// Keep to the types Unpack extracts; the rest are refused
			// before any path logic runs.
			typ := []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink}[int(e.typ)%4]
			hdr := tar.Header{Typeflag: typ, Name: e.name, Mode: 0o755}
			body := ""
			switch typ {
			case tar.TypeReg:
				body = e.link
				hdr.Size = int64(len(body))
			case tar.TypeSymlink, tar.TypeLink:
				hdr.Linkname = e.link
			}
			entries = append(entries, entry{hdr: hdr, body: body})
		}
		data, err := buildArchive(false, entries...)
		if err != nil {
			t.Skip(err)
		}
		parent, out, _ := sandbox(t)
		_ = Unpack(t.Context(), bytes.NewReader(data), out, UnpackOptions{MaxBytes: 1 << 20})
		checkConfined(t, parent)
	})
}
