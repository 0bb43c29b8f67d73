package logship

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// flaky stores chunks like the coordinator's log store and fails every
// other call, sometimes after storing (a lost response).
type flaky struct {
	mu    sync.Mutex
	data  []byte
	calls int
	stale bool
}

func (f *flaky) AppendLog(_ context.Context, in *gantryv1.AppendLogRequest, _ ...grpc.CallOption) (*gantryv1.AppendLogResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.stale {
		return nil, status.Error(codes.FailedPrecondition, "stale")
	}
	if f.calls%3 == 1 {
		return nil, status.Error(codes.Unavailable, "down")
	}
	if in.Offset <= int64(len(f.data)) {
		skip := int64(len(f.data)) - in.Offset
		if skip < int64(len(in.Data)) {
			f.data = append(f.data, in.Data[skip:]...)
		}
	}
	if f.calls%3 == 2 {
		return nil, status.Error(codes.Unavailable, "response lost")
	}
	return &gantryv1.AppendLogResponse{Size: int64(len(f.data))}, nil
}

func retryable(err error) bool { return status.Code(err) == codes.Unavailable }

func TestShipperDeliversExactlyOnce(t *testing.T) {
	f := &flaky{}
	s := New(f, 1, 1, retryable)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	var want bytes.Buffer
	for i := range 200 {
		line := []byte("line " + string(rune('a'+i%26)) + "\n")
		want.Write(line)
		_, _ = s.Write(line)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.data, want.Bytes()) {
		t.Fatalf("coordinator holds %d bytes, want %d identical bytes", len(f.data), want.Len())
	}
	if s.Size() != int64(want.Len()) {
		t.Fatalf("Size %d", s.Size())
	}
}

func TestShipperStopsOnStaleEpoch(t *testing.T) {
	f := &flaky{stale: true}
	s := New(f, 1, 1, retryable)
	_, _ = s.Write([]byte("x"))
	if err := s.Run(context.Background()); !errors.Is(err, ErrStale) {
		t.Fatalf("Run = %v, want ErrStale", err)
	}
}
