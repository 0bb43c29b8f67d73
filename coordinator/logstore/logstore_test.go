package logstore

import (
	"errors"
	"testing"
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
	got, _, err := s.ReadAt(1, 1, 0, 100)
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
	data, changed, err := s.ReadAt(2, 1, 0, 10)
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
