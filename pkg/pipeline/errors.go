package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Pos is a position in a pipeline file. Line and Column are 1-based; Column
// counts characters, not bytes, as editors do.
type Pos = yamlpos.Pos

func comparePos(a, b Pos) int {
	return cmp.Or(
		strings.Compare(a.File, b.File),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
	)
}

// Error is one problem in a pipeline file, at the position to fix.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the problem as "file:line:column: message".
func (e *Error) Error() string {
	return e.Pos.String() + ": " + e.Msg
}

// ErrorList is every problem Parse found in a file, sorted by position.
type ErrorList []*Error

// Error returns one problem per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Warning is something a pipeline file does that Gantry accepts but the user
// should know about: a keyword ignored for now, a duplicate key, a deprecated
// form.
type Warning struct {
	Pos Pos
	Msg string
}

// String formats the warning as "file:line:column: message".
func (w Warning) String() string {
	return w.Pos.String() + ": " + w.Msg
}

// Bounds on the problems kept and reported: a generated file can hold a
// million duplicate keys, and nobody reads past the first screens anyway.
const (
	maxKeptDiagnostics     = 1000
	maxReportedDiagnostics = 200
)

// diagnostics collects the errors and warnings of one Parse call so that
// every layer can keep going after a problem and the user sees them all.
type diagnostics struct {
	errs     ErrorList
	warnings []Warning
	// dropped count what went beyond maxKeptDiagnostics.
	droppedErrs, droppedWarnings int
}

// Errorf records an error. With Warnf it makes diagnostics the
// yamlpos.Reporter of the YAML layer.
func (d *diagnostics) Errorf(pos Pos, format string, args ...any) {
	if len(d.errs) >= maxKeptDiagnostics {
		d.droppedErrs++
		return
	}
	d.errs = append(d.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Warnf records a warning.
func (d *diagnostics) Warnf(pos Pos, format string, args ...any) {
	if len(d.warnings) >= maxKeptDiagnostics {
		d.droppedWarnings++
		return
	}
	d.warnings = append(d.warnings, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// errorCount counts the errors recorded, kept or not.
func (d *diagnostics) errorCount() int { return len(d.errs) + d.droppedErrs }

// sortedErrors returns the errors by position, without exact repeats (a
// template shared by several jobs through an alias can yield the same
// message twice), at most maxReportedDiagnostics of them and a last one
// counting the others.
func (d *diagnostics) sortedErrors() ErrorList {
	l := slices.Clone(d.errs)
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(comparePos(a.Pos, b.Pos), strings.Compare(a.Msg, b.Msg))
	})
	l = slices.CompactFunc(l, func(a, b *Error) bool { return *a == *b })
	if more := len(l) - maxReportedDiagnostics + d.droppedErrs; more > 0 && len(l) > 0 {
		last := l[min(len(l), maxReportedDiagnostics)-1].Pos
		l = append(l[:min(len(l), maxReportedDiagnostics)], &Error{Pos: last, Msg: fmt.Sprintf("... and %d more problems", more)})
	}
	return l
}

func (d *diagnostics) sortedWarnings() []Warning {
	l := slices.Clone(d.warnings)
	slices.SortStableFunc(l, func(a, b Warning) int {
		return cmp.Or(comparePos(a.Pos, b.Pos), strings.Compare(a.Msg, b.Msg))
	})
	l = slices.Compact(l)
	if more := len(l) - maxReportedDiagnostics + d.droppedWarnings; more > 0 && len(l) > 0 {
		last := l[min(len(l), maxReportedDiagnostics)-1].Pos
		l = append(l[:min(len(l), maxReportedDiagnostics)], Warning{Pos: last, Msg: fmt.Sprintf("... and %d more warnings", more)})
	}
	return l
}
