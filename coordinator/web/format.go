package web

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/pkg/apistatus"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// The words and classes below are the CLI's (pkg/cli/format.go), so both
// views of a run read the same.

func runStatusText(s gantryv1.RunStatus) string { return apistatus.RunText(s) }

// runStatusFromText is the inverse of runStatusText, for filters.
func runStatusFromText(s string) (gantryv1.RunStatus, bool) {
	for v := range gantryv1.RunStatus_name {
		if st := gantryv1.RunStatus(v); st != gantryv1.RunStatus_RUN_STATUS_UNSPECIFIED && runStatusText(st) == s {
			return st, true
		}
	}
	return 0, false
}

// runStatusFilters are the statuses the runs list filters by, in order.
var runStatusFilters = []string{"pending", "running", "blocked", "passed", "failed", "canceled"}

func runEnded(s gantryv1.RunStatus) bool { return apistatus.RunEnded(s) }

func jobStatusText(s gantryv1.JobStatus) string { return apistatus.JobText(s) }

// jobActive reports whether a runner holds the job's current attempt.
func jobActive(s gantryv1.JobStatus) bool { return apistatus.JobActive(s) }

// jobEnded reports whether the job's log is complete.
func jobEnded(s gantryv1.JobStatus) bool {
	switch s {
	case gantryv1.JobStatus_JOB_STATUS_SUCCESS, gantryv1.JobStatus_JOB_STATUS_FAILED,
		gantryv1.JobStatus_JOB_STATUS_CANCELED, gantryv1.JobStatus_JOB_STATUS_SKIPPED, gantryv1.JobStatus_JOB_STATUS_LOST:
		return true
	}
	return false
}

// statusClass is the CSS class of a status word ("passed" -> "st-passed").
func statusClass(text string) string {
	return "st-" + strings.ReplaceAll(text, " ", "-")
}

// failureText explains a failed job as the CLI does.
func failureText(j *gantryv1.Job) string {
	r := j.GetFailureReason()
	if r == gantryv1.FailureReason_FAILURE_REASON_SCRIPT_FAILURE || (r == gantryv1.FailureReason_FAILURE_REASON_UNSPECIFIED && j.GetExitCode() != 0) {
		return fmt.Sprintf("exit code %d", j.GetExitCode())
	}
	if m := j.GetFailureMessage(); m != "" {
		return m
	}
	switch r {
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
	case gantryv1.FailureReason_FAILURE_REASON_LEASE_NOT_DELIVERED:
		return "lease never reached the runner"
	case gantryv1.FailureReason_FAILURE_REASON_RUNNER_LOST_JOB:
		return "runner lost the job"
	}
	return ""
}

// formatDuration prints d rounded to the second, like 1m23s.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// elapsed is a span of time shown on a page: its text now and, while it
// still grows, when it started (the script ticks it every second).
type elapsed struct {
	Text string
	// SinceMS is the start in Unix milliseconds while the span runs; 0
	// once it ended or when it never started.
	SinceMS int64
}

// span is the time from start to end; an unfinished span ends now.
func span(start, end *timestamppb.Timestamp, now time.Time) elapsed {
	if start == nil {
		return elapsed{Text: "-"}
	}
	if end == nil {
		return elapsed{Text: formatDuration(max(now.Sub(start.AsTime()), 0)), SinceMS: start.AsTime().UnixMilli()}
	}
	return elapsed{Text: formatDuration(max(end.AsTime().Sub(start.AsTime()), 0))}
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
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

// stamp is a timestamp in UTC for a tooltip or a <time> element.
func stamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func orDash(s string) string { return cmp.Or(s, "-") }

// percent formats a coverage percentage.
func percent(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// tagSet names a job's or runner's tag set: sorted tags, comma-separated.
func tagSet(tags []string) string {
	if len(tags) == 0 {
		return "(untagged)"
	}
	return strings.Join(slices.Sorted(slices.Values(tags)), ", ")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
