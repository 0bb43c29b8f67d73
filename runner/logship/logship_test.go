package logship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func retryable(err error) bool { return status.Code(err) == codes.Unavailable }

// flaky stores chunks like the coordinator's log store and fails every
// other call, sometimes after storing (a lost response).
type flaky struct {
	mu    sync.Mutex
	data  []byte
	calls int
}

func (f *flaky) AppendLog(_ context.Context, in *gantryv1.AppendLogRequest, _ ...grpc.CallOption) (*gantryv1.AppendLogResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls%3 == 1 {
		return nil, status.Error(codes.Unavailable, "down")
	}
	f.data = store(f.data, in)
	if f.calls%3 == 2 {
		return nil, status.Error(codes.Unavailable, "response lost")
	}
	return &gantryv1.AppendLogResponse{Size: int64(len(f.data))}, nil
}

// store appends the new part of a chunk to data, as the coordinator does.
func store(data []byte, in *gantryv1.AppendLogRequest) []byte {
	if in.Offset <= int64(len(data)) {
		if skip := int64(len(data)) - in.Offset; skip < int64(len(in.Data)) {
			data = append(data, in.Data[skip:]...)
		}
	}
	return data
}

// coordinator is a log store that can be taken down, made to refuse the
// attempt, made to store at most a few bytes per call, or held inside a
// call; tests wait on its state through wait.
type coordinator struct {
	mu       sync.Mutex
	data     []byte
	down     bool // fail with Unavailable, storing nothing
	stale    bool // fail with FailedPrecondition
	maxStore int  // if > 0, store at most this many bytes per call
	failed   int  // calls failed
	hold     chan struct{}
	held     bool // a call waits for hold to close
	changed  chan struct{}
}

func newCoordinator() *coordinator { return &coordinator{changed: make(chan struct{})} }

func (c *coordinator) AppendLog(ctx context.Context, in *gantryv1.AppendLogRequest, _ ...grpc.CallOption) (*gantryv1.AppendLogResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.notify()
	if c.hold != nil {
		hold := c.hold
		c.held = true
		c.notify()
		c.mu.Unlock()
		select {
		case <-hold:
		case <-ctx.Done():
		}
		c.mu.Lock()
		c.held = false
	}
	switch {
	case c.stale:
		c.failed++
		return nil, status.Error(codes.FailedPrecondition, "stale epoch")
	case c.down:
		c.failed++
		return nil, status.Error(codes.Unavailable, "coordinator down")
	}
	if c.maxStore > 0 && len(in.Data) > c.maxStore {
		in = &gantryv1.AppendLogRequest{Offset: in.Offset, Data: in.Data[:c.maxStore]}
	}
	c.data = store(c.data, in)
	return &gantryv1.AppendLogResponse{Size: int64(len(c.data))}, nil
}

// notify wakes waiters; c.mu is held.
func (c *coordinator) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *coordinator) set(f func(c *coordinator)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
	c.notify()
}

// wait returns once cond holds.
func (c *coordinator) wait(t *testing.T, what string, cond func(c *coordinator) bool) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		ok, changed := cond(c), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func (c *coordinator) stored() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.data)
}

// start creates a shipper spooling into a fresh directory and runs it;
// the returned channel yields Run's result. The test fails if the spool
// file outlives Run.
func start(t *testing.T, client Appender, maxBytes int64) (*Shipper, string, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(client, 1, 1, retryable, Options{Dir: dir, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if err := s.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
		assertNoSpool(t, dir)
	})
	return s, dir, done
}

func assertNoSpool(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("spool file %s left behind", e.Name())
	}
}

// spoolSize returns the size of the one spool file in dir.
func spoolSize(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "gantry-log-1-1-*.spool"))
	if err != nil || len(files) != 1 {
		t.Fatalf("spool files %v, %v; want one", files, err)
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func waitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func lines(n int, prefix string) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s line %04d\n", prefix, i)
	}
	return b.Bytes()
}

func writeLines(s *Shipper, data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n') + 1
		_, _ = s.Write(data[:i])
		data = data[i:]
	}
}

func TestShipperDeliversExactlyOnce(t *testing.T) {
	f := &flaky{}
	s, _, done := start(t, f, 0)
	want := lines(200, "flaky")
	writeLines(s, want)
	s.Close()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.data, want) {
		t.Fatalf("coordinator holds %d bytes, want %d identical bytes", len(f.data), len(want))
	}
	if s.Size() != int64(len(want)) {
		t.Fatalf("Size %d", s.Size())
	}
}

func TestShipperOutageThenRecovery(t *testing.T) {
	c := newCoordinator()
	c.down = true
	s, _, done := start(t, c, 0)
	before := lines(500, "before")
	writeLines(s, before)
	c.wait(t, "a send failed", func(c *coordinator) bool { return c.failed > 0 })
	writeLines(s, lines(500, "during"))
	c.set(func(c *coordinator) { c.down = false })
	writeLines(s, lines(500, "after"))
	s.Close()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	want := slicesConcat(before, lines(500, "during"), lines(500, "after"))
	if got := c.stored(); !bytes.Equal(got, want) {
		t.Fatalf("coordinator holds %d bytes, want %d identical bytes", len(got), len(want))
	}
	if s.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", s.Size(), len(want))
	}
}

func slicesConcat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func notice(limit string, dropped int) string {
	return fmt.Sprintf("\n[gantry] runner log buffer full (limit %s): %d bytes of output were dropped while the coordinator was unreachable\n", limit, dropped)
}

func TestShipperBoundedDuringOutage(t *testing.T) {
	c := newCoordinator()
	c.down = true
	s, dir, done := start(t, c, 1024)
	in := lines(1000, "out") // 14 KiB
	for p := in; len(p) > 0; {
		n := min(len(p), 100)
		_, _ = s.Write(p[:n])
		p = p[n:]
		if size := spoolSize(t, dir); size > 1024 {
			t.Fatalf("spool holds %d bytes, more than the 1 KiB limit", size)
		}
	}
	if s.Size() != 1024 {
		t.Fatalf("Size %d during the outage, want 1024", s.Size())
	}
	c.set(func(c *coordinator) { c.down = false })
	// The notice goes in once the kept bytes are acknowledged.
	c.wait(t, "the notice is shipped", func(c *coordinator) bool { return bytes.Contains(c.data, []byte("[gantry]")) })
	_, _ = s.Write([]byte("after the outage\n"))
	s.Close()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	want := string(in[:1024]) + notice("1 KiB", len(in)-1024) + "after the outage\n"
	if got := string(c.stored()); got != want {
		t.Fatalf("coordinator holds\n%q\nwant\n%q", got[max(0, len(got)-300):], want[max(0, len(want)-300):])
	}
	if s.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", s.Size(), len(want))
	}
}

func TestShipperNoticeAtCloseDuringOutage(t *testing.T) {
	c := newCoordinator()
	c.down = true
	s, dir, done := start(t, c, 1024)
	in := lines(200, "out")
	writeLines(s, in)
	s.Close() // still down: the notice must not wait for room
	_, _ = s.Write([]byte("after Close\n"))
	if size := spoolSize(t, dir); size > 1024 {
		t.Fatalf("spool holds %d bytes, more than the 1 KiB limit", size)
	}
	c.set(func(c *coordinator) { c.down = false })
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	want := string(in[:1024]) + notice("1 KiB", len(in)-1024)
	if got := string(c.stored()); got != want {
		t.Fatalf("coordinator holds\n%q\nwant\n%q", got, want)
	}
	if s.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", s.Size(), len(want))
	}
}

// TestShipperOneNoticePerOutage checks that output dropped while the
// notice does not fit yet is counted in the same notice, and that a
// second outage gets its own.
func TestShipperOneNoticePerOutage(t *testing.T) {
	c := newCoordinator()
	c.down = true
	s, _, done := start(t, c, 1024)
	first := lines(100, "first")
	writeLines(s, first)
	c.set(func(c *coordinator) { c.down = false })
	c.wait(t, "the first notice is shipped", func(c *coordinator) bool { return bytes.Count(c.data, []byte("[gantry]")) == 1 })
	c.set(func(c *coordinator) { c.down = true })
	second := lines(100, "second")
	writeLines(s, second)
	c.set(func(c *coordinator) { c.down = false })
	s.Close()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	want := string(first[:1024]) + notice("1 KiB", len(first)-1024)
	got := string(c.stored())
	if !strings.HasPrefix(got, want) {
		t.Fatalf("coordinator holds\n%q\nwant prefix\n%q", got, want)
	}
	// How much of the second batch fit depends on whether the first
	// notice was acknowledged before it was written; the count must match.
	rest := got[len(want):]
	i := strings.Index(rest, "\n[gantry]")
	if i < 1024-len(want)+1024 || i > 1024 || rest[:i] != string(second[:i]) {
		t.Fatalf("%d bytes of the second batch kept: %q", i, rest)
	}
	if rest[i:] != notice("1 KiB", len(second)-i) {
		t.Fatalf("second notice %q, want %q", rest[i:], notice("1 KiB", len(second)-i))
	}
	if s.Size() != int64(len(got)) {
		t.Fatalf("Size %d, coordinator holds %d", s.Size(), len(got))
	}
}

// TestSpoolRingWraps drives the spool without Run, acknowledging all
// but a few bytes of each chunk, so the spool is never drained and its
// ring wraps many times.
func TestSpoolRingWraps(t *testing.T) {
	dir := t.TempDir()
	s, err := New(newCoordinator(), 1, 1, retryable, Options{Dir: dir, MaxBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Remove(); err != nil {
			t.Error(err)
		}
	}()
	var log []byte
	buf := make([]byte, maxChunk)
	// ship sends chunks and acknowledges all but leave bytes.
	ship := func(leave int64) {
		t.Helper()
		for s.written-s.acked > leave {
			off, chunk, done, err := s.next(buf)
			if err != nil || done {
				t.Fatalf("next: %v, done %v", err, done)
			}
			if !bytes.Equal(chunk, log[off:off+int64(len(chunk))]) {
				t.Fatalf("chunk at %d is %q, want %q", off, chunk, log[off:off+int64(len(chunk))])
			}
			s.ack(off + min(int64(len(chunk)), s.written-s.acked-leave))
		}
	}
	for i := range 100 {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i*37%200)
		_, _ = s.Write(p)
		log = append(log, p...)
		ship(50)
		if size := spoolSize(t, dir); size > 1024 {
			t.Fatalf("spool holds %d bytes", size)
		}
	}
	if s.ringBase != 0 || s.written < 10*1024 {
		t.Fatalf("the ring did not wrap: base %d, %d bytes written", s.ringBase, s.written)
	}
	ship(0)
	if s.Size() != int64(len(log)) || s.dropped != 0 {
		t.Fatalf("Size %d, dropped %d; want %d, 0", s.Size(), s.dropped, len(log))
	}
}

// TestShipperSpoolFailure checks that output the spool cannot take is
// reported in the log, not dropped silently.
func TestShipperSpoolFailure(t *testing.T) {
	c := newCoordinator()
	s, _, done := start(t, c, 0)
	_, _ = s.Write([]byte("before\n"))
	c.wait(t, "the first line is shipped", func(c *coordinator) bool { return len(c.data) == 7 })
	// Swap in a read-only descriptor: writes fail as on a broken disk.
	s.mu.Lock()
	ro, err := os.Open(s.path)
	if err == nil {
		err = s.file.Close()
		s.file = ro
	}
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte("lost 1\n"))
	_, _ = s.Write([]byte("lost 2\n"))
	s.Close()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	got := string(c.stored())
	if !strings.HasPrefix(got, "before\n\n[gantry] runner log spool failed (logship: write spool: ") ||
		!strings.HasSuffix(got, "): 14 bytes of output were dropped\n") || strings.Count(got, "[gantry]") != 1 {
		t.Fatalf("coordinator holds %q", got)
	}
	if s.Size() != int64(len(got)) {
		t.Fatalf("Size %d, coordinator holds %d", s.Size(), len(got))
	}
}

func TestShipperWritesDuringSendAreKept(t *testing.T) {
	c := newCoordinator()
	c.hold = make(chan struct{})
	s, _, done := start(t, c, 0)
	_, _ = s.Write([]byte("first\n"))
	c.wait(t, "a send is in flight", func(c *coordinator) bool { return c.held })
	_, _ = s.Write([]byte("second\n"))
	_, _ = s.Write([]byte("third\n"))
	c.set(func(c *coordinator) {
		close(c.hold)
		c.hold = nil
	})
	s.Close()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	if got := string(c.stored()); got != "first\nsecond\nthird\n" {
		t.Fatalf("coordinator holds %q", got)
	}
}

func TestShipperStopsOnStaleEpoch(t *testing.T) {
	c := newCoordinator()
	c.stale = true
	s, dir, done := start(t, c, 0)
	_, _ = s.Write([]byte("x"))
	if err := waitRun(t, done); !errors.Is(err, ErrStale) {
		t.Fatalf("Run = %v, want ErrStale", err)
	}
	assertNoSpool(t, dir)               // removed by Run, not by the test's cleanup
	_, _ = s.Write([]byte("discarded")) // must not fail or panic
}

func TestShipperRemovesSpool(t *testing.T) {
	t.Run("after shipping", func(t *testing.T) {
		c := newCoordinator()
		s, dir, done := start(t, c, 0)
		_, _ = s.Write([]byte("x\n"))
		s.Close()
		if err := waitRun(t, done); err != nil {
			t.Fatal(err)
		}
		assertNoSpool(t, dir)
	})
	t.Run("when ctx ends", func(t *testing.T) {
		dir := t.TempDir()
		c := newCoordinator()
		c.down = true
		s, err := New(c, 1, 1, retryable, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write([]byte("never shipped\n"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		c.wait(t, "a send failed", func(c *coordinator) bool { return c.failed > 0 })
		cancel()
		if err := waitRun(t, done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		assertNoSpool(t, dir)
	})
	t.Run("without Run", func(t *testing.T) {
		dir := t.TempDir()
		s, err := New(newCoordinator(), 1, 1, retryable, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write([]byte("x"))
		for range 2 {
			if err := s.Remove(); err != nil {
				t.Fatal(err)
			}
		}
		assertNoSpool(t, dir)
		if n, err := s.Write([]byte("late")); n != 4 || err != nil {
			t.Fatalf("Write after Remove = %d, %v", n, err)
		}
		// Run on a removed spool ends at once.
		if err := s.Run(context.Background()); err == nil {
			t.Fatal("Run on a removed spool succeeded")
		}
	})
}

func TestNewOptions(t *testing.T) {
	if _, err := New(newCoordinator(), 1, 1, retryable, Options{Dir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("New with a missing directory succeeded")
	}
	if _, err := New(newCoordinator(), 1, 1, retryable, Options{MaxBytes: -1}); err == nil {
		t.Fatal("New with negative MaxBytes succeeded")
	}
	for _, tc := range []struct{ in, want int64 }{{0, DefaultMaxBytes}, {1, 1024}, {5000, 5000}} {
		s, err := New(newCoordinator(), 1, 1, retryable, Options{Dir: t.TempDir(), MaxBytes: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		if s.limit != tc.want {
			t.Errorf("MaxBytes %d: limit %d, want %d", tc.in, s.limit, tc.want)
		}
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1024: "1 KiB", 1500: "1500 bytes", 2 << 30: "2 GiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
