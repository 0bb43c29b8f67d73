package ghworkflow

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Bounds on the problems kept and reported: a generated file can hold
// thousands of mistakes, and nobody reads past the first screens anyway.
const (
	maxKeptDiagnostics     = 1000
	maxReportedDiagnostics = 200
)

// diagnostics collects the errors and warnings of one Parse or Plan call, so
// that every layer keeps going after a problem and the user sees them all.
type diagnostics struct {
	errs     pipeline.ErrorList
	warnings []pipeline.Warning
	// dropped count what went beyond maxKeptDiagnostics.
	droppedErrs, droppedWarnings int
}

// Errorf records an error. With Warnf it makes diagnostics the
// yamlpos.Reporter of the YAML layer.
func (d *diagnostics) Errorf(pos pipeline.Pos, format string, args ...any) {
	if len(d.errs) >= maxKeptDiagnostics {
		d.droppedErrs++
		return
	}
	d.errs = append(d.errs, &pipeline.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Warnf records a warning.
func (d *diagnostics) Warnf(pos pipeline.Pos, format string, args ...any) {
	if len(d.warnings) >= maxKeptDiagnostics {
		d.droppedWarnings++
		return
	}
	d.warnings = append(d.warnings, pipeline.Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (d *diagnostics) failed() bool { return len(d.errs)+d.droppedErrs > 0 }

func comparePos(a, b pipeline.Pos) int {
	return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
}

// sortedErrors returns the errors by position without exact repeats, at
// most maxReportedDiagnostics of them and a last one counting the others.
func (d *diagnostics) sortedErrors() pipeline.ErrorList {
	l := slices.Clone(d.errs)
	slices.SortStableFunc(l, func(a, b *pipeline.Error) int {
		return cmp.Or(comparePos(a.Pos, b.Pos), strings.Compare(a.Msg, b.Msg))
	})
	l = slices.CompactFunc(l, func(a, b *pipeline.Error) bool { return *a == *b })
	if more := len(l) - maxReportedDiagnostics + d.droppedErrs; more > 0 && len(l) > 0 {
		n := min(len(l), maxReportedDiagnostics)
		l = append(l[:n], &pipeline.Error{Pos: l[n-1].Pos, Msg: fmt.Sprintf("... and %d more problems", more)})
	}
	return l
}

func (d *diagnostics) sortedWarnings() []pipeline.Warning {
	l := slices.Clone(d.warnings)
	slices.SortStableFunc(l, func(a, b pipeline.Warning) int {
		return cmp.Or(comparePos(a.Pos, b.Pos), strings.Compare(a.Msg, b.Msg))
	})
	l = slices.Compact(l)
	if more := len(l) - maxReportedDiagnostics + d.droppedWarnings; more > 0 && len(l) > 0 {
		n := min(len(l), maxReportedDiagnostics)
		l = append(l[:n], pipeline.Warning{Pos: l[n-1].Pos, Msg: fmt.Sprintf("... and %d more warnings", more)})
	}
	return l
}

// keys describes the keys a mapping of the workflow may hold, for the
// unknown-key error: GitHub rejects unknown keys, and so does Gantry.
type keys []string

// unknown reports key, written at pos in the mapping at path, as unknown.
func (k keys) unknown(d *diagnostics, path string, key *yamlpos.Node) {
	msg := fmt.Sprintf("%s: unknown key `%s`", path, key.Value)
	if s := k.suggest(key.Value); s != "" {
		msg += fmt.Sprintf("; did you mean `%s`?", s)
	}
	msg += " (valid keys: " + strings.Join(k, ", ") + ")"
	d.Errorf(key.Pos, "%s", msg)
}

// suggest returns the key closest to a misspelt one, or "".
func (k keys) suggest(key string) string {
	best, bestDist := "", 3 // more than two edits away is not a typo
	for _, kw := range k {
		if d := editDistance(strings.ToLower(key), kw); d < bestDist && d < len(kw) {
			best, bestDist = kw, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
