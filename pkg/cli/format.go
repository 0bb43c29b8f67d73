package cli

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/pkg/apistatus"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// formatDuration prints d rounded to the second, like 1m23s.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// span is the time from start to end; an unfinished span ends now. ok is
// false when it never started.
func span(start, end *timestamppb.Timestamp, now time.Time) (time.Duration, bool) {
	if start == nil {
		return 0, false
	}
	e := now
	if end != nil {
		e = end.AsTime()
	}
	return max(e.Sub(start.AsTime()), 0), true
}

// ago says how long before now t was, coarsely: "3m ago".
func ago(t *timestamppb.Timestamp, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := now.Sub(t.AsTime())
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	case d < 14*24*time.Hour:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
	return t.AsTime().Local().Format(time.DateOnly)
}

// clock formats t as local HH:MM:SS.
func clock(t time.Time) string {
	return t.Local().Format(time.TimeOnly)
}

func runStatusText(s gantryv1.RunStatus) string {
	if s == gantryv1.RunStatus_RUN_STATUS_BLOCKED {
		return "blocked (a manual job waits to be played)"
	}
	return apistatus.RunText(s)
}

func runEnded(s gantryv1.RunStatus) bool { return apistatus.RunEnded(s) }

// runSettled reports whether following a run can stop: it ended, or it
// waits for someone to play a manual job.
func runSettled(s gantryv1.RunStatus) bool {
	return runEnded(s) || s == gantryv1.RunStatus_RUN_STATUS_BLOCKED
}

func jobStatusText(s gantryv1.JobStatus) string { return apistatus.JobText(s) }

// jobActive reports whether a runner holds the job's current attempt.
func jobActive(s gantryv1.JobStatus) bool { return apistatus.JobActive(s) }

func jobEnded(s gantryv1.JobStatus) bool {
	switch s {
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS, gantryv1.JobStatus_JOB_STATUS_FAILED,
		gantryv1.JobStatus_JOB_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_SKIPPED:
		return true
	}
	return false
}

// failureText explains a failed job: "exit code 3" for a script that
// failed, the coordinator's message for anything else.
func failureText(j *gantryv1.Job) string {
	if scriptFailure(j) {
		return fmt.Sprintf("exit code %d", j.GetExitCode())
	}
	if m := j.GetFailureMessage(); m != "" {
		return m
	}
	switch j.GetFailureReason() {
	case gantryv1.FailureReason_FAILURE_REASON_RUNNER_SYSTEM_FAILURE:
		return "runner system failure"
	case gantryv1.FailureReason_FAILURE_REASON_IMAGE_PULL_FAILURE:
		return "image pull failure"
	case gantryv1.FailureReason_FAILURE_REASON_JOB_TIMEOUT:
		return "job timed out"
	case gantryv1.FailureReason_FAILURE_REASON_LEASE_EXPIRED:
		return "runner stopped renewing its lease"
	case gantryv1.FailureReason_FAILURE_REASON_CANCELED:
		return "canceled"
	}
	return "unknown failure"
}

// scriptFailure reports whether the job failed because its script exited
// non-zero, as opposed to the system failing it.
func scriptFailure(j *gantryv1.Job) bool {
	r := j.GetFailureReason()
	return r == gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE ||
		(r == gantryv1.FailureReason_FAILURE_REASON_UNSPECIFIED && j.GetExitCode() != 0)
}

func runnerName(j *gantryv1.Job) string {
	return orDash(cmp.Or(j.GetRunnerName(), j.GetRunnerId()))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// table writes aligned columns. Cells must not hold colour codes:
// tabwriter would count them as width.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

var cellCleaner = strings.NewReplacer("\t", " ", "\n", " ")

func (t *table) row(cells ...string) {
	for i, c := range cells {
		// A tab or newline in a cell (a failure message, say) would break
		// the columns.
		cells[i] = cellCleaner.Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table without the padding tabwriter leaves after an
// empty last cell.
func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(t.buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// printer serialises whole lines from several goroutines onto one writer.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) print(s string) {
	if s == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, s)
}

func (p *printer) printf(format string, args ...any) {
	p.print(fmt.Sprintf(format, args...))
}

// ANSI colours. Job names cycle through the palette like docker compose.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

var jobPalette = []string{
	"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m",
	"\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m",
}

// paint wraps s in an ANSI colour when on.
func paint(on bool, color, s string) string {
	if !on || color == "" {
		return s
	}
	return color + s + ansiReset
}
