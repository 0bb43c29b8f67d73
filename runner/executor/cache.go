package executor

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// RestoreCaches restores each cache the job pulls: the first of its keys
// that has a cache is downloaded to a temporary file, checked as a whole
// (so unpack never sees a truncated archive), then handed to unpack, which
// must treat it as hostile (another job wrote it). Every failure is a
// warning: the job runs without that cache. Only a cancellation is
// returned.
func RestoreCaches(ctx context.Context, job *Job, log io.Writer, unpack func(ctx context.Context, archive io.Reader) error) error {
	for _, c := range job.Caches {
		if c.Policy == "push" || len(c.Keys) == 0 {
			continue
		}
		if job.OpenCache == nil {
			fmt.Fprintln(log, "WARNING: this runner cannot download caches; the job runs without them")
			return nil
		}
		restored := false
		for _, key := range c.Keys {
			fmt.Fprintf(log, "Checking cache for %s...\n", key)
			err := restoreCache(ctx, job, key, unpack)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, ErrNoCache):
				continue
			case err != nil:
				fmt.Fprintf(log, "WARNING: Failed to extract cache %s: %v\n", key, err)
				continue
			}
			fmt.Fprintf(log, "Successfully extracted cache %s\n", key)
			restored = true
			break
		}
		if !restored {
			fmt.Fprintf(log, "WARNING: no cache found for %s; the job runs without it\n", c.Keys[0])
		}
	}
	return nil
}

func restoreCache(ctx context.Context, job *Job, key string, unpack func(context.Context, io.Reader) error) error {
	rc, err := job.OpenCache(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "gantry-cache-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, ctxReader{ctx, rc}); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if err := checkArchive(tmp); err != nil {
		return fmt.Errorf("damaged archive: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return unpack(ctx, tmp)
}

// checkArchive reads a gzip-compressed tar to its end.
func checkArchive(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		if _, err := tr.Next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return err
		}
	}
}

// SaveCaches saves each cache the job pushes whose When matches the
// outcome, collecting its paths like artifacts (collect is the executor's
// collector). Failures are warnings; the result never changes.
func SaveCaches(ctx context.Context, job *Job, res Result, workdir string, log io.Writer,
	collect func(ctx context.Context, c *ArtifactCollector) error) {
	for _, c := range job.Caches {
		if c.Policy == "pull" || len(c.Keys) == 0 || !ArtifactsWanted(&Artifacts{When: c.When}, res.Outcome) || ctx.Err() != nil {
			continue
		}
		key := c.Keys[0]
		fmt.Fprintf(log, "Creating cache %s...\n", key)
		if job.UploadCache == nil {
			fmt.Fprintln(log, "WARNING: this runner cannot upload caches")
			return
		}
		upload := func(ctx context.Context, r io.Reader) error { return job.UploadCache(ctx, key, r) }
		st := streamCollection(ctx, &Artifacts{Paths: c.Paths, Untracked: c.Untracked}, workdir, log, job.MaxArtifactBytes, upload, collect, nil)
		switch {
		case st.collectErr != nil:
			fmt.Fprintf(log, "WARNING: Failed to create cache %s: %v\n", key, st.collectErr)
		case st.uploadErr != nil:
			fmt.Fprintf(log, "WARNING: Failed to upload cache %s: %v\n", key, st.uploadErr)
		case !st.started:
			fmt.Fprintf(log, "WARNING: cache %s: no matching files; nothing saved\n", key)
		default:
			fmt.Fprintf(log, "Created cache %s (%s)\n", key, formatBytes(st.bytes))
		}
	}
}
