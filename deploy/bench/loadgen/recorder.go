package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/status"
)

// errStopped means a wait ended because the phase stopped submitting.
var errStopped = errors.New("phase stopped")

// recorder collects what the fleet and the submitter observe. Samples are
// kept only inside a measurement window (begin..end); errors and the
// outstanding-job gauge are kept always.
type recorder struct {
	mu        sync.Mutex
	measuring bool
	w         window

	// outstanding counts jobs submitted (or reserved for a submission in
	// flight) and not yet completed; changed is closed and replaced on
	// every change so waiters can select on it.
	outstanding int64
	changed     chan struct{}
	// completedTotal counts every accepted CompleteJob, windows or not.
	completedTotal int64

	errs map[string]*errorCount
}

// window is what one measurement window saw.
type window struct {
	start          time.Time
	leaseLatency   []time.Duration // lease received - queued_at
	readyToDone    []time.Duration // CompleteJob OK - queued_at
	rpc            map[string][]time.Duration
	completed      int
	submittedJobs  int
	missedSubmits  int
	releasedLeases int // leases with epoch > 1: a job handed out again
	// inFlightSum / inFlightN average the outstanding gauge over samples.
	inFlightSum, inFlightN int64
}

// errorCount is one kind of protocol error and an example message.
type errorCount struct {
	n       int
	example string
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), errs: map[string]*errorCount{}}
}

// begin starts a measurement window, dropping samples taken before.
func (r *recorder) begin(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.measuring = true
	r.w = window{start: now, rpc: map[string][]time.Duration{}}
}

// end closes the window and returns what it saw and its length.
func (r *recorder) end(now time.Time) (window, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.measuring = false
	w := r.w
	r.w = window{}
	return w, now.Sub(w.start)
}

// sampleInFlight adds the outstanding gauge to the window's average.
func (r *recorder) sampleInFlight() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.measuring {
		r.w.inFlightSum += r.outstanding
		r.w.inFlightN++
	}
}

// leaseReceived records a lease arriving at a runner.
func (r *recorder) leaseReceived(at, queuedAt time.Time, epoch int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.measuring {
		return
	}
	r.w.leaseLatency = append(r.w.leaseLatency, at.Sub(queuedAt))
	if epoch > 1 {
		r.w.releasedLeases++
	}
}

// jobCompleted records a CompleteJob the coordinator accepted.
func (r *recorder) jobCompleted(at, queuedAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addOutstanding(-1)
	r.completedTotal++
	if !r.measuring {
		return
	}
	r.w.completed++
	r.w.readyToDone = append(r.w.readyToDone, at.Sub(queuedAt))
}

// rpcDone records one call's latency, and its error unless the caller was
// shutting down.
func (r *recorder) rpcDone(ctx context.Context, method string, d time.Duration, err error) {
	if err != nil {
		if ctx.Err() == nil {
			r.protocolError(method, err)
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.measuring {
		r.w.rpc[method] = append(r.w.rpc[method], d)
	}
}

// totalCompleted returns how many jobs completed since the start.
func (r *recorder) totalCompleted() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.completedTotal
}

// protocolError counts an error by method and status code.
func (r *recorder) protocolError(method string, err error) {
	r.anomaly(fmt.Sprintf("%s: %s", method, status.Code(err)), err.Error())
}

// anomaly counts an event a healthy run should not show, with an example.
func (r *recorder) anomaly(key, example string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errs[key]
	if e == nil {
		e = &errorCount{example: example}
		r.errs[key] = e
	}
	e.n++
}

// errors returns the error counts and takes them out of the recorder.
func (r *recorder) takeErrors() map[string]errorCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]errorCount, len(r.errs))
	for k, e := range r.errs {
		out[k] = *e
	}
	r.errs = map[string]*errorCount{}
	return out
}

// accepted records a run of n jobs accepted by SubmitRun, of which
// reserved were already counted as outstanding.
func (r *recorder) accepted(n, reserved int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n != reserved {
		r.addOutstanding(int64(n - reserved))
	}
	if r.measuring {
		r.w.submittedJobs += n
	}
}

// missedSubmit records an open-loop submission skipped because every
// submitter was busy: the offered load fell short.
func (r *recorder) missedSubmit() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.measuring {
		r.w.missedSubmits++
	}
}

// addOutstanding changes the gauge and wakes waiters; r.mu is held.
func (r *recorder) addOutstanding(d int64) {
	r.outstanding += d
	close(r.changed)
	r.changed = make(chan struct{})
}

// reserve adds n outstanding jobs for a submission about to be made,
// waiting while that would exceed limit (limit <= 0: no limit).
func (r *recorder) reserve(ctx context.Context, stop <-chan struct{}, n, limit int) error {
	for {
		// Stop wins over free room: when jobs complete faster than
		// submissions, room is always there and stop would go unseen.
		select {
		case <-stop:
			return errStopped
		default:
		}
		r.mu.Lock()
		if limit <= 0 || r.outstanding+int64(n) <= int64(limit) {
			r.addOutstanding(int64(n))
			r.mu.Unlock()
			return nil
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return errStopped
		case <-changed:
		}
	}
}

// unreserve takes back a reservation whose submission failed.
func (r *recorder) unreserve(n int) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addOutstanding(-int64(n))
}

// drain waits until no job is outstanding and returns how many still are.
func (r *recorder) drain(ctx context.Context, timeout time.Duration) (int64, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		r.mu.Lock()
		n, changed := r.outstanding, r.changed
		r.mu.Unlock()
		if n <= 0 {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-t.C:
			return n, nil
		case <-changed:
		}
	}
}

// dist summarises a latency sample.
type dist struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// summarize returns the distribution of samples (nearest-rank
// percentiles); it sorts samples in place.
func summarize(samples []time.Duration) dist {
	if len(samples) == 0 {
		return dist{}
	}
	slices.Sort(samples)
	rank := func(p float64) time.Duration {
		i := sort.Search(len(samples), func(i int) bool { return float64(i+1) >= p*float64(len(samples)) })
		return samples[min(i, len(samples)-1)]
	}
	return dist{N: len(samples), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: samples[len(samples)-1]}
}
