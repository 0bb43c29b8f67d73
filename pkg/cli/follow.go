package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// maxWatchRetries bounds how often in a row a broken run watch is resumed
// without the coordinator sending anything in between.
const maxWatchRetries = 5

// watchBackoff is the wait before the first retry; later ones wait longer.
var watchBackoff = 500 * time.Millisecond

// follower prints a run's progress until it ends: a status line whenever a
// job changes, and the log of every attempt that runs, line by line,
// prefixed with the job's name the way docker compose does.
type follower struct {
	client gantryv1.PipelineServiceClient
	runID  int64
	out    *printer
	errs   *printer
	color  bool

	width    int
	colors   map[int64]string
	seen     map[int64]jobState
	tails    map[int64]*logTail // by job: the attempt currently followed
	followed map[attempt]bool   // attempts whose log has been tailed
	last     *gantryv1.WatchRunResponse
	wg       sync.WaitGroup // the tails' goroutines
	// view, when set, shows the run in place instead of printing lines and
	// logs.
	view *liveView
}

type attempt struct{ job, epoch int64 }

type jobState struct {
	status gantryv1.JobStatus
	epoch  int64
}

func newFollower(client gantryv1.PipelineServiceClient, runID int64, out, errs *printer, color bool) *follower {
	return &follower{
		client: client, runID: runID, out: out, errs: errs, color: color,
		colors:   map[int64]string{},
		seen:     map[int64]jobState{},
		tails:    map[int64]*logTail{},
		followed: map[attempt]bool{},
	}
}

// follow watches the run until it ends and every log tail has finished,
// then returns the last state seen. On error (ctx cancelled included) the
// tails are stopped and waited for before it returns.
func (f *follower) follow(ctx context.Context) (*gantryv1.WatchRunResponse, error) {
	tailCtx, stopTails := context.WithCancel(ctx)
	defer stopTails()
	stopView := f.startView(ctx)
	err := f.watch(ctx, tailCtx)
	stopView()
	if err != nil {
		stopTails()
	}
	f.wg.Wait()
	return f.last, err
}

// startView redraws the live view, if any, every spinnerInterval until
// the returned function is called; that draws the final frame.
func (f *follower) startView(ctx context.Context) (stop func()) {
	if f.view == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(spinnerInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f.view.redraw()
			}
		}
	}()
	return func() {
		cancel()
		<-done
		f.view.redraw()
	}
}

// watch runs WatchRun until the run ends, resuming a broken stream: the
// coordinator sends a full snapshot first, and update only prints changes,
// so nothing is printed twice.
func (f *follower) watch(ctx, tailCtx context.Context) error {
	retries := 0
	for {
		progressed, err := f.watchOnce(ctx, tailCtx)
		switch {
		case f.last != nil && runSettled(f.last.GetRun().GetStatus()):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case progressed:
			retries = 0
		}
		if !watchRetryable(err) || retries == maxWatchRetries {
			if err == nil {
				err = errors.New("the coordinator stopped sending run updates")
			}
			return err
		}
		retries++
		t := time.NewTimer(time.Duration(retries) * watchBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func watchRetryable(err error) bool {
	if err == nil {
		return true // the stream ended before the run did
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Aborted:
		return true
	}
	return false
}

func (f *follower) watchOnce(ctx, tailCtx context.Context) (progressed bool, err error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := f.client.WatchRun(wctx, &gantryv1.WatchRunRequest{RunId: f.runID})
	if err != nil {
		return false, err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return progressed, nil
		}
		if err != nil {
			return progressed, err
		}
		progressed = true
		f.update(tailCtx, msg)
		if runSettled(msg.GetRun().GetStatus()) {
			return true, nil
		}
	}
}

// update prints what changed since the last message and starts log tails.
func (f *follower) update(ctx context.Context, msg *gantryv1.WatchRunResponse) {
	f.last = msg
	if f.view != nil {
		f.view.update(msg)
		return
	}
	jobs := sortJobs(msg.GetJobs())
	for _, j := range jobs {
		if _, ok := f.colors[j.GetId()]; !ok {
			f.colors[j.GetId()] = jobPalette[len(f.colors)%len(jobPalette)]
		}
		f.width = max(f.width, min(utf8.RuneCountInString(j.GetName()), 40))
	}
	for _, j := range jobs {
		f.jobChanged(ctx, j)
	}
}

func (f *follower) jobChanged(ctx context.Context, j *gantryv1.Job) {
	cur := jobState{j.GetStatus(), j.GetEpoch()}
	if prev, ok := f.seen[j.GetId()]; ok && prev == cur {
		return
	}
	f.seen[j.GetId()] = cur
	line := f.statusLine(j)

	// The attempt being tailed is over: its tail prints the line after the
	// attempt's last log line.
	if t := f.tails[j.GetId()]; t != nil && (t.epoch != j.GetEpoch() || !jobActive(j.GetStatus())) {
		delete(f.tails, j.GetId())
		t.then(line)
		line = ""
	}
	switch {
	case j.GetEpoch() == 0 || f.followed[attempt{j.GetId(), j.GetEpoch()}]:
	case jobActive(j.GetStatus()):
		f.out.print(line)
		line = ""
		f.tails[j.GetId()] = f.startTail(ctx, j, "")
	case jobEnded(j.GetStatus()):
		// The attempt started and ended between two updates: show its
		// log before saying how it ended.
		f.startTail(ctx, j, line)
		line = ""
	}
	f.out.print(line)
}

func (f *follower) startTail(ctx context.Context, j *gantryv1.Job, then string) *logTail {
	f.followed[attempt{j.GetId(), j.GetEpoch()}] = true
	t := &logTail{
		client: f.client, runID: f.runID, jobID: j.GetId(), epoch: j.GetEpoch(),
		name:   j.GetName(),
		prefix: paint(f.color, f.colors[j.GetId()], pad(j.GetName(), f.width)+" |") + " ",
		out:    f.out, errs: f.errs, plain: !f.color,
	}
	t.then(then)
	f.wg.Go(func() { t.run(ctx) })
	return t
}

// statusLine is "HH:MM:SS  name  what happened", or "" for a job that is
// only waiting for its stage. The time is the job's own timestamp for the
// change where there is one.
func (f *follower) statusLine(j *gantryv1.Job) string {
	var at *timestamppb.Timestamp
	var what string
	switch j.GetStatus() {
	case gantryv1.JobStatus_JOB_STATUS_PENDING:
		at, what = j.GetQueuedAt(), "pending"
		if r := j.GetPendingReason(); r != "" {
			what += ": " + r
		}
	case gantryv1.JobStatus_JOB_STATUS_LEASED:
		what = "starting on " + runnerName(j)
	case gantryv1.JobStatus_JOB_STATUS_RUNNING:
		at, what = j.GetStartedAt(), "running on "+runnerName(j)
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS, gantryv1.JobStatus_JOB_STATUS_FAILED,
		gantryv1.JobStatus_JOB_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_SKIPPED:
		at, what = j.GetFinishedAt(), f.outcome(j)
	default:
		return ""
	}
	when := time.Now()
	if at != nil {
		when = at.AsTime()
	}
	name := paint(f.color, f.colors[j.GetId()], pad(j.GetName(), f.width))
	return fmt.Sprintf("%s  %s  %s\n", clock(when), name, what)
}

// outcome says how a job ended: "passed in 3s", "failed (exit code 3) in
// 2s", "failed: <why>", "skipped", "canceled".
func (f *follower) outcome(j *gantryv1.Job) string {
	in := ""
	if d, ok := span(j.GetStartedAt(), j.GetFinishedAt(), time.Now()); ok && j.GetFinishedAt() != nil {
		in = " in " + formatDuration(d)
	}
	switch j.GetStatus() {
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS:
		return paint(f.color, ansiGreen, "passed"+in)
	case gantryv1.JobStatus_JOB_STATUS_FAILED:
		color, allowed := ansiRed, ""
		if j.GetAllowFailure() {
			color, allowed = ansiYellow, " (allowed to fail)"
		}
		if scriptFailure(j) {
			return paint(f.color, color, fmt.Sprintf("failed (exit code %d)%s", j.GetExitCode(), in)) + allowed
		}
		return paint(f.color, color, "failed: "+failureText(j)) + allowed
	case gantryv1.JobStatus_JOB_STATUS_CANCELED:
		return paint(f.color, ansiYellow, "canceled")
	}
	return paint(f.color, ansiDim, "skipped")
}

// sortJobs orders jobs by stage, then as the coordinator listed them.
func sortJobs(jobs []*gantryv1.Job) []*gantryv1.Job {
	out := slices.Clone(jobs)
	slices.SortStableFunc(out, func(a, b *gantryv1.Job) int {
		return cmp.Compare(a.GetStageIndex(), b.GetStageIndex())
	})
	return out
}

// pad right-pads s with spaces to width runes.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// printRunSummary prints the table of jobs and the run's outcome.
func printRunSummary(w io.Writer, run *gantryv1.Run, jobs []*gantryv1.Job) error {
	now := time.Now()
	t := newTable(w, "JOB", "STAGE", "STATUS", "DURATION")
	for _, j := range sortJobs(jobs) {
		dur := "-"
		if d, ok := span(j.GetStartedAt(), j.GetFinishedAt(), now); ok {
			dur = formatDuration(d)
		}
		st := jobStatusText(j.GetStatus())
		if j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_FAILED && j.GetAllowFailure() {
			st += " (allowed)"
		}
		if j.Coverage != nil {
			st += fmt.Sprintf(", coverage %.2f%%", j.GetCoverage())
		}
		t.row(j.GetName(), j.GetStage(), st, dur)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, runOutcome(run, now))
	return err
}

// runOutcome is "Run #12 passed in 12s", "Run #12 failed" and the like.
func runOutcome(run *gantryv1.Run, now time.Time) string {
	s := fmt.Sprintf("Run #%d %s", run.GetId(), runStatusText(run.GetStatus()))
	if run.GetStatus() == gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		if d, ok := runDuration(run, now); ok {
			s += " in " + formatDuration(d)
		}
	}
	return s
}

// runDuration is how long a run has been running, or ran.
func runDuration(run *gantryv1.Run, now time.Time) (time.Duration, bool) {
	start := run.GetStartedAt()
	if start == nil {
		start = run.GetCreatedAt()
	}
	if start == nil || (run.GetFinishedAt() == nil && runEnded(run.GetStatus())) {
		return 0, false
	}
	return span(start, run.GetFinishedAt(), now)
}
