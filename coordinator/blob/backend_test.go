package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/blob/s3test"
)

// store is every method both backends have.
type store interface {
	PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (PutResult, error)
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (PutResult, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
}

var (
	_ store = (*FS)(nil)
	_ store = (*S3)(nil)
	_ store = (*Store)(nil)
)

// backendUnderTest is a fresh, empty store of one backend.
type backendUnderTest struct {
	store
	// stored lists everything the backend holds, as keys, temporary
	// objects and unfinished uploads included ("upload:" + key), so that
	// a case can check nothing partial was left.
	stored func(t *testing.T) []string
}

// forEachBackend runs f against each backend, with a new store per call
// of fresh. The S3 backend runs against a real server (skipped, or failed
// under CI=true, when its binary is missing).
func forEachBackend(t *testing.T, f func(t *testing.T, fresh func(t *testing.T) backendUnderTest)) {
	t.Run("fs", func(t *testing.T) {
		f(t, func(t *testing.T) backendUnderTest {
			dir := t.TempDir()
			s, err := NewFS(dir)
			if err != nil {
				t.Fatal(err)
			}
			return backendUnderTest{store: s, stored: func(t *testing.T) []string { return filesUnder(t, dir) }}
		})
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Start(t)
		n := 0
		f(t, func(t *testing.T) backendUnderTest {
			n++
			bucket := fmt.Sprintf("blobs-%d", n)
			srv.CreateBucket(t, bucket)
			s, err := NewS3(context.Background(), S3Config{
				Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "gantry/ci", Insecure: true, PathStyle: true,
				AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			}, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			return backendUnderTest{store: s, stored: func(t *testing.T) []string {
				var keys []string
				for _, k := range srv.Objects(t, bucket, "") {
					rel, ok := strings.CutPrefix(k, "gantry/ci/")
					if !ok {
						t.Errorf("object %q outside the prefix", k)
					}
					keys = append(keys, rel)
				}
				for _, k := range srv.IncompleteUploads(t, bucket) {
					keys = append(keys, "upload:"+k)
				}
				slices.Sort(keys)
				return keys
			}}
		})
	})
}

// filesUnder lists the regular files under dir as slash paths.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readBlob(t *testing.T, s store, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func listKeys(t *testing.T, s store, prefix string) []string {
	t.Helper()
	var keys []string
	for info, err := range s.List(context.Background(), prefix) {
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		keys = append(keys, info.Key)
	}
	slices.Sort(keys)
	return keys
}

func wantStored(t *testing.T, b backendUnderTest, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := b.stored(t); !slices.Equal(got, want) {
		t.Errorf("backend holds %q, want %q", got, want)
	}
}

// cancelingReader serves n bytes of data, then cancels the upload's
// context (as a client going away does) and fails from then on.
type cancelingReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	r      io.Reader
	n      int64
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		<-c.ctx.Done()
		return 0, c.ctx.Err()
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// The same cases for both backends.
func TestBackends(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, b backendUnderTest)
	}{
		{"round trip byte for byte", func(t *testing.T, b backendUnderTest) {
			data := randomBytes(300<<10+7, 1)
			res, err := b.Put(ctx, "caches/k.tar.gz", bytes.NewReader(data), 0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Size != int64(len(data)) || res.SHA256 != digest(data) {
				t.Errorf("put result %+v, want %d bytes %s", res, len(data), digest(data))
			}
			if got := readBlob(t, b, "caches/k.tar.gz"); !bytes.Equal(got, data) {
				t.Errorf("read %d bytes back, not the %d written", len(got), len(data))
			}
			// Put replaces.
			data2 := randomBytes(1000, 2)
			if _, err := b.Put(ctx, "caches/k.tar.gz", bytes.NewReader(data2), 0); err != nil {
				t.Fatal(err)
			}
			if got := readBlob(t, b, "caches/k.tar.gz"); !bytes.Equal(got, data2) {
				t.Errorf("after replacing, read %d bytes, want the new %d", len(got), len(data2))
			}
			// An empty blob is a blob.
			empty, err := b.PutContentAddressed(ctx, "sources", ".tar.gz", strings.NewReader(""), 0)
			if err != nil || empty.Size != 0 || empty.SHA256 != digest(nil) {
				t.Fatalf("empty put: %+v %v", empty, err)
			}
			if got := readBlob(t, b, "sources/"+digest(nil)+".tar.gz"); len(got) != 0 {
				t.Errorf("empty blob read %d bytes", len(got))
			}
			wantStored(t, b, "caches/k.tar.gz", "sources/"+digest(nil)+".tar.gz")
		}},
		{"content addressing stores identical bytes once", func(t *testing.T, b backendUnderTest) {
			data, other := randomBytes(70<<10, 3), randomBytes(70<<10, 4)
			for i, d := range [][]byte{data, data, other} {
				res, err := b.PutContentAddressed(ctx, "artifacts", ".tar.gz", bytes.NewReader(d), 1<<20)
				if err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
				if res.SHA256 != digest(d) || res.Size != int64(len(d)) {
					t.Errorf("put %d: %+v", i, res)
				}
			}
			k1, k2 := "artifacts/"+digest(data)+".tar.gz", "artifacts/"+digest(other)+".tar.gz"
			wantStored(t, b, k1, k2)
			if got := readBlob(t, b, k1); !bytes.Equal(got, data) {
				t.Error("content-addressed blob differs from what was written")
			}
		}},
		{"size limit is ErrTooLarge and leaves nothing partial", func(t *testing.T, b backendUnderTest) {
			const limit = 4096
			at := randomBytes(limit, 5)
			if _, err := b.PutContentAddressed(ctx, "artifacts", ".tar.gz", bytes.NewReader(at), limit); err != nil {
				t.Fatalf("a blob of exactly the limit: %v", err)
			}
			_, err := b.PutContentAddressed(ctx, "artifacts", ".tar.gz", bytes.NewReader(randomBytes(limit+1, 6)), limit)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("one byte over the limit: %v, want ErrTooLarge", err)
			}
			// Over the limit in a later part of a multipart upload too.
			_, err = b.PutContentAddressed(ctx, "artifacts", ".tar.gz", bytes.NewReader(randomBytes(9<<20, 7)), 8<<20+100)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("9 MiB under an 8 MiB limit: %v, want ErrTooLarge", err)
			}
			old := []byte("the previous cache")
			if _, err := b.Put(ctx, "caches/c", bytes.NewReader(old), limit); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Put(ctx, "caches/c", bytes.NewReader(randomBytes(3*limit, 8)), limit); !errors.Is(err, ErrTooLarge) {
				t.Errorf("put over the limit: %v, want ErrTooLarge", err)
			}
			if got := readBlob(t, b, "caches/c"); !bytes.Equal(got, old) {
				t.Errorf("a refused put changed the blob: %q", got)
			}
			wantStored(t, b, "artifacts/"+digest(at)+".tar.gz", "caches/c")
		}},
		{"missing keys and bad keys", func(t *testing.T, b backendUnderTest) {
			if _, err := b.Open(ctx, "artifacts/none.tar.gz"); !errors.Is(err, ErrNotFound) {
				t.Errorf("open of a missing key: %v, want ErrNotFound", err)
			}
			for _, key := range []string{"", "/abs", "a/../b", "a//b", "a/", ".tmp/x", `a\b`} {
				if _, err := b.Open(ctx, key); err == nil || errors.Is(err, ErrNotFound) {
					t.Errorf("open %q: %v, want an invalid key error", key, err)
				}
				if _, err := b.Put(ctx, key, strings.NewReader("x"), 0); err == nil {
					t.Errorf("put %q accepted", key)
				}
			}
			if _, err := b.PutContentAddressed(ctx, "../up", ".tar.gz", strings.NewReader("x"), 0); err == nil {
				t.Error("content-addressed put with prefix ../up accepted")
			}
			wantStored(t, b)
		}},
		{"delete", func(t *testing.T, b backendUnderTest) {
			if _, err := b.Put(ctx, "caches/gone", strings.NewReader("bytes"), 0); err != nil {
				t.Fatal(err)
			}
			if err := b.Delete(ctx, "caches/gone"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Open(ctx, "caches/gone"); !errors.Is(err, ErrNotFound) {
				t.Errorf("open after delete: %v, want ErrNotFound", err)
			}
			if err := b.Delete(ctx, "caches/gone"); err != nil {
				t.Errorf("deleting a missing blob: %v, want nil", err)
			}
			if err := b.Delete(ctx, "../x"); err == nil {
				t.Error("delete of ../x accepted")
			}
			wantStored(t, b)
		}},
		{"list by prefix", func(t *testing.T, b backendUnderTest) {
			for _, k := range []string{"a/1", "a/2", "ab/3", "b/4"} {
				if _, err := b.Put(ctx, k, strings.NewReader(k), 0); err != nil {
					t.Fatal(err)
				}
			}
			for prefix, want := range map[string][]string{
				"a/": {"a/1", "a/2"}, "a": {"a/1", "a/2", "ab/3"}, "": {"a/1", "a/2", "ab/3", "b/4"}, "c/": nil,
			} {
				if got := listKeys(t, b, prefix); !slices.Equal(got, want) {
					t.Errorf("list %q: %q, want %q", prefix, got, want)
				}
			}
			for info, err := range b.List(ctx, "b/") {
				if err != nil || info.Key != "b/4" || info.Size != 3 || info.ModTime.IsZero() {
					t.Errorf("list b/: %+v %v", info, err)
				}
			}
			for range b.List(ctx, "") {
				break // stopping early ends the listing (goleak checks)
			}
			for _, err := range b.List(ctx, "../") {
				if err == nil {
					t.Error("list ../ accepted")
				}
			}
		}},
		{"context canceled mid-upload", func(t *testing.T, b backendUnderTest) {
			old := []byte("kept")
			if _, err := b.Put(ctx, "caches/c", bytes.NewReader(old), 0); err != nil {
				t.Fatal(err)
			}
			// 9 MiB: past the first 8 MiB part of an S3 multipart upload.
			for name, put := range map[string]func(context.Context, io.Reader) (PutResult, error){
				"content-addressed": func(ctx context.Context, r io.Reader) (PutResult, error) {
					return b.PutContentAddressed(ctx, "artifacts", ".tar.gz", r, 0)
				},
				"keyed": func(ctx context.Context, r io.Reader) (PutResult, error) { return b.Put(ctx, "caches/c", r, 0) },
			} {
				cctx, cancel := context.WithCancel(ctx)
				r := &cancelingReader{ctx: cctx, cancel: cancel, r: bytes.NewReader(randomBytes(10<<20, 9)), n: 9 << 20}
				if _, err := put(cctx, r); !errors.Is(err, context.Canceled) {
					t.Errorf("%s put canceled mid-upload: %v, want context.Canceled", name, err)
				}
				cancel()
			}
			if got := readBlob(t, b, "caches/c"); !bytes.Equal(got, old) {
				t.Errorf("a canceled put changed the blob: %q", got)
			}
			wantStored(t, b, "caches/c")
		}},
		{"multi-MiB streaming upload", func(t *testing.T, b backendUnderTest) {
			const size = 40<<20 + 12345
			want := sha256.New()
			if _, err := io.Copy(want, io.LimitReader(rand.NewChaCha8([32]byte{42}), size)); err != nil {
				t.Fatal(err)
			}
			sum := hex.EncodeToString(want.Sum(nil))
			res, err := b.PutContentAddressed(ctx, "artifacts", ".tar.gz", io.LimitReader(rand.NewChaCha8([32]byte{42}), size), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if res.Size != size || res.SHA256 != sum {
				t.Fatalf("put %+v, want %d bytes %s", res, size, sum)
			}
			r, err := b.Open(ctx, "artifacts/"+sum+".tar.gz")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := sha256.New()
			n, err := io.Copy(got, r)
			if err != nil || n != size || hex.EncodeToString(got.Sum(nil)) != sum {
				t.Errorf("read back %d bytes (%v), digest match %v", n, err, hex.EncodeToString(got.Sum(nil)) == sum)
			}
			wantStored(t, b, "artifacts/"+sum+".tar.gz")
		}},
	}
	forEachBackend(t, func(t *testing.T, fresh func(t *testing.T) backendUnderTest) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
		}
	})
}

// liveHeap records the largest live heap seen at its probes: it
// collects garbage, then reads what survived.
type liveHeap struct{ max uint64 }

func (l *liveHeap) probe() {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	l.max = max(l.max, m.HeapAlloc)
}

// probingReader probes the live heap every 32 MiB it serves, that is
// while the backend is in the middle of a put.
type probingReader struct {
	r    io.Reader
	heap *liveHeap
	n    int64
}

func (p *probingReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if (p.n+int64(n))>>25 != p.n>>25 {
		p.heap.probe()
	}
	p.n += int64(n)
	return n, err
}

// probingWriter does the same while a blob is read back.
type probingWriter struct {
	heap *liveHeap
	n    int64
}

func (p *probingWriter) Write(b []byte) (int, error) {
	if (p.n+int64(len(b)))>>25 != p.n>>25 {
		p.heap.probe()
	}
	p.n += int64(len(b))
	return len(b), nil
}

// A large blob goes through either backend without being held in memory:
// the live heap in the middle of storing or reading back 256 MiB stays
// far below it (the S3 backend holds one 8 MiB part).
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	const size, budget = 256 << 20, 24 << 20
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, fresh func(t *testing.T) backendUnderTest) {
		b := fresh(t)
		var put, read liveHeap
		res, err := b.PutContentAddressed(ctx, "artifacts", ".tar.gz",
			&probingReader{r: io.LimitReader(rand.NewChaCha8([32]byte{7}), size), heap: &put}, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.Open(ctx, "artifacts/"+res.SHA256+".tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if n, err := io.Copy(&probingWriter{heap: &read}, r); err != nil || n != size {
			t.Fatalf("read back %d bytes: %v", n, err)
		}
		t.Logf("%d MiB: live heap at most %.1f MiB while putting, %.1f MiB while reading", size>>20, float64(put.max)/(1<<20), float64(read.max)/(1<<20))
		if put.max > budget || read.max > budget {
			t.Errorf("live heap reached %d bytes putting and %d reading %d bytes; want under %d", put.max, read.max, size, budget)
		}
	})
}
