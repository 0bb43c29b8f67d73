// Package executortest holds the helpers the executors' tests share: a job
// log that can be waited on, and assertions on logs and outcomes.
package executortest

import (
	"bytes"
	"regexp"
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
