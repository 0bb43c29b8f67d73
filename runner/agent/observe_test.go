package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/runner/executor"
	"github.com/gantry-ci/gantry/runner/logship"
)

// counts is an Observer keeping its counts.
type counts struct {
	mu       sync.Mutex
	logBytes int
	archive  map[string]int
	errors   map[string]int
}

func (c *counts) LogBytesSent(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logBytes += n
}

func (c *counts) ArtifactBytesSent(kind string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.archive[kind] += n
}

func (c *counts) ExecutorError(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors[kind]++
}

// logStore is a coordinator storing one attempt's log.
type logStore struct {
	gantryv1.RunnerServiceClient
	mu   sync.Mutex
	size int64
}

func (s *logStore) AppendLog(_ context.Context, in *gantryv1.AppendLogRequest, _ ...grpc.CallOption) (*gantryv1.AppendLogResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.GetOffset() == s.size {
		s.size += int64(len(in.GetData()))
	}
	return &gantryv1.AppendLogResponse{Size: s.size}, nil
}

// The log bytes a running job holds unacknowledged are counted until the
// coordinator has them; the bytes sent are counted once.
func TestLogBytesBufferedAndSent(t *testing.T) {
	obs := &counts{archive: map[string]int{}, errors: map[string]int{}}
	a := New(&logStore{}, nil, Config{Observer: obs}, zaptest.NewLogger(t))
	j := &job{id: 1, epoch: 1}
	a.jobs[j.id] = j
	ship, err := logship.New(appender{a, j}, j.id, j.epoch, retryable, logship.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	j.ship.Store(ship)
	for i := range 10 {
		fmt.Fprintf(ship, "line %d of the job's output\n", i)
	}
	if got, want := a.LogBytesBuffered(), ship.Size(); got != want || got == 0 {
		t.Fatalf("before shipping: %d bytes buffered, want %d", got, want)
	}
	ship.Close()
	if err := ship.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := a.LogBytesBuffered(); got != 0 {
		t.Errorf("after shipping: %d bytes buffered, want 0", got)
	}
	if obs.logBytes != int(ship.Size()) {
		t.Errorf("%d log bytes counted as sent, want %d", obs.logBytes, ship.Size())
	}
	if a.JobsRunning() != 1 {
		t.Errorf("JobsRunning %d, want 1", a.JobsRunning())
	}
}

func TestCountOutcome(t *testing.T) {
	obs := &counts{archive: map[string]int{}, errors: map[string]int{}}
	a := New(&logStore{}, nil, Config{Observer: obs}, zaptest.NewLogger(t))
	a.countOutcome(executor.Result{Outcome: executor.OutcomeSuccess}, nil)
	a.countOutcome(executor.Result{Outcome: executor.OutcomeScriptFailure}, nil)
	a.countOutcome(executor.SystemFailure("docker is gone"), nil)
	a.countOutcome(executor.Result{Outcome: executor.OutcomeImagePullFailure}, nil)
	a.countOutcome(executor.Result{}, fmt.Errorf("job 1: %w", executor.ErrInvalidJob))
	a.countOutcome(executor.Result{}, errors.New("could not report"))
	want := map[string]int{"system_failure": 2, "image_pull_failure": 1, "invalid_job": 1}
	if fmt.Sprint(obs.errors) != fmt.Sprint(want) {
		t.Errorf("errors counted %v, want %v", obs.errors, want)
	}
}
