// Package logship ships a job attempt's log to the coordinator: the
// executor writes into a Shipper, which sends the bytes in order at their
// offsets, resending from the coordinator's stored size after errors, so
// nothing is lost or duplicated across reconnects.
package logship

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// ErrStale means the coordinator refused the attempt's epoch: the job is
// no longer this runner's to run.
var ErrStale = errors.New("attempt is stale")

// maxChunk is the most bytes sent in one AppendLog.
const maxChunk = 256 << 10

// Appender is the coordinator call the shipper needs.
type Appender interface {
	AppendLog(ctx context.Context, in *gantryv1.AppendLogRequest, opts ...grpc.CallOption) (*gantryv1.AppendLogResponse, error)
}

// Shipper is an io.Writer whose bytes reach the coordinator.
type Shipper struct {
	client    Appender
	jobID     int64
	epoch     int64
	retryable func(error) bool

	mu      sync.Mutex
	buf     []byte // unacknowledged bytes, starting at offset acked
	acked   int64
	written int64
	closed  bool
	wake    chan struct{}
}

// New returns a shipper for one attempt. retryable decides which errors
// are worth resending after; others end shipping.
func New(client Appender, jobID, epoch int64, retryable func(error) bool) *Shipper {
	return &Shipper{client: client, jobID: jobID, epoch: epoch, retryable: retryable, wake: make(chan struct{}, 1)}
}

// Write buffers p for shipping. It never fails: the executor's output must
// keep flowing even while the coordinator is unreachable.
func (s *Shipper) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	s.written += int64(len(p))
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

// Size returns how many bytes were written.
func (s *Shipper) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// Close tells Run to return once everything written is acknowledged.
func (s *Shipper) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

// Run ships until Close was called and every byte is acknowledged, or ctx
// ends, or the coordinator refuses the attempt (ErrStale).
func (s *Shipper) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		s.mu.Lock()
		off := s.acked
		chunk := s.buf[:min(len(s.buf), maxChunk)]
		done := s.closed && len(s.buf) == 0
		s.mu.Unlock()
		if done {
			return nil
		}
		if len(chunk) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.wake:
			}
			continue
		}
		resp, err := s.client.AppendLog(ctx, &gantryv1.AppendLogRequest{JobId: s.jobID, Epoch: s.epoch, Offset: off, Data: chunk})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !s.retryable(err) {
				return fmt.Errorf("%w: %w", ErrStale, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.ack(resp.GetSize())
	}
}

// ack drops the bytes the coordinator holds. A size below our offset
// (a coordinator that lost bytes) cannot be repaired from the buffer, so
// shipping continues from what we still have; the coordinator refuses to
// complete the job until the log is whole.
func (s *Shipper) ack(size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size <= s.acked {
		return
	}
	n := min(size-s.acked, int64(len(s.buf)))
	s.buf = s.buf[n:]
	s.acked += n
}
