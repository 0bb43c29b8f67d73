// Package blob stores byte blobs (run sources today; artifacts, caches and
// reports later) outside etcd, addressed by key. The filesystem backend
// keeps them under the coordinator's data dir.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound means no blob has the key.
var ErrNotFound = errors.New("blob not found")

// ErrTooLarge means a blob exceeded the size limit it was written under.
var ErrTooLarge = errors.New("blob too large")

// FS is a filesystem blob store.
type FS struct {
	dir string
}

// NewFS returns a store rooted at dir, creating it.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(filepath.Join(dir, ".tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("blob store %s: %w", dir, err)
	}
	return &FS{dir: dir}, nil
}

func (f *FS) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if key == "" || clean != "/"+key || strings.HasPrefix(key, ".tmp") {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(f.dir, filepath.FromSlash(key)), nil
}

// PutResult describes a stored blob.
type PutResult struct {
	Size   int64
	SHA256 string
}

// PutContentAddressed stores r under prefix/<sha256><suffix>, returning its
// digest. Identical contents share one blob. At most maxBytes are accepted
// (0 means no limit).
func (f *FS) PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (PutResult, error) {
	return f.put(ctx, r, maxBytes, func(sum string) string { return prefix + "/" + sum + suffix })
}

// Put stores r under key, replacing what was there once r is wholly
// written (readers never see a partial blob). At most maxBytes are
// accepted (0 means no limit).
func (f *FS) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (PutResult, error) {
	return f.put(ctx, r, maxBytes, func(string) string { return key })
}

func (f *FS) put(ctx context.Context, r io.Reader, maxBytes int64, name func(sum string) string) (PutResult, error) {
	tmp, err := os.CreateTemp(filepath.Join(f.dir, ".tmp"), "put-*")
	if err != nil {
		return PutResult{}, fmt.Errorf("create temp blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	src := r
	if maxBytes > 0 {
		src = io.LimitReader(r, maxBytes+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, src})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return PutResult{}, fmt.Errorf("write blob: %w", err)
	}
	if maxBytes > 0 && n > maxBytes {
		return PutResult{}, fmt.Errorf("%w: more than the %d byte limit", ErrTooLarge, maxBytes)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	p, err := f.path(name(sum))
	if err != nil {
		return PutResult{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return PutResult{}, fmt.Errorf("blob dir: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return PutResult{}, fmt.Errorf("store blob: %w", err)
	}
	return PutResult{Size: n, SHA256: sum}, nil
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

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
