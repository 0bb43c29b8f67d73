// Package blob stores byte blobs (run sources, artifacts, caches; reports
// and archived logs later) outside etcd, addressed by key. Two backends
// have the same methods: FS keeps blobs in a directory (by default under
// the coordinator's data dir), S3 in a bucket of any S3-compatible object
// store, so that several coordinators share them. Open picks one from the
// configuration. Blobs are streamed both ways: nothing holds a whole blob
// in memory. Their metadata (names, sizes, digests, owners) lives in etcd,
// recorded by the callers.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"
)

// ErrNotFound means no blob has the key.
var ErrNotFound = errors.New("blob not found")

// ErrTooLarge means a blob exceeded the size limit it was written under.
var ErrTooLarge = errors.New("blob too large")

// tmpDir holds blobs being written; keys never start with it.
const tmpDir = ".tmp"

// PutResult describes a stored blob.
type PutResult struct {
	Size   int64
	SHA256 string
}

// Info describes a blob found by List.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// checkKey refuses keys that are not clean relative slash paths, or that
// fall under the temporary area.
func checkKey(key string) error {
	if key == "" || path.Clean("/"+key) != "/"+key || strings.Contains(key, `\`) ||
		key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return fmt.Errorf("invalid blob key %q", key)
	}
	return nil
}

// checkPrefix refuses List prefixes that could leave the store: a prefix
// is matched as a string ("artifacts/" or "caches/ab"), so only absolute
// paths and ".." segments are refused.
func checkPrefix(prefix string) error {
	if strings.HasPrefix(prefix, "/") || strings.Contains(prefix, `\`) {
		return fmt.Errorf("invalid blob prefix %q", prefix)
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		if seg == ".." {
			return fmt.Errorf("invalid blob prefix %q", prefix)
		}
	}
	return nil
}

// contentKey is where PutContentAddressed stores a blob with digest sum.
func contentKey(prefix, suffix, sum string) string {
	return prefix + "/" + sum + suffix
}

// checkContentKey checks, before anything is written, that prefix and
// suffix make valid keys.
func checkContentKey(prefix, suffix string) error {
	return checkKey(contentKey(prefix, suffix, strings.Repeat("0", sha256.Size*2)))
}

// meter is the reader a put consumes: it hashes and counts the bytes
// that pass, stops with ErrTooLarge at the first byte beyond max (0: no
// limit) and with ctx's error once ctx ends. Both backends write through
// it, so the digest and the limit are enforced while streaming.
type meter struct {
	ctx      context.Context
	r        io.Reader
	max      int64
	n        int64
	h        hash.Hash
	tooLarge bool
}

func newMeter(ctx context.Context, r io.Reader, max int64) *meter {
	return &meter{ctx: ctx, r: r, max: max, h: sha256.New()}
}

func (m *meter) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	if m.tooLarge {
		return 0, m.errTooLarge()
	}
	if m.max > 0 && int64(len(p)) > m.max-m.n+1 {
		// One byte beyond the limit is enough to know it is exceeded.
		p = p[:m.max-m.n+1]
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.h.Write(p[:n])
	if m.max > 0 && m.n > m.max {
		m.tooLarge = true
		return n, m.errTooLarge()
	}
	return n, err
}

func (m *meter) errTooLarge() error {
	return fmt.Errorf("%w: more than the %d byte limit", ErrTooLarge, m.max)
}

func (m *meter) result() PutResult {
	return PutResult{Size: m.n, SHA256: hex.EncodeToString(m.h.Sum(nil))}
}
