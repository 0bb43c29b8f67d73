package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// The live view is what gantry watch and gantry submit show on a terminal:
// the run redrawn in place, one line per job under a progress bar per
// stage. renderRun draws one frame and is pure, so it is golden-tested;
// liveView only puts frames on the screen.

// spinnerInterval is how often the live view redraws for its spinners and
// clocks when nothing else changes.
const spinnerInterval = 100 * time.Millisecond

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// barWidth is the number of cells of a stage's progress bar.
const barWidth = 20

const ansiCyan = "\x1b[36m"

// renderRun draws the run in msg as it stands at now, each line cut to
// width columns (no limit when width <= 0), with ANSI colours when color.
func renderRun(msg *gantryv1.WatchRunResponse, now time.Time, color bool, width int) string {
	var b strings.Builder
	run := msg.GetRun()
	head := fmt.Sprintf("Run #%d %s", run.GetId(), runStatusText(run.GetStatus()))
	if d, ok := runDuration(run, now); ok && run.GetStatus() != gantryv1.RunStatus_RUN_STATUS_PENDING {
		head += "  " + formatDuration(d)
	}
	b.WriteString(paint(color, runColor(run.GetStatus()), cut(head, width)) + "\n")

	jobs := sortJobs(msg.GetJobs())
	nameW, stageW := 0, 0
	for _, j := range jobs {
		nameW = max(nameW, min(utf8.RuneCountInString(j.GetName()), 40))
		stageW = max(stageW, min(utf8.RuneCountInString(j.GetStage()), 24))
	}
	for i := 0; i < len(jobs); {
		// One stage: the jobs sharing jobs[i]'s stage index.
		k := i
		for k < len(jobs) && jobs[k].GetStageIndex() == jobs[i].GetStageIndex() {
			k++
		}
		stage := jobs[i:k]
		b.WriteString(stageLine(stage, stageW, color, width))
		for _, j := range stage {
			b.WriteString(jobLine(j, now, nameW, color, width))
		}
		i = k
	}
	return b.String()
}

// stageLine is "test   [██████░░░░░░] 1/3": jobs over (any outcome) out of
// all the stage's jobs.
func stageLine(stage []*gantryv1.Job, stageW int, color bool, width int) string {
	done, failed := 0, false
	for _, j := range stage {
		if jobEnded(j.GetStatus()) {
			done++
		}
		if j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_FAILED && !j.GetAllowFailure() {
			failed = true
		}
	}
	filled := done * barWidth / len(stage)
	name := pad(cut(stage[0].GetStage(), stageW), stageW)
	count := fmt.Sprintf(" %d/%d", done, len(stage))
	if width > 0 && utf8.RuneCountInString(name)+barWidth+2+len(count) > width {
		return cut(name+count, width) + "\n"
	}
	fill := ansiGreen
	if failed {
		fill = ansiRed
	}
	var bar string
	if filled > 0 {
		bar = paint(color, fill, strings.Repeat("█", filled))
	}
	if filled < barWidth {
		bar += paint(color, ansiDim, strings.Repeat("░", barWidth-filled))
	}
	return name + " [" + bar + "]" + count + "\n"
}

// jobLine is "  ✓ unit      12s  passed": a symbol for the status (a
// spinner while it runs), the name, the time it has run (or waited) and
// what it is doing.
func jobLine(j *gantryv1.Job, now time.Time, nameW int, color bool, width int) string {
	sym, symColor := jobSymbol(j, now)
	elapsed := "-"
	if d, ok := jobElapsed(j, now); ok {
		elapsed = formatDuration(d)
	}
	rest := fmt.Sprintf("%s  %6s  %s", pad(cut(j.GetName(), nameW), nameW), elapsed, liveDetail(j))
	rest = strings.TrimRight(cellCleaner.Replace(rest), " ")
	if width > 0 {
		rest = cut(rest, width-4)
	}
	return "  " + paint(color, symColor, sym) + " " + rest + "\n"
}

func jobSymbol(j *gantryv1.Job, now time.Time) (sym, color string) {
	switch j.GetStatus() {
	case gantryv1.JobStatus_JOB_STATUS_LEASED, gantryv1.JobStatus_JOB_STATUS_RUNNING:
		return spinner[(now.UnixMilli()/spinnerInterval.Milliseconds())%int64(len(spinner))], ansiCyan
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS:
		return "✓", ansiGreen
	case gantryv1.JobStatus_JOB_STATUS_FAILED:
		if j.GetAllowFailure() {
			return "!", ansiYellow
		}
		return "✗", ansiRed
	case gantryv1.JobStatus_JOB_STATUS_CANCELED:
		return "⊘", ansiYellow
	case gantryv1.JobStatus_JOB_STATUS_SKIPPED:
		return "-", ansiDim
	case gantryv1.JobStatus_JOB_STATUS_MANUAL:
		return "▶", ansiYellow
	case gantryv1.JobStatus_JOB_STATUS_LOST:
		return "?", ansiRed
	}
	return "·", ansiDim // created, pending, scheduled
}

// jobElapsed is how long the job has run, or ran; for a job that waits,
// how long it has waited.
func jobElapsed(j *gantryv1.Job, now time.Time) (time.Duration, bool) {
	switch {
	case j.GetStartedAt() != nil:
		return span(j.GetStartedAt(), j.GetFinishedAt(), now)
	case j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_PENDING:
		return span(j.GetQueuedAt(), nil, now)
	}
	return 0, false
}

// liveDetail says what the job is doing, in a few words.
func liveDetail(j *gantryv1.Job) string {
	switch j.GetStatus() {
	case gantryv1.JobStatus_JOB_STATUS_CREATED:
		return "waiting for earlier stages"
	case gantryv1.JobStatus_JOB_STATUS_PENDING:
		if r := j.GetPendingReason(); r != "" {
			return "pending: " + r
		}
		return "pending"
	case gantryv1.JobStatus_JOB_STATUS_LEASED:
		return "starting on " + runnerName(j)
	case gantryv1.JobStatus_JOB_STATUS_RUNNING:
		return "running on " + runnerName(j)
	case gantryv1.JobStatus_JOB_STATUS_FAILED:
		s := "failed: " + failureText(j)
		if scriptFailure(j) {
			s = fmt.Sprintf("failed (exit code %d)", j.GetExitCode())
		}
		if j.GetAllowFailure() {
			s += " (allowed to fail)"
		}
		return s
	case gantryv1.JobStatus_JOB_STATUS_MANUAL:
		return "manual: waits for gantry play"
	case gantryv1.JobStatus_JOB_STATUS_SCHEDULED:
		if r := j.GetPendingReason(); r != "" {
			return "scheduled: " + r
		}
	}
	return jobStatusText(j.GetStatus())
}

func runColor(s gantryv1.RunStatus) string {
	switch s {
	case gantryv1.RunStatus_RUN_STATUS_SUCCESS:
		return ansiGreen
	case gantryv1.RunStatus_RUN_STATUS_FAILED:
		return ansiRed
	case gantryv1.RunStatus_RUN_STATUS_CANCELED, gantryv1.RunStatus_RUN_STATUS_BLOCKED:
		return ansiYellow
	}
	return ""
}

// cut shortens s to width runes, marking the cut with "…".
func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// liveView redraws frames in place: it moves the cursor back up over the
// last frame and writes the new one over it, clearing what is left.
type liveView struct {
	w     io.Writer
	now   func() time.Time
	color bool
	// size is the terminal's columns and rows, 0 when unknown.
	size func() (cols, rows int)

	mu    sync.Mutex
	msg   *gantryv1.WatchRunResponse
	shown string // the frame on screen
}

// update records the run's new state and redraws.
func (v *liveView) update(msg *gantryv1.WatchRunResponse) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.msg = msg
	v.drawLocked()
}

// redraw draws the last state again, for the spinners and clocks.
func (v *liveView) redraw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.drawLocked()
}

func (v *liveView) drawLocked() {
	if v.msg == nil {
		return
	}
	cols, rows := v.size()
	// A line as wide as the terminal would wrap on some terminals, and
	// the cursor could no longer be moved back over the frame.
	frame := fitFrame(renderRun(v.msg, v.now(), v.color, cols-1), rows-1)
	if frame == v.shown {
		return // nothing turned or ticked: spare a slow link the bytes
	}
	var b strings.Builder
	if n := strings.Count(v.shown, "\n"); n > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", n)
	}
	// Clear the rest of each line, and below the frame if it shrank.
	b.WriteString(strings.ReplaceAll(frame, "\n", "\x1b[K\n"))
	b.WriteString("\x1b[J")
	v.shown = frame
	_, _ = io.WriteString(v.w, b.String())
}

// printLiveOutcome ends the live view: the run's outcome, and where to
// read the logs of the jobs that failed.
func printLiveOutcome(w io.Writer, runID int64, last *gantryv1.WatchRunResponse, now time.Time) error {
	var b strings.Builder
	b.WriteString(runOutcome(last.GetRun(), now) + "\n")
	for _, j := range sortJobs(last.GetJobs()) {
		if j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_FAILED && j.GetEpoch() > 0 {
			fmt.Fprintf(&b, "  log of %s: gantry logs %d %s\n", j.GetName(), runID, shellQuote(j.GetName()))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fitFrame keeps a frame within rows lines (no limit when rows <= 0): the
// cursor cannot move back up to lines scrolled off the screen.
func fitFrame(frame string, rows int) string {
	n := strings.Count(frame, "\n")
	if rows <= 1 || n <= rows {
		return frame
	}
	lines := strings.SplitAfter(frame, "\n")
	keep := lines[:rows-1]
	return strings.Join(keep, "") + fmt.Sprintf("  … %d more lines (a taller terminal shows them)\n", n-(rows-1))
}
