// Package executortest holds the helpers the executors' tests share: a job
// log that can be waited on, assertions on logs and outcomes, and an
// artifact upload that keeps what it receives.
package executortest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/runner/executor"
)

// LogBuffer is a job log that tests can read while the job runs and wait
// on for a given text.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waitFor string
	seen    chan struct{}
}

// NewLogBuffer returns a log whose Seen channel is closed once the log
// contains waitFor (never, if waitFor is empty).
func NewLogBuffer(waitFor string) *LogBuffer {
	return &LogBuffer{waitFor: waitFor, seen: make(chan struct{})}
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.waitFor != "" && strings.Contains(StripANSI(l.buf.String()), l.waitFor) {
		close(l.seen)
		l.waitFor = ""
	}
	return len(p), nil
}

// Seen is closed once the log contains the awaited text.
func (l *LogBuffer) Seen() <-chan struct{} { return l.seen }

// String returns the log without colour codes.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return StripANSI(l.buf.String())
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// StripANSI removes colour codes.
func StripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// AssertInOrder fails t unless log contains each of wants, in order.
func AssertInOrder(t *testing.T, log string, wants ...string) {
	t.Helper()
	rest := log
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("log lacks %q after the previous expected lines; log:\n%s", w, log)
		}
		rest = rest[i+len(w):]
	}
}

// AssertOutcome fails t unless res has outcome want.
func AssertOutcome(t *testing.T, res executor.Result, want executor.Outcome) {
	t.Helper()
	if res.Outcome != want {
		t.Fatalf("outcome = %v (%q), want %v", res.Outcome, res.Message, want)
	}
}

// Uploads is a Job.UploadArtifacts that keeps the archives it receives.
type Uploads struct {
	mu       sync.Mutex
	archives [][]byte
	readErrs []error
	// Fail, if set, is returned once an archive was read whole.
	Fail error
}

// Upload reads archive to its end and keeps it.
func (u *Uploads) Upload(_ context.Context, archive io.Reader) error {
	b, err := io.ReadAll(archive)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.archives = append(u.archives, b)
	u.readErrs = append(u.readErrs, err)
	if err != nil {
		return err
	}
	return u.Fail
}

// Count returns how many uploads were made.
func (u *Uploads) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.archives)
}

// ReadErrs returns the error each upload's read ended with (nil at EOF).
func (u *Uploads) ReadErrs() []error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.readErrs)
}

// Only fails t unless exactly one archive was uploaded whole, and returns
// its entries: name → content for files, "->target" for links, "" for
// directories (named with a trailing "/").
func (u *Uploads) Only(t *testing.T) map[string]string {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.archives) != 1 || u.readErrs[0] != nil {
		t.Fatalf("%d archives uploaded (read errors %v), want 1", len(u.archives), u.readErrs)
	}
	gz, err := gzip.NewReader(bytes.NewReader(u.archives[0]))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[h.Name]; dup {
			t.Errorf("archive holds %s twice", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = string(b)
		case tar.TypeSymlink, tar.TypeLink:
			out[h.Name] = "->" + h.Linkname
		default:
			out[h.Name] = ""
		}
	}
}

// AssertEntries fails t unless an archive's entries (see Uploads.Only)
// are exactly want.
func AssertEntries(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("archive entries:\n got %q\nwant %q", got, want)
	}
}
