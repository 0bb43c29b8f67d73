package executor

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// The pieces below are shared by every executor: how a script ended and
// what that means for the attempt, in GitLab's words.

// StopReason says why an executor stopped a script.
type StopReason int

// Stop reasons.
const (
	StopNone StopReason = iota
	StopTimeout
	StopCanceled
)

// ScriptEnd is how one script (the job's or after_script) ended.
type ScriptEnd struct {
	// Started is set once the script began to run.
	Started bool
	// ExitCode is the script's exit status, -1 when unknown.
	ExitCode int
	// Stopped says whether the executor stopped it, and why.
	Stopped StopReason
}

// ScriptResult turns how the job's script ended into the attempt's
// Result. waitErr is the error from waiting for it, described as waiting
// ("waiting for the script"); the result is then a system failure the
// caller should also log.
func ScriptResult(end ScriptEnd, waitErr error, timeout time.Duration, waiting string) Result {
	switch {
	case end.Stopped == StopTimeout:
		return Result{Outcome: OutcomeTimeout, ExitCode: end.ExitCode, Message: fmt.Sprintf("execution took longer than %v seconds", timeout)}
	case end.Stopped == StopCanceled:
		return Result{Outcome: OutcomeCanceled, ExitCode: end.ExitCode, Message: "job canceled"}
	case waitErr != nil:
		return SystemFailure(fmt.Sprintf("%s: %v", waiting, waitErr))
	case end.ExitCode == 0:
		return Result{Outcome: OutcomeSuccess}
	default:
		return Result{Outcome: OutcomeScriptFailure, ExitCode: end.ExitCode, Message: fmt.Sprintf("exit code %d", end.ExitCode)}
	}
}

// AfterScriptWarning is the log line for an after_script that did not
// succeed, or "" when it did. Its outcome never changes the job's.
func AfterScriptWarning(end ScriptEnd, err error, timeout time.Duration) string {
	const prefix = "WARNING: after_script failed, but job will continue unaffected: "
	switch {
	case end.Stopped == StopTimeout:
		return fmt.Sprintf(prefix+"execution took longer than %v seconds", timeout)
	case err != nil:
		return fmt.Sprintf(prefix+"%v", err)
	case end.ExitCode != 0:
		return fmt.Sprintf(prefix+"exit code %d", end.ExitCode)
	}
	return ""
}

// SystemFailure is the Result of an executor error.
func SystemFailure(msg string) Result {
	return Result{Outcome: OutcomeSystemFailure, ExitCode: -1, Message: msg}
}

// CanceledBeforeScript is the Result of a job canceled before its script
// started.
func CanceledBeforeScript() Result {
	return Result{Outcome: OutcomeCanceled, ExitCode: -1, Message: "job canceled before its script started"}
}

// JobStatus is GitLab's CI_JOB_STATUS for after_script.
func (o Outcome) JobStatus() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeCanceled:
		return "canceled"
	default:
		return "failed"
	}
}

// HasCommands reports whether cmds has a command that is not blank.
func HasCommands(cmds []string) bool {
	return slices.ContainsFunc(cmds, func(c string) bool { return strings.TrimSpace(c) != "" })
}

// WithDefaults returns vars followed by each default whose key vars does
// not set.
//
// Then, as GitLab Runner does, each value that is not Raw has its $NAME and
// ${NAME} references replaced by the value of the job's variable NAME
// (the last one of that name; empty when there is none), once: a
// reference in a replaced value stays as it is. $$ stands for one $.
func WithDefaults(vars []Variable, defaults ...Variable) []Variable {
	out := slices.Clone(vars)
	for _, d := range defaults {
		if !slices.ContainsFunc(vars, func(v Variable) bool { return v.Key == d.Key }) {
			out = append(out, d)
		}
	}
	values := make(map[string]string, len(out))
	for _, v := range out {
		values[v.Key] = v.Value
	}
	for i, v := range out {
		if !v.Raw && strings.Contains(v.Value, "$") {
			out[i].Value = expand(v.Value, values)
		}
	}
	return out
}

// expand replaces $NAME, ${NAME} and $$ in s.
func expand(s string, values map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			b.WriteByte('$')
			i++
		case c == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 || !validEnvName(s[i+2:i+2+end]) {
				b.WriteByte('$')
				continue
			}
			b.WriteString(values[s[i+2:i+2+end]])
			i += 2 + end
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString(values[s[i+1:j]])
			i = j - 1
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// SyncWriter serialises writes to a job log from several goroutines. It
// never fails: a broken log must not block the script (whose output would
// back up), so the first error is kept and later writes are dropped.
type SyncWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewSyncWriter returns a SyncWriter writing to w.
func NewSyncWriter(w io.Writer) *SyncWriter { return &SyncWriter{w: w} }

func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}

// Err returns the first error the underlying writer returned.
func (s *SyncWriter) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
