// Package logship ships a job attempt's log to the coordinator: the
// executor writes into a Shipper, which keeps the bytes not yet
// acknowledged in a bounded spool file on local disk and sends them in
// order at their offsets, resending from the coordinator's stored size
// after errors, so nothing is lost or duplicated across reconnects and a
// long coordinator outage costs disk, not memory.
package logship

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// ErrStale means the coordinator refused the attempt's epoch: the job is
// no longer this runner's to run.
var ErrStale = errors.New("attempt is stale")

// errRemoved means the spool was removed while Run was shipping.
var errRemoved = errors.New("logship: spool removed before the log was shipped")

// DefaultMaxBytes bounds the unacknowledged bytes of an attempt when
// Options.MaxBytes is zero.
const DefaultMaxBytes = 64 << 20

const (
	// minMaxBytes is the smallest bound: room for a few lines and the
	// notice about dropped output.
	minMaxBytes = 1 << 10
	// maxChunk is the most bytes sent in one AppendLog.
	maxChunk = 256 << 10
	// callTimeout bounds one AppendLog, so a connection that hangs
	// instead of failing is retried.
	callTimeout = 30 * time.Second
	// shrinkAbove is the spool size above which a spool that has been
	// shipped completely is truncated, to give back the disk space an
	// outage took.
	shrinkAbove = maxChunk
	// maxReasonLen bounds the error text in a notice.
	maxReasonLen = 200
)

// Appender is the coordinator call the shipper needs.
type Appender interface {
	AppendLog(ctx context.Context, in *gantryv1.AppendLogRequest, opts ...grpc.CallOption) (*gantryv1.AppendLogResponse, error)
}

// Options configure a Shipper's spool.
type Options struct {
	// Dir is the directory of the spool file; "" means os.TempDir().
	Dir string
	// MaxBytes bounds the bytes written but not yet acknowledged by the
	// coordinator, and so the spool file's size. Output beyond it is
	// dropped, and a notice in the log says how much. Zero means
	// DefaultMaxBytes; values below 1 KiB are raised to 1 KiB.
	MaxBytes int64
}

// Shipper is an io.Writer whose bytes reach the coordinator.
//
// The log is a sequence of bytes at offsets from zero. The bytes from the
// acknowledged offset to the end are in the spool file, used as a ring of
// MaxBytes bytes, except for a notice added by Close when the ring is
// full, which is kept in memory.
type Shipper struct {
	client    Appender
	jobID     int64
	epoch     int64
	retryable func(error) bool
	path      string
	limit     int64
	wake      chan struct{}

	mu        sync.Mutex
	file      *os.File // nil once removed
	removeErr error
	ringBase  int64 // a log offset stored at file offset 0
	fileSize  int64
	tail      []byte // the last bytes of the log, when they are not in the file
	acked     int64
	written   int64
	dropped   int64 // output dropped since the last notice
	dropErr   error // the spool failure that dropped output, if any
	closed    bool
}

// New returns a shipper for one attempt, with its spool file created in
// opts.Dir. retryable decides which errors are worth resending after;
// others end shipping. The spool file is deleted by Run when it returns,
// or by Remove.
func New(client Appender, jobID, epoch int64, retryable func(error) bool, opts Options) (*Shipper, error) {
	limit := opts.MaxBytes
	switch {
	case limit < 0:
		return nil, fmt.Errorf("logship: MaxBytes %d is negative", limit)
	case limit == 0:
		limit = DefaultMaxBytes
	case limit < minMaxBytes:
		limit = minMaxBytes
	}
	f, err := os.CreateTemp(opts.Dir, fmt.Sprintf("gantry-log-%d-%d-*.spool", jobID, epoch))
	if err != nil {
		return nil, fmt.Errorf("logship: create spool: %w", err)
	}
	return &Shipper{
		client: client, jobID: jobID, epoch: epoch, retryable: retryable,
		path: f.Name(), limit: limit, file: f, wake: make(chan struct{}, 1),
	}, nil
}

// Write adds p to the log. It never fails nor waits for the coordinator:
// the executor's output must keep flowing while the coordinator is
// unreachable. What does not fit within MaxBytes is dropped, and a notice
// saying how many bytes were lost is added once there is room again (or
// at Close). Bytes written after Close or Remove are discarded: the log
// is final.
func (s *Shipper) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.appendLocked(p)
	s.mu.Unlock()
	s.signal()
	return len(p), nil
}

func (s *Shipper) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Size returns how many bytes the log holds: those written and kept,
// plus notices about dropped output. Once Run returned nil, the
// coordinator holds exactly this many.
func (s *Shipper) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// Close ends the log: Run returns once everything is acknowledged.
func (s *Shipper) Close() {
	s.mu.Lock()
	if !s.closed && s.file != nil && s.dropped > 0 {
		s.noticeLocked(true)
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

// Remove closes and deletes the spool file, discarding what was not
// shipped. Run calls it before returning; call it when Run is not called,
// or to learn whether Run's removal failed: Remove may be called any
// number of times and returns the first removal's result.
func (s *Shipper) Remove() error {
	s.mu.Lock()
	if s.file != nil {
		if err := errors.Join(s.file.Close(), os.Remove(s.path)); err != nil {
			s.removeErr = fmt.Errorf("logship: remove spool: %w", err)
		}
		s.file = nil
		s.tail = nil
	}
	err := s.removeErr
	s.mu.Unlock()
	s.signal()
	return err
}

// Run ships until Close was called and every byte is acknowledged, or ctx
// ends, or the coordinator refuses the attempt (ErrStale). It deletes the
// spool file before it returns.
func (s *Shipper) Run(ctx context.Context) error {
	defer func() { _ = s.Remove() }() // the owner learns the result from Remove
	buf := make([]byte, min(s.limit, maxChunk))
	backoff := 100 * time.Millisecond
	for {
		off, chunk, done, err := s.next(buf)
		if err != nil || done {
			return err
		}
		if len(chunk) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.wake:
			}
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		resp, err := s.client.AppendLog(callCtx, &gantryv1.AppendLogRequest{JobId: s.jobID, Epoch: s.epoch, Offset: off, Data: chunk})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !s.retryable(err) {
				return fmt.Errorf("%w: %w", ErrStale, err)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.ack(resp.GetSize())
	}
}

// next returns the next bytes to send and their offset, read into buf
// from the spool; done means there is nothing left to ship, ever.
//
// The file is read without the lock: only Run moves the acknowledged
// offset and the ring, and writers only write the free part of the ring.
func (s *Shipper) next(buf []byte) (off int64, chunk []byte, done bool, err error) {
	s.mu.Lock()
	off = s.acked
	if s.closed && off == s.written {
		s.mu.Unlock()
		return off, nil, true, nil
	}
	if s.file == nil {
		s.mu.Unlock()
		return off, nil, false, errRemoved
	}
	spoolEnd := s.written - int64(len(s.tail))
	if off >= spoolEnd {
		chunk = s.tail[off-spoolEnd:] // never changed once set
		s.mu.Unlock()
		return off, chunk, false, nil
	}
	pos := (off - s.ringBase) % s.limit
	n := min(spoolEnd-off, s.limit-pos, int64(len(buf)))
	f := s.file
	s.mu.Unlock()
	if _, err := f.ReadAt(buf[:n], pos); err != nil {
		return off, nil, false, fmt.Errorf("logship: read spool: %w", err)
	}
	return off, buf[:n], false, nil
}

// ack frees the bytes the coordinator holds. A size below our offset
// (a coordinator that lost bytes) cannot be repaired from the spool, so
// shipping continues from what we still have; the coordinator refuses to
// complete the job until the log is whole.
func (s *Shipper) ack(size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size <= s.acked {
		return
	}
	s.acked = min(size, s.written)
	if s.file == nil {
		return
	}
	if s.acked == s.written && len(s.tail) == 0 {
		// All shipped: start the ring over at the file's start.
		s.ringBase = s.written
		if s.fileSize > shrinkAbove && s.file.Truncate(0) == nil {
			s.fileSize = 0
		}
	}
	if s.dropped > 0 && !s.closed {
		s.noticeLocked(false) // as soon as there is room
	}
}

// appendLocked adds what fits of p to the log and counts the rest as
// dropped.
func (s *Shipper) appendLocked(p []byte) {
	if s.closed || s.file == nil {
		return
	}
	if s.dropped > 0 && !s.noticeLocked(false) {
		s.dropped += int64(len(p))
		return
	}
	n := min(int64(len(p)), s.room())
	if n > 0 {
		if err := s.spoolLocked(p[:n]); err != nil {
			s.dropErr = err
			n = 0
		}
	}
	s.dropped += int64(len(p)) - n
}

// room returns how many more bytes the log may hold unacknowledged.
func (s *Shipper) room() int64 { return s.limit - (s.written - s.acked) }

// spoolLocked writes p, which must fit in room(), at the end of the log.
func (s *Shipper) spoolLocked(p []byte) error {
	pos := (s.written - s.ringBase) % s.limit
	first := min(int64(len(p)), s.limit-pos)
	if _, err := s.file.WriteAt(p[:first], pos); err != nil {
		return fmt.Errorf("logship: write spool: %w", err)
	}
	s.fileSize = max(s.fileSize, pos+first)
	if rest := p[first:]; len(rest) > 0 {
		if _, err := s.file.WriteAt(rest, 0); err != nil {
			return fmt.Errorf("logship: write spool: %w", err)
		}
	}
	s.written += int64(len(p))
	return nil
}

// noticeLocked adds the line about dropped output if it fits, or, when
// final, in any case (in memory if it must), and reports whether it did.
func (s *Shipper) noticeLocked(final bool) bool {
	msg := s.notice()
	if int64(len(msg)) <= s.room() {
		err := s.spoolLocked(msg)
		if err == nil {
			s.dropped, s.dropErr = 0, nil
			return true
		}
		s.dropErr = err
		msg = s.notice()
	}
	if !final {
		return false
	}
	s.tail = msg
	s.written += int64(len(msg))
	s.dropped, s.dropErr = 0, nil
	return true
}

// notice is the log line about the output dropped since the last one.
func (s *Shipper) notice() []byte {
	if s.dropErr != nil {
		reason := s.dropErr.Error()
		if len(reason) > maxReasonLen {
			reason = reason[:maxReasonLen] + "..."
		}
		return fmt.Appendf(nil, "\n[gantry] runner log spool failed (%s): %d bytes of output were dropped\n", reason, s.dropped)
	}
	return fmt.Appendf(nil, "\n[gantry] runner log buffer full (limit %s): %d bytes of output were dropped while the coordinator was unreachable\n", byteSize(s.limit), s.dropped)
}

// byteSize formats n in the largest binary unit that divides it.
func byteSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
