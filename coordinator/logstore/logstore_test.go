package logstore

import (
	"context"
	"errors"
	"testing"

	"github.com/gantry-ci/gantry/coordinator/blob"
)

func TestAppendIsIdempotent(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		off  int64
		data string
		size int64
		err  error
	}{
		{0, "hello ", 6, nil},
		{0, "hello ", 6, nil},    // full resend
		{3, "lo world", 11, nil}, // overlapping resend
		{20, "gap", 11, ErrGap},  // missing bytes
		{11, "\n", 12, nil},      // normal
		{6, "world\n", 12, nil},  // stale tail
	}
	for i, st := range steps {
		size, err := s.Append(1, 1, st.off, []byte(st.data))
		if !errors.Is(err, st.err) || size != st.size {
			t.Fatalf("step %d: size %d err %v; want %d %v", i, size, err, st.size, st.err)
		}
	}
	got, _, err := s.ReadAt(context.Background(), 1, 1, 0, 100)
	if err != nil || string(got) != "hello world\n" {
		t.Fatalf("log = %q, %v", got, err)
	}
	// A new Store over the same dir (coordinator restart) continues.
	s2, _ := New(s.dir)
	if size, _ := s2.Size(1, 1); size != 12 {
		t.Fatalf("size after reopen %d", size)
	}
}

func TestReadAtSignalsAppends(t *testing.T) {
	s, _ := New(t.TempDir())
	data, changed, err := s.ReadAt(context.Background(), 2, 1, 0, 10)
	if err != nil || len(data) != 0 {
		t.Fatalf("empty log read: %q %v", data, err)
	}
	if _, err := s.Append(2, 1, 0, []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("append did not signal readers")
	}
}

// A complete log is archived to the blob store; a coordinator whose disk
// does not hold it reads it from there, from any offset.
func TestKeepArchivesAndReadsBack(t *testing.T) {
	ctx := context.Background()
	blobs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first.SetArchive(blobs)
	if _, err := first.Append(7, 2, 0, []byte("line one\nline two\n")); err != nil {
		t.Fatal(err)
	}
	if err := first.Keep(ctx, 7, 2); err != nil {
		t.Fatal(err)
	}
	if err := first.Keep(ctx, 8, 1); err != nil {
		t.Fatalf("completing an attempt that logged nothing: %v", err)
	}
	other, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other.SetArchive(blobs)
	got, _, err := other.ReadAt(ctx, 7, 2, 5, 100)
	if err != nil || string(got) != "one\nline two\n" {
		t.Fatalf("ReadAt from the archive at 5 = %q, %v", got, err)
	}
	if got, _, err := other.ReadAt(ctx, 7, 2, 0, 4); err != nil || string(got) != "line" {
		t.Fatalf("ReadAt 4 bytes from the archive = %q, %v", got, err)
	}
	if got, _, err := other.ReadAt(ctx, 8, 1, 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("ReadAt of a log never archived = %q, %v; want empty", got, err)
	}
}
