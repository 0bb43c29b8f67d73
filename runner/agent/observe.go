package agent

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/runner/executor"
)

// Observer learns what the agent sends and how executors fail, for
// metrics. Its methods must be cheap and must not block.
type Observer interface {
	// LogBytesSent counts log bytes of AppendLog calls the coordinator
	// answered.
	LogBytesSent(n int)
	// ArtifactBytesSent counts archive bytes sent, of kind "artifacts",
	// "reports" or "cache".
	ArtifactBytesSent(kind string, n int)
	// ExecutorError counts an attempt the executor could not run to its
	// script's outcome: kind is "system_failure", "image_pull_failure"
	// or "invalid_job".
	ExecutorError(kind string)
}

type noObserver struct{}

func (noObserver) LogBytesSent(int)              {}
func (noObserver) ArtifactBytesSent(string, int) {}
func (noObserver) ExecutorError(string)          {}

// JobsRunning is how many attempts the runner executes.
func (a *Agent) JobsRunning() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.jobs)
}

// Connected reports whether a coordinator welcomed the runner on a stream
// that is still open.
func (a *Agent) Connected() bool { return a.connected.Load() }

// LogBytesBuffered is how many log bytes of running attempts the
// coordinator has not acknowledged yet.
func (a *Agent) LogBytesBuffered() int64 {
	a.mu.Lock()
	jobs := make([]*job, 0, len(a.jobs))
	for _, j := range a.jobs {
		jobs = append(jobs, j)
	}
	a.mu.Unlock()
	var n int64
	for _, j := range jobs {
		if ship := j.ship.Load(); ship != nil {
			n += max(ship.Size()-j.acked.Load(), 0)
		}
	}
	return n
}

// countOutcome counts the executor's failures to run an attempt.
func (a *Agent) countOutcome(res executor.Result, err error) {
	switch {
	case errors.Is(err, executor.ErrInvalidJob):
		a.cfg.Observer.ExecutorError("invalid_job")
	case err != nil, res.Outcome == executor.OutcomeSystemFailure:
		a.cfg.Observer.ExecutorError("system_failure")
	case res.Outcome == executor.OutcomeImagePullFailure:
		a.cfg.Observer.ExecutorError("image_pull_failure")
	}
}

// appender is the coordinator's AppendLog as an attempt's log shipper
// calls it: it counts the bytes sent and remembers what the coordinator
// acknowledged.
type appender struct {
	a *Agent
	j *job
}

func (ap appender) AppendLog(ctx context.Context, in *gantryv1.AppendLogRequest, opts ...grpc.CallOption) (*gantryv1.AppendLogResponse, error) {
	resp, err := ap.a.client.AppendLog(ctx, in, opts...)
	if err == nil {
		ap.a.cfg.Observer.LogBytesSent(len(in.GetData()))
		if size := resp.GetSize(); size > ap.j.acked.Load() {
			ap.j.acked.Store(size) // only the shipper's goroutine stores
		}
	}
	return resp, err
}

// countingReader counts the bytes read from an archive being sent.
type countingReader struct {
	r    io.Reader
	kind string
	obs  Observer
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.obs.ArtifactBytesSent(c.kind, n)
	}
	return n, err
}
