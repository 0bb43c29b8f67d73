package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F, files ...string) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzJUnit checks that no input panics, hangs or breaks the bounds.
func FuzzJUnit(f *testing.F) {
	for _, b := range addSeeds(f, "pytest-junit.xml", "go-junit-report.xml", "TEST-com.acme.calc.CalcTest.xml") {
		f.Add(b)
	}
	f.Add([]byte(billionLaughs + `<testsuite name="&lol9;"/>`))
	f.Add([]byte(`<testsuites><testsuite tests="3" failures="1"/><testsuite><testcase time="1,5"><error/></testcase></testsuite></testsuites>`))
	lim := limits{input: 1 << 20, failed: 3, message: 64, output: 128}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseJUnit(bytes.NewReader(data), lim)
		if err != nil {
			if s != nil {
				t.Fatal("summary returned with an error")
			}
			return
		}
		if s.Tests < 0 || s.Failures < 0 || s.Errors < 0 || s.Skipped < 0 || s.Time < 0 {
			t.Fatalf("negative totals: %+v", s)
		}
		if len(s.Failed) > 3 || len(s.Failed)+s.FailedOmitted > s.Failures+s.Errors {
			t.Fatalf("%d failed cases listed, %d omitted, for %d failures and %d errors", len(s.Failed), s.FailedOmitted, s.Failures, s.Errors)
		}
		for _, c := range s.Failed {
			if len(c.Message) > 64 || len(c.Output) > 128 {
				t.Fatalf("untruncated case: %d, %d bytes", len(c.Message), len(c.Output))
			}
			if c.Kind != KindFailure && c.Kind != KindError {
				t.Fatalf("kind %q", c.Kind)
			}
			if !utf8.ValidString(c.Message) || !utf8.ValidString(c.Output) {
				t.Fatalf("invalid UTF-8 in %+v", c)
			}
		}
	})
}

// FuzzCoverage runs every coverage parser on the input and checks the totals.
func FuzzCoverage(f *testing.F) {
	seeds := addSeeds(f, "gocover-coverpkg-set.out", "gocover-cobertura.xml", "coverage-py.xml", "jacoco.xml", "c8-lcov.info")
	for _, b := range seeds {
		f.Add(b)
	}
	f.Add([]byte("mode: count\na.go:1.1,2.2 2 0\nmode: count\na.go:1.1,2.2 2 5\n"))
	f.Add([]byte("VER:2\nSF:a\nDA:1,1,x\nLF:3\nLH:1\nend_of_record\nSF:b\nLF:2\nLH:2\nend_of_record\n"))
	lim := limits{input: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range Formats {
			c, err := parseCoverage(format, bytes.NewReader(data), lim)
			if err != nil {
				if !strings.HasPrefix(err.Error(), format+": ") {
					t.Fatalf("error %q does not name the format %s", err, format)
				}
				continue
			}
			checkCoverage(t, format, c)
		}
	})
}

func checkCoverage(t *testing.T, format string, c *Coverage) {
	t.Helper()
	if c.LinesCovered < 0 || c.LinesCovered > c.LinesValid {
		t.Fatalf("%s: %d of %d lines covered", format, c.LinesCovered, c.LinesValid)
	}
	if p := c.Percent(); p < 0 || p > 100 {
		t.Fatalf("%s: %v%%", format, p)
	}
	if len(c.Files) == 0 {
		return
	}
	var valid, covered int
	for i, f := range c.Files {
		if f.LinesCovered < 0 || f.LinesCovered > f.LinesValid {
			t.Fatalf("%s: %s: %d of %d lines covered", format, f.Path, f.LinesCovered, f.LinesValid)
		}
		if i > 0 && c.Files[i-1].Path >= f.Path {
			t.Fatalf("%s: files not sorted or not unique: %q, %q", format, c.Files[i-1].Path, f.Path)
		}
		valid += f.LinesValid
		covered += f.LinesCovered
	}
	if valid != c.LinesValid || covered != c.LinesCovered {
		t.Fatalf("%s: files sum to %d/%d, totals %d/%d", format, covered, valid, c.LinesCovered, c.LinesValid)
	}
}
