package submit

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Bounds on what a source archive's index holds: file names for `exists:`
// and wildcard includes, and the YAML files `include: local` may read.
const (
	maxTreeFiles     = 200_000
	maxIncludeBytes  = 1 << 20  // one included file
	maxIncludesTotal = 32 << 20 // all YAML files kept
)

// tree is the index of a submitted source archive.
type tree struct {
	files []string          // regular files, slash-separated, sorted
	yaml  map[string][]byte // contents of the .yml/.yaml files
	sums  map[string]string // sha256 of every regular file, for cache:key:files
	// skipped names YAML files not kept (too large, or over the total).
	skipped map[string]bool
}

// readTree indexes a tar.gz source archive in one pass.
func readTree(r io.Reader) (*tree, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("source archive: %w", err)
	}
	defer zr.Close()
	t := &tree{yaml: map[string][]byte{}, skipped: map[string]bool{}, sums: map[string]string{}}
	total := 0
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("source archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue
		}
		if len(t.files) >= maxTreeFiles {
			return nil, fmt.Errorf("source archive: more than %d files; submit a smaller tree", maxTreeFiles)
		}
		t.files = append(t.files, name)
		sum := sha256.New()
		body := io.TeeReader(tr, sum)
		if ext := path.Ext(name); ext == ".yml" || ext == ".yaml" {
			if h.Size > maxIncludeBytes || total+int(h.Size) > maxIncludesTotal {
				t.skipped[name] = true
			} else {
				b, err := io.ReadAll(io.LimitReader(body, maxIncludeBytes+1))
				if err != nil {
					return nil, fmt.Errorf("source archive: %s: %w", name, err)
				}
				total += len(b)
				t.yaml[name] = b
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, fmt.Errorf("source archive: %s: %w", name, err)
		}
		t.sums[name] = hex.EncodeToString(sum.Sum(nil))
	}
	slices.Sort(t.files)
	return t, nil
}

// ReadFile serves `include: local`.
func (t *tree) ReadFile(name string) ([]byte, error) {
	if b, ok := t.yaml[name]; ok {
		return b, nil
	}
	if t.skipped[name] {
		return nil, fmt.Errorf("%s is larger than the %d bytes an included file may have", name, maxIncludeBytes)
	}
	if _, found := slices.BinarySearch(t.files, name); found {
		return nil, fmt.Errorf("%s: included files must be .yml or .yaml", name)
	}
	return nil, fmt.Errorf("%s is not in the submitted source: %w", name, fs.ErrNotExist)
}

// ListFiles lists the regular files.
func (t *tree) ListFiles() ([]string, error) { return t.files, nil }

// exists answers `rules:exists` globs.
func (t *tree) exists(match func(pattern, name string) bool) func(string) bool {
	return func(glob string) bool {
		return slices.ContainsFunc(t.files, func(f string) bool { return match(glob, f) })
	}
}
