package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FS is a filesystem blob store: one file per blob under a directory.
// Writes go to a temporary file renamed into place, so readers never see
// a partial blob.
type FS struct {
	dir string
}

// NewFS returns a store rooted at dir, creating it.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("blob store %s: %w", dir, err)
	}
	return &FS{dir: dir}, nil
}

func (f *FS) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(f.dir, filepath.FromSlash(key)), nil
}

// String describes the store for logs.
func (f *FS) String() string { return "filesystem " + f.dir }

// PutContentAddressed stores r under prefix/<sha256><suffix>, returning its
// digest. Identical contents share one blob. At most maxBytes are accepted
// (0 means no limit).
func (f *FS) PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (PutResult, error) {
	if err := checkContentKey(prefix, suffix); err != nil {
		return PutResult{}, err
	}
	return f.put(ctx, r, maxBytes, func(sum string) string { return contentKey(prefix, suffix, sum) })
}

// Put stores r under key, replacing what was there once r is wholly
// written (readers never see a partial blob). At most maxBytes are
// accepted (0 means no limit).
func (f *FS) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (PutResult, error) {
	if err := checkKey(key); err != nil {
		return PutResult{}, err
	}
	return f.put(ctx, r, maxBytes, func(string) string { return key })
}

func (f *FS) put(ctx context.Context, r io.Reader, maxBytes int64, name func(sum string) string) (PutResult, error) {
	tmp, err := os.CreateTemp(filepath.Join(f.dir, tmpDir), "put-*")
	if err != nil {
		return PutResult{}, fmt.Errorf("create temp blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	m := newMeter(ctx, r, maxBytes)
	_, err = io.Copy(tmp, m)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if m.tooLarge {
		return PutResult{}, m.errTooLarge()
	}
	if err != nil {
		return PutResult{}, fmt.Errorf("write blob: %w", err)
	}
	res := m.result()
	p, err := f.path(name(res.SHA256))
	if err != nil {
		return PutResult{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return PutResult{}, fmt.Errorf("blob dir: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return PutResult{}, fmt.Errorf("store blob: %w", err)
	}
	return res, nil
}

// Open opens the blob at key.
func (f *FS) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return file, nil
}

// Delete removes the blob at key. Removing a missing blob is not an
// error, as in S3, so a collector can retry.
func (f *FS) Delete(_ context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// List yields the blobs whose keys start with prefix, in no guaranteed
// order; blobs being written are not listed.
func (f *FS) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		// Only the directory the prefix names can hold matches.
		root := f.dir
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			root = filepath.Join(f.dir, filepath.FromSlash(path.Clean(prefix[:i])))
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			rel, rerr := filepath.Rel(f.dir, p)
			if rerr != nil {
				return rerr
			}
			key := filepath.ToSlash(rel)
			if d.IsDir() {
				if key == tmpDir || (key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
				return nil
			}
			fi, ierr := d.Info()
			if errors.Is(ierr, fs.ErrNotExist) {
				return nil // deleted meanwhile
			}
			if ierr != nil {
				return ierr
			}
			if !yield(Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(Info{}, fmt.Errorf("list blobs under %q: %w", prefix, err))
		}
	}
}
