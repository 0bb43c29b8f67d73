// Package logstore keeps job logs: one append-only file per attempt, written
// at byte offsets so a runner's resend after a reconnect neither loses nor
// duplicates output, and read by followers who wait for new bytes.
package logstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/gantry-ci/gantry/coordinator/blob"
)

// ErrGap means a chunk starts beyond the stored end: an earlier chunk is
// missing and the writer must resend from the stored size.
var ErrGap = errors.New("log chunk leaves a gap")

// Store is a directory of attempt logs.
type Store struct {
	dir string
	// archive, if set, keeps complete logs for good: in the blob store,
	// where another coordinator (or this one after losing its disk) reads
	// them.
	archive Archive

	mu    sync.Mutex
	files map[string]*logFile
}

type logFile struct {
	mu      sync.Mutex
	size    int64
	changed chan struct{} // closed and replaced on every append
	local   bool          // the file exists on this coordinator's disk
}

// Archive is what the store needs of the blob store.
type Archive interface {
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (blob.PutResult, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// SetArchive makes Complete copy each complete log to a, and reads fall
// back to it for logs this coordinator's disk does not hold.
func (s *Store) SetArchive(a Archive) { s.archive = a }

// archiveKey names an attempt's log in the archive.
func archiveKey(jobID, epoch int64) string { return fmt.Sprintf("logs/%d/%d.log", jobID, epoch) }

// New returns a store in dir.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("log dir %s: %w", dir, err)
	}
	return &Store{dir: dir, files: map[string]*logFile{}}, nil
}

func (s *Store) path(jobID, epoch int64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%d-%d.log", jobID, epoch))
}

func (s *Store) file(jobID, epoch int64) (*logFile, error) {
	p := s.path(jobID, epoch)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.files[p]; ok {
		return f, nil
	}
	var size int64
	local := false
	st, err := os.Stat(p)
	switch {
	case err == nil:
		size, local = st.Size(), true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("stat log: %w", err)
	}
	f := &logFile{size: size, changed: make(chan struct{}), local: local}
	s.files[p] = f
	return f, nil
}

// Append writes data at offset. Bytes already stored are skipped, so a
// resent chunk is harmless; a chunk starting past the end is refused with
// ErrGap. It returns the stored size after the append.
func (s *Store) Append(jobID, epoch, offset int64, data []byte) (int64, error) {
	f, err := s.file(jobID, epoch)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if offset > f.size {
		return f.size, fmt.Errorf("chunk at offset %d, stored size %d: %w", offset, f.size, ErrGap)
	}
	skip := f.size - offset
	if skip >= int64(len(data)) {
		return f.size, nil
	}
	out, err := os.OpenFile(s.path(jobID, epoch), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return f.size, fmt.Errorf("open log: %w", err)
	}
	n, err := out.Write(data[skip:])
	f.size += int64(n)
	f.local = true
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	close(f.changed)
	f.changed = make(chan struct{})
	if err != nil {
		return f.size, fmt.Errorf("append log: %w", err)
	}
	return f.size, nil
}

// Size returns the stored size of an attempt's log.
func (s *Store) Size(jobID, epoch int64) (int64, error) {
	f, err := s.file(jobID, epoch)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size, nil
}

// ReadAt returns up to max bytes of the log from offset, and a channel
// that is closed when more bytes are appended. A log this coordinator's
// disk does not hold is read from the archive, if any.
func (s *Store) ReadAt(ctx context.Context, jobID, epoch, offset int64, max int) ([]byte, <-chan struct{}, error) {
	f, err := s.file(jobID, epoch)
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	size, changed, local := f.size, f.changed, f.local
	f.mu.Unlock()
	if !local && s.archive != nil {
		b, err := s.readArchived(ctx, jobID, epoch, offset, max)
		return b, changed, err
	}
	if offset >= size {
		return nil, changed, nil
	}
	n := min(int64(max), size-offset)
	in, err := os.Open(s.path(jobID, epoch))
	if errors.Is(err, fs.ErrNotExist) && s.archive != nil {
		// Removed from this disk since (cleaned up, or a new disk):
		// the archive has it.
		f.mu.Lock()
		f.local = false
		f.mu.Unlock()
		b, err := s.readArchived(ctx, jobID, epoch, offset, max)
		return b, changed, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	defer in.Close()
	buf := make([]byte, n)
	if _, err := in.ReadAt(buf, offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("read log: %w", err)
	}
	return buf, changed, nil
}

// Wait blocks until changed is closed or ctx ends.
func Wait(ctx context.Context, changed <-chan struct{}) error {
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readArchived reads up to max bytes from offset of an archived log; a
// log that was never archived reads as empty.
func (s *Store) readArchived(ctx context.Context, jobID, epoch, offset int64, max int) ([]byte, error) {
	rc, err := s.archive.Open(ctx, archiveKey(jobID, epoch))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open archived log: %w", err)
	}
	defer rc.Close()
	if sk, ok := rc.(io.Seeker); ok {
		if _, err := sk.Seek(offset, io.SeekStart); err != nil {
			return nil, fmt.Errorf("read archived log: %w", err)
		}
	} else if _, err := io.CopyN(io.Discard, rc, offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("read archived log: %w", err)
	}
	buf := make([]byte, max)
	n, err := io.ReadFull(rc, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read archived log: %w", err)
	}
	return buf[:n], nil
}

// Keep copies the complete log of an attempt to the archive, if the store
// has one; keeping it again replaces the copy. The local file stays:
// reads on this coordinator need not go to the archive.
func (s *Store) Keep(ctx context.Context, jobID, epoch int64) error {
	if s.archive == nil {
		return nil
	}
	in, err := os.Open(s.path(jobID, epoch))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the job wrote nothing
	}
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer in.Close()
	if _, err := s.archive.Put(ctx, archiveKey(jobID, epoch), in, 0); err != nil {
		return fmt.Errorf("archive log of job %d attempt %d: %w", jobID, epoch, err)
	}
	return nil
}

// Forget drops the in-memory state of an attempt whose log is complete,
// so the store's memory does not grow with every job ever run. A later
// read or append of it rebuilds the state from the file.
func (s *Store) Forget(jobID, epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, s.path(jobID, epoch))
}
