// Package jobreports reads the report archive a runner uploads for a job
// (its artifacts:reports files) into what the coordinator keeps: JUnit
// totals and failing cases, line coverage per job and per file, and the
// dotenv variables later jobs receive.
//
// Reports come from jobs and are untrusted: a file that cannot be read is
// a warning on the job, never an error for the upload, and every parser
// is bounded (pkg/reports).
package jobreports

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/pkg/reports"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Report kinds the coordinator reads; others are kept, not read.
const (
	KindJUnit    = "junit"
	KindCoverage = "coverage_report"
	KindDotenv   = "dotenv"
)

// Detail is everything the reports said, kept as a blob: the job record
// holds only its summary.
type Detail struct {
	// Tests has every failing case the parsers kept.
	Tests *model.TestSummary `json:"tests,omitempty"`
	// Files is the coverage of each source file, sorted by path.
	Files []FileCoverage `json:"files,omitempty"`
}

// FileCoverage is one source file's line coverage.
type FileCoverage struct {
	Path         string `json:"path"`
	LinesValid   int64  `json:"lines_valid"`
	LinesCovered int64  `json:"lines_covered"`
}

// Result is what Read made of an archive.
type Result struct {
	// Summary is for the job record (its keys are left to the caller).
	Summary model.Reports
	Detail  Detail
}

// Read reads a gzip-compressed tar whose entries are named
// "<report index>/<path>" (executor.ReportEntryName), specs being the
// job's reports in the same order. Only a failing read of the archive
// itself returns an error (ctx ended); a corrupt archive or report is a
// warning in the result.
func Read(ctx context.Context, archive io.Reader, specs []*gantryv1.ReportSpec) (*Result, error) {
	r := &reader{specs: specs, cov: map[string]FileCoverage{}}
	if err := r.read(ctx, archive); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.warn("the report archive is unreadable: %v", err)
	}
	return r.result(), nil
}

type reader struct {
	specs    []*gantryv1.ReportSpec
	tests    *reports.TestSummary
	cov      map[string]FileCoverage
	covFmt   []string
	covValid int64 // totals of reports that list no files
	covHit   int64
	covSeen  bool
	dotenv   dotenv
	warnings []string
}

func (r *reader) warn(format string, args ...any) {
	if len(r.warnings) < maxWarnings {
		r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
	}
}

// maxWarnings bounds the warnings a job record carries.
const maxWarnings = 20

func (r *reader) read(ctx context.Context, archive io.Reader) error {
	gz, err := gzip.NewReader(archive)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		idx, name, ok := strings.Cut(hdr.Name, "/")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= len(r.specs) {
			r.warn("%s: not a report file of this job; ignored", hdr.Name)
			continue
		}
		r.file(r.specs[i], name, tr)
	}
}

// file reads one report file of the given spec.
func (r *reader) file(spec *gantryv1.ReportSpec, name string, body io.Reader) {
	switch spec.GetKind() {
	case KindJUnit:
		s, err := reports.ParseJUnit(body)
		if err != nil {
			r.warn("junit report %s: %v", name, err)
			return
		}
		if r.tests == nil {
			r.tests = &reports.TestSummary{}
		}
		r.tests.Add(s)
	case KindCoverage:
		format := spec.GetFormat()
		c, err := reports.ParseCoverage(format, body)
		if err != nil {
			r.warn("coverage report %s (%s): %v", name, format, err)
			return
		}
		r.addCoverage(strings.ToLower(format), c)
	case KindDotenv:
		for _, w := range r.dotenv.parse(name, body) {
			r.warn("%s", w)
		}
	}
}

// addCoverage merges a report: a file several reports cover keeps the
// report that covers most of it (the same tests seen twice must not
// count twice).
func (r *reader) addCoverage(format string, c *reports.Coverage) {
	r.covSeen = true
	if !slices.Contains(r.covFmt, format) {
		r.covFmt = append(r.covFmt, format)
	}
	if len(c.Files) == 0 {
		r.covValid += int64(c.LinesValid)
		r.covHit += int64(c.LinesCovered)
		return
	}
	for _, f := range c.Files {
		old, ok := r.cov[f.Path]
		if !ok || int64(f.LinesCovered) > old.LinesCovered {
			r.cov[f.Path] = FileCoverage{Path: f.Path, LinesValid: int64(f.LinesValid), LinesCovered: int64(f.LinesCovered)}
		}
	}
}

func (r *reader) result() *Result {
	res := &Result{}
	if r.tests != nil {
		res.Detail.Tests = testSummary(r.tests, len(r.tests.Failed), false)
		res.Summary.Tests = testSummary(r.tests, model.MaxSummaryCases, true)
	}
	if r.covSeen {
		cs := &model.CoverageSummary{Format: strings.Join(r.covFmt, "+"), LinesValid: r.covValid, LinesCovered: r.covHit}
		for _, f := range r.cov {
			res.Detail.Files = append(res.Detail.Files, f)
			cs.LinesValid += f.LinesValid
			cs.LinesCovered += f.LinesCovered
		}
		slices.SortFunc(res.Detail.Files, func(a, b FileCoverage) int { return strings.Compare(a.Path, b.Path) })
		cs.Files = len(res.Detail.Files)
		res.Summary.Coverage = cs
	}
	res.Summary.Dotenv = r.dotenv.vars
	res.Summary.Warnings = r.warnings
	return res
}

// summaryText bounds a failing case's message and output in the job
// record.
const summaryText = 1 << 10

// testSummary converts parsed totals, keeping at most n failing cases;
// brief ones (for the job record: the detail blob has them whole) have
// their texts cut.
func testSummary(s *reports.TestSummary, n int, brief bool) *model.TestSummary {
	out := &model.TestSummary{
		Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Time: s.Time,
		FailedOmitted: s.FailedOmitted,
	}
	for i, f := range s.Failed {
		if i >= n {
			out.FailedOmitted += len(s.Failed) - n
			break
		}
		c := model.TestCase{Suite: f.Suite, Class: f.Class, Name: f.Name, Kind: f.Kind, Message: f.Message, Output: f.Output}
		if brief {
			c.Message, c.Output = reports.Truncate(c.Message, summaryText), reports.Truncate(c.Output, summaryText)
		}
		out.Failed = append(out.Failed, c)
	}
	return out
}
