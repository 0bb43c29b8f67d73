package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// TestSummary is what a job's JUnit reports say about its tests.
type TestSummary struct {
	// Tests counts every test case, including failed, errored and skipped ones.
	Tests    int
	Failures int
	Errors   int
	Skipped  int
	// Time is the sum of the test cases' times.
	Time time.Duration
	// Failed lists the failing and erroring cases, at most MaxFailedCases.
	Failed []FailedCase
	// FailedOmitted counts the failing cases left out of Failed.
	FailedOmitted int
}

// FailedCase is one failing or erroring test case.
type FailedCase struct {
	Suite string // innermost enclosing <testsuite> name
	Class string // classname attribute
	Name  string
	Kind  string // "failure" or "error"
	// Message is the message attribute (or else the type), at most MaxMessageSize bytes.
	Message string
	// Output is the failure's text (a stack trace, the test's log), or the
	// case's system-err and system-out when that is empty; at most
	// MaxOutputSize bytes.
	Output string
}

// Failure kinds.
const (
	KindFailure = "failure"
	KindError   = "error"
)

// Passed returns the number of cases that neither failed, errored nor were skipped.
func (s *TestSummary) Passed() int {
	return max(0, s.Tests-s.Failures-s.Errors-s.Skipped)
}

// Add merges o into s, as for the several report files of one job.
func (s *TestSummary) Add(o *TestSummary) {
	if o == nil {
		return
	}
	s.add(o.Tests, o.Failures, o.Errors, o.Skipped, o.Time)
	s.FailedOmitted += o.FailedOmitted
	for _, f := range o.Failed {
		s.keep(f, MaxFailedCases)
	}
}

func (s *TestSummary) add(tests, failures, errs, skipped int, d time.Duration) {
	s.Tests += tests
	s.Failures += failures
	s.Errors += errs
	s.Skipped += skipped
	s.Time = addDuration(s.Time, d)
}

func (s *TestSummary) keep(f FailedCase, limit int64) {
	if int64(len(s.Failed)) >= limit {
		s.FailedOmitted++
		return
	}
	s.Failed = append(s.Failed, f)
}

// ParseJUnit reads one JUnit XML report: a <testsuites> or a <testsuite> root.
func ParseJUnit(r io.Reader) (*TestSummary, error) {
	return parseJUnit(r, defaultLimits)
}

func parseJUnit(r io.Reader, lim limits) (*TestSummary, error) {
	p := &junitParser{d: newXMLDecoder(r, lim), lim: lim, sum: &TestSummary{}}
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return nil, fmt.Errorf("junit: no <testsuites> or <testsuite> element (empty file?)")
		}
		if err != nil {
			return nil, xmlError("junit", p.d, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "testsuites" && se.Name.Local != "testsuite" {
			return nil, fmt.Errorf("junit: root element is <%s>, not <testsuites> or <testsuite>", se.Name.Local)
		}
		c, err := p.suite(se, 1)
		if err != nil {
			return nil, err
		}
		p.sum.add(c.tests, c.failures, c.errors, c.skipped, c.time)
		if err := p.trailer(); err != nil {
			return nil, err
		}
		return p.sum, nil
	}
}

type junitParser struct {
	d   *xml.Decoder
	lim limits
	sum *TestSummary
}

// counts are the totals of one suite.
type counts struct {
	tests, failures, errors, skipped int
	time                             time.Duration
}

func (c *counts) add(o counts) {
	c.tests += o.tests
	c.failures += o.failures
	c.errors += o.errors
	c.skipped += o.skipped
	c.time = addDuration(c.time, o.time)
}

// trailer checks that only comments and whitespace follow the root.
func (p *junitParser) trailer() error {
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return xmlError("junit", p.d, err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			line, _ := p.d.InputPos()
			return fmt.Errorf("junit: second root element at line %d", line)
		}
	}
}

func (p *junitParser) errorf(format string, args ...any) error {
	line, _ := p.d.InputPos()
	return fmt.Errorf("junit: line %d: %s", line, fmt.Sprintf(format, args...))
}

// suite reads a <testsuites> or <testsuite> element after its start tag.
func (p *junitParser) suite(start xml.StartElement, depth int) (counts, error) {
	if depth > maxDepth {
		return counts{}, p.errorf("suites nested deeper than %d levels", maxDepth)
	}
	name, _ := attr(start, "name")
	var c counts
	children := false
	for {
		tok, err := p.d.Token()
		if err != nil {
			return c, xmlError("junit", p.d, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if !children {
				return p.suiteAttrs(start)
			}
			return c, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "testsuite":
				children = true
				sc, err := p.suite(t, depth+1)
				if err != nil {
					return c, err
				}
				c.add(sc)
			case "testcase":
				children = true
				cc, err := p.testCase(t, name)
				if err != nil {
					return c, err
				}
				c.add(cc)
			default: // properties, system-out, system-err, ...
				if err := p.d.Skip(); err != nil {
					return c, xmlError("junit", p.d, err)
				}
			}
		}
	}
}

// suiteAttrs reads the totals of a suite that holds no cases.
func (p *junitParser) suiteAttrs(se xml.StartElement) (counts, error) {
	var c counts
	for _, f := range []struct {
		name string
		dst  *int
	}{{"tests", &c.tests}, {"failures", &c.failures}, {"errors", &c.errors}, {"skipped", &c.skipped}, {"skips", &c.skipped}} {
		v, ok := attr(se, f.name)
		if _, both := attr(se, "skipped"); both && f.name == "skips" {
			continue // Ant-style alias; never count twice
		}
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		n, err := parseCount(v)
		if err != nil {
			return c, p.errorf("<%s> attribute %s: %v", se.Name.Local, f.name, err)
		}
		*f.dst += n
	}
	c.time = parseSeconds(se)
	return c, nil
}

// testCase reads a <testcase> element after its start tag.
func (p *junitParser) testCase(start xml.StartElement, suite string) (counts, error) {
	c := counts{tests: 1, time: parseSeconds(start)}
	fc := FailedCase{Suite: suite}
	fc.Class, _ = attr(start, "classname")
	fc.Name, _ = attr(start, "name")
	var failure, errored *FailedCase
	skipped := false
	var stdout, stderr string
	for {
		tok, err := p.d.Token()
		if err != nil {
			return c, xmlError("junit", p.d, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			switch {
			case failure != nil:
				c.failures = 1
				p.keepFailed(*failure, stderr, stdout)
			case errored != nil:
				c.errors = 1
				p.keepFailed(*errored, stderr, stdout)
			case skipped:
				c.skipped = 1
			}
			return c, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "failure", "error":
				text, err := p.text(p.lim.output)
				if err != nil {
					return c, err
				}
				f := fc
				f.Kind = t.Name.Local
				f.Message, _ = attr(t, "message")
				if f.Message == "" {
					f.Message, _ = attr(t, "type")
				}
				f.Message = Truncate(f.Message, p.lim.message)
				f.Output = text
				if f.Kind == KindFailure && failure == nil {
					failure = &f
				} else if f.Kind == KindError && errored == nil {
					errored = &f
				}
			case "skipped":
				skipped = true
				if err := p.d.Skip(); err != nil {
					return c, xmlError("junit", p.d, err)
				}
			case "system-out", "system-err":
				text, err := p.text(p.lim.output)
				if err != nil {
					return c, err
				}
				if t.Name.Local == "system-out" {
					stdout = text
				} else {
					stderr = text
				}
			case "testcase", "testsuite":
				return c, p.errorf("<%s> inside <testcase>", t.Name.Local)
			default: // properties, rerunFailure, flakyFailure, ...
				if err := p.d.Skip(); err != nil {
					return c, xmlError("junit", p.d, err)
				}
			}
		}
	}
}

func (p *junitParser) keepFailed(f FailedCase, stderr, stdout string) {
	if strings.TrimSpace(f.Output) == "" {
		f.Output = Truncate(strings.TrimSpace(stderr+"\n"+stdout), p.lim.output)
	}
	p.sum.keep(f, p.lim.failed)
}

// text returns the character data up to the end of the current element,
// nested elements included, keeping at most n bytes.
func (p *junitParser) text(n int64) (string, error) {
	var b strings.Builder
	depth := 0
	for {
		tok, err := p.d.Token()
		if err != nil {
			return "", xmlError("junit", p.d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return "", p.errorf("elements nested deeper than %d levels", maxDepth)
			}
		case xml.EndElement:
			if depth == 0 {
				return Truncate(b.String(), n), nil
			}
			depth--
		case xml.CharData:
			if room := n + 1 - int64(b.Len()); room > 0 {
				b.Write(t[:min(int64(len(t)), room)])
			}
		}
	}
}

// parseSeconds reads a time attribute in seconds. Surefire has written
// thousands separators ("1,234.5") and some locales a decimal comma
// ("0,5"); anything unreadable counts as zero.
func parseSeconds(se xml.StartElement) time.Duration {
	v, ok := attr(se, "time")
	if !ok {
		return 0
	}
	v = strings.TrimSpace(v)
	if strings.Contains(v, ".") {
		v = strings.ReplaceAll(v, ",", "")
	} else {
		v = strings.Replace(v, ",", ".", 1)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(math.Round(f * float64(time.Second)))
}

// addDuration adds without overflowing.
func addDuration(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
