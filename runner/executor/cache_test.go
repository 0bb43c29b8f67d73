package executor

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRestoreCachesFallsBackAndNeverFails(t *testing.T) {
	good := tarGz(t, map[string]string{".deps/a.txt": "a"})
	store := map[string][]byte{"fallback": good, "damaged": good[:len(good)/2]}
	job := &Job{
		Caches: []Cache{
			{Keys: []string{"missing", "fallback"}, Paths: []string{".deps/"}},
			{Keys: []string{"damaged"}, Paths: []string{"x/"}},
			{Keys: []string{"fallback"}, Policy: "push"}, // push only: not restored
		},
		OpenCache: func(_ context.Context, key string) (io.ReadCloser, error) {
			b, ok := store[key]
			if !ok {
				return nil, fmt.Errorf("cache %s: %w", key, ErrNoCache)
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		},
	}
	var unpacked []int
	var log strings.Builder
	err := RestoreCaches(context.Background(), job, &log, func(_ context.Context, r io.Reader) error {
		b, err := io.ReadAll(r)
		unpacked = append(unpacked, len(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(unpacked) != 1 || unpacked[0] != len(good) {
		t.Errorf("unpacked %v, want only the fallback archive whole (%d bytes)", unpacked, len(good))
	}
	for _, want := range []string{"Checking cache for missing...", "Successfully extracted cache fallback", "WARNING: Failed to extract cache damaged: damaged archive"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestSaveCachesHonoursPolicyAndWhen(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".deps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".deps", "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := map[string]int{}
	job := &Job{
		Caches: []Cache{
			{Keys: []string{"main"}, Paths: []string{".deps/"}},
			{Keys: []string{"pull-only"}, Paths: []string{".deps/"}, Policy: "pull"},
			{Keys: []string{"on-failure"}, Paths: []string{".deps/"}, When: "on_failure"},
			{Keys: []string{"broken"}, Paths: []string{".deps/"}, When: "always"},
		},
		UploadCache: func(_ context.Context, key string, r io.Reader) error {
			b, err := io.ReadAll(r)
			if key == "broken" {
				return errors.New("coordinator gone")
			}
			saved[key] = len(b)
			return err
		},
	}
	var log strings.Builder
	res := Result{Outcome: OutcomeSuccess}
	SaveCaches(context.Background(), job, res, dir, &log, func(ctx context.Context, c *ArtifactCollector) error {
		return CollectDir(ctx, dir, c)
	})
	if len(saved) != 1 || saved["main"] == 0 {
		t.Errorf("saved %v, want only main (pull-only and on_failure skipped on success)", saved)
	}
	if !strings.Contains(log.String(), "Created cache main") || !strings.Contains(log.String(), "WARNING: Failed to upload cache broken") {
		t.Errorf("log:\n%s", log.String())
	}
}
