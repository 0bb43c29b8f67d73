// Package reports parses the test and coverage reports that CI jobs
// produce, so that the coordinator can show per-job test totals, the
// failing cases and the line coverage (GitLab's artifacts:reports:junit
// and artifacts:reports:coverage_report).
//
// # Test reports
//
// ParseJUnit reads JUnit XML as written by pytest --junitxml, Maven
// Surefire/Failsafe (TEST-*.xml), go-junit-report, gotestsum and most other
// tools: a <testsuites> root or a single <testsuite> root, with suites
// nested to any reasonable depth. Totals are counted from the <testcase>
// elements, as GitLab does: a case with a <failure> is a failure, otherwise
// one with an <error> is an error, otherwise one with <skipped> is
// skipped. The tests/failures/errors/skipped/time attributes of a suite
// are used only when it holds neither test cases nor child suites. Time
// is the sum of the cases' time attributes; time is informational, so an
// unreadable value counts as zero instead of rejecting the report.
// TestSummary.Add merges the reports of several files.
//
// # Coverage reports
//
// Coverage follows GitLab's semantics: the percentage is covered lines
// divided by valid (coverable) lines. Each format is reduced to that:
//
//   - Cobertura (gocover-cobertura, coverage.py `coverage xml`, ...): the
//     <line> elements of each <class>, merged per filename (a line is
//     covered if any class reports hits for it); <method> lines repeat
//     them and are ignored. A report without any class line falls back to the
//     root's lines-valid and lines-covered attributes.
//   - JaCoCo XML: the LINE counter of each <sourcefile>, named
//     package/file; without source files, the report's own LINE counter.
//   - Go coverprofiles (go test -coverprofile, modes set, count and
//     atomic): statements count as lines, as in the total of
//     `go tool cover -func`. Blocks repeated for the same statements, as
//     -coverpkg and concatenated profiles produce, are merged like
//     go tool cover does: covered if any copy has a non-zero count.
//   - LCOV tracefiles (geninfo, c8, istanbul, ...): the DA lines of each
//     SF record, merged per path; a record without DA lines falls back to
//     its LF and LH.
//
// # Hostile input
//
// Reports come from jobs and are untrusted. Every parser reads at most
// MaxInputSize bytes (ErrTooLarge beyond), keeps at most MaxFailedCases
// failing cases (the rest are only counted) and truncates their messages
// and output. XML is decoded strictly and without an entity table, so
// DOCTYPE declarations are read but never expanded: a reference to an
// entity the document declares itself (billion laughs) or an external one
// is an error. Malformed input gives an error naming the problem and,
// where known, its line; no input makes a parser panic.
package reports
