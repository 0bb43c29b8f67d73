package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Coverage is the line coverage of a job: GitLab's percentage is
// LinesCovered / LinesValid.
type Coverage struct {
	LinesValid   int // coverable lines (statements for Go)
	LinesCovered int
	// Files is sorted by Path; its sums equal the totals when it is not empty.
	Files []FileCoverage
}

// FileCoverage is the line coverage of one source file.
type FileCoverage struct {
	// Path is the file as the report names it: relative to a Cobertura
	// <source>, package/file for JaCoCo, an import path for Go, as written
	// for LCOV.
	Path         string
	LinesValid   int
	LinesCovered int
}

// Percent returns covered lines as a percentage of valid lines, 0 when
// nothing is coverable.
func (c *Coverage) Percent() float64 {
	if c == nil || c.LinesValid == 0 {
		return 0
	}
	return 100 * float64(c.LinesCovered) / float64(c.LinesValid)
}

// Coverage report formats accepted by ParseCoverage.
const (
	FormatCobertura = "cobertura"
	FormatJaCoCo    = "jacoco"
	FormatGoCover   = "gocover"
	FormatLCOV      = "lcov"
)

// Formats lists the coverage formats ParseCoverage accepts.
var Formats = []string{FormatCobertura, FormatJaCoCo, FormatGoCover, FormatLCOV}

// ErrUnknownFormat is returned by ParseCoverage for a format it does not know.
var ErrUnknownFormat = fmt.Errorf("unknown coverage format (want one of %s)", strings.Join(Formats, ", "))

// ParseCoverage reads a coverage report in the named format, one of
// Formats (case-insensitive).
func ParseCoverage(format string, r io.Reader) (*Coverage, error) {
	return parseCoverage(format, r, defaultLimits)
}

func parseCoverage(format string, r io.Reader, lim limits) (*Coverage, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatCobertura:
		return parseCobertura(r, lim)
	case FormatJaCoCo:
		return parseJaCoCo(r, lim)
	case FormatGoCover:
		return parseGoCover(r, lim)
	case FormatLCOV:
		return parseLCOV(r, lim)
	}
	return nil, fmt.Errorf("%q: %w", format, ErrUnknownFormat)
}

// lineSet collects, per file, which lines are coverable and which covered.
type lineSet map[string]map[int]bool

func (s lineSet) add(path string, line int, covered bool) {
	lines := s[path]
	if lines == nil {
		lines = map[int]bool{}
		s[path] = lines
	}
	lines[line] = lines[line] || covered
}

// coverage sums the sets and any extra per-file totals into a Coverage.
func (s lineSet) coverage(extra []FileCoverage) *Coverage {
	files := extra
	for path, lines := range s {
		f := FileCoverage{Path: path, LinesValid: len(lines)}
		for _, covered := range lines {
			if covered {
				f.LinesCovered++
			}
		}
		files = append(files, f)
	}
	return newCoverage(files)
}

// newCoverage sorts files, merges duplicate paths and sums the totals.
func newCoverage(files []FileCoverage) *Coverage {
	slices.SortStableFunc(files, func(a, b FileCoverage) int { return cmp.Compare(a.Path, b.Path) })
	c := &Coverage{}
	for _, f := range files {
		if n := len(c.Files); n > 0 && c.Files[n-1].Path == f.Path {
			c.Files[n-1].LinesValid += f.LinesValid
			c.Files[n-1].LinesCovered += f.LinesCovered
		} else {
			c.Files = append(c.Files, f)
		}
		c.LinesValid += f.LinesValid
		c.LinesCovered += f.LinesCovered
	}
	return c
}

// checkTotals rejects totals that no tool writes.
func checkTotals(format, what string, valid, covered int) error {
	if covered > valid {
		return fmt.Errorf("%s: %s: %d lines covered of %d valid", format, what, covered, valid)
	}
	return nil
}
