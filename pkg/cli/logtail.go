package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"

	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// maxLineBytes is where a log line still without a newline is cut.
const maxLineBytes = 64 << 10

// logTail prints one attempt's log, line by line with the job's prefix.
// Status lines handed to then are held back until the log has ended, so a
// job's "passed" comes after its last log line.
type logTail struct {
	client gantryv1.PipelineServiceClient
	runID  int64
	jobID  int64
	epoch  int64
	name   string
	prefix string
	out    *printer
	errs   *printer
	// plain strips the job's own ANSI colour codes (colour is off).
	plain bool

	mu      sync.Mutex
	done    bool
	pending []string
}

// then prints line once the log has ended, or now if it already has.
func (t *logTail) then(line string) {
	if line == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		t.out.print(line)
		return
	}
	t.pending = append(t.pending, line)
}

// run tails the log until the attempt ends or ctx is cancelled, then
// prints the lines held back.
func (t *logTail) run(ctx context.Context) {
	if err := t.stream(ctx); err != nil && ctx.Err() == nil {
		t.errs.printf("gantry: log of %s: %s\n", t.name, status.Convert(err).Message())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	for _, l := range t.pending {
		t.out.print(l)
	}
	t.pending = nil
}

func (t *logTail) stream(ctx context.Context) error {
	stream, err := t.client.FollowLog(ctx, &gantryv1.FollowLogRequest{RunId: t.runID, JobId: t.jobID, Follow: true})
	if err != nil {
		return err
	}
	var lb lineBuffer
	// A last line without a newline still deserves printing.
	defer func() { t.out.print(t.prefixed(lb.flush())) }()
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		t.out.print(t.prefixed(lb.write(msg.GetData())))
	}
}

// prefixed renders lines for the terminal, one prefix each.
func (t *logTail) prefixed(lines [][]byte) string {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(t.prefix)
		l = bytes.TrimSuffix(l, []byte("\r"))
		if t.plain {
			l = stripANSI(l)
		}
		sb.Write(l)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// lineBuffer cuts a byte stream into lines, holding back an incomplete
// last line until its newline arrives.
type lineBuffer struct{ buf []byte }

// write adds p and returns the lines it completed, without their newlines.
// A line reaching maxLineBytes is cut there, so a job printing a progress
// bar without newlines cannot make the CLI buffer forever.
func (b *lineBuffer) write(p []byte) [][]byte {
	b.buf = append(b.buf, p...)
	var lines [][]byte
	rest := b.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		switch {
		case i >= 0:
			lines, rest = append(lines, rest[:i]), rest[i+1:]
		case len(rest) >= maxLineBytes:
			lines, rest = append(lines, rest[:maxLineBytes]), rest[maxLineBytes:]
		default:
			// Keep the incomplete line in a buffer of its own so the
			// returned lines stay valid.
			b.buf = append([]byte(nil), rest...)
			return lines
		}
	}
}

// flush returns the incomplete last line, if any.
func (b *lineBuffer) flush() [][]byte {
	if len(b.buf) == 0 {
		return nil
	}
	l := b.buf
	b.buf = nil
	return [][]byte{l}
}

// ansiSeq matches terminal escape sequences (CSI ... final byte), which
// job logs carry for colour (GitLab-style "$ command" echoes are green).
var ansiSeq = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// stripANSI removes escape sequences so logs read cleanly without colour.
func stripANSI(b []byte) []byte {
	if bytes.IndexByte(b, 0x1b) < 0 {
		return b
	}
	return ansiSeq.ReplaceAll(b, nil)
}
