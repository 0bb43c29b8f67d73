package reports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseJUnitFile(t *testing.T, name string) *TestSummary {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseJUnit(f)
	if err != nil {
		t.Fatalf("ParseJUnit(%s): %v", name, err)
	}
	return s
}

// failedCase is what the tests check of a FailedCase: the output only by a substring.
type failedCase struct {
	suite, class, name, kind, message, outputHas string
}

func TestParseJUnitFiles(t *testing.T) {
	tests := []struct {
		file                           string
		tests, failures, errs, skipped int
		time                           time.Duration
		failed                         []failedCase
	}{
		{
			file: "pytest-junit.xml", tests: 4, failures: 1, skipped: 1, time: 6 * time.Millisecond,
			failed: []failedCase{{"pytest", "tests.test_calc", "test_div_by_zero", KindFailure,
				"ZeroDivisionError: division by zero", ">       return a / b\nE       ZeroDivisionError"}},
		},
		{
			file: "go-junit-report.xml", tests: 5, failures: 1, errs: 1, skipped: 1, time: 10 * time.Millisecond,
			failed: []failedCase{
				{"github.com/acme/calc", "github.com/acme/calc", "TestDiv", KindFailure, "Failed", "calc_test.go:14: Div(1, 0) = 0, want an error"},
				{"github.com/acme/calc/cmd", "github.com/acme/calc/cmd", "[build failed]", KindError, "Build error", "undefined: calc.Mul"},
			},
		},
		{
			file: "TEST-com.acme.calc.CalcTest.xml", tests: 5, failures: 1, errs: 1, skipped: 1, time: 1040 * time.Millisecond,
			failed: []failedCase{
				{"com.acme.calc.CalcTest", "com.acme.calc.CalcTest", "divides", KindFailure, "expected: <2> but was: <3>", "at com.acme.calc.CalcTest.divides(CalcTest.java:21)"},
				{"com.acme.calc.CalcTest", "com.acme.calc.CalcTest", "parsesInput", KindError, `For input string: "x"`, "java.lang.NumberFormatException"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := parseJUnitFile(t, tt.file)
			if s.Tests != tt.tests || s.Failures != tt.failures || s.Errors != tt.errs || s.Skipped != tt.skipped || s.Time != tt.time {
				t.Errorf("got tests=%d failures=%d errors=%d skipped=%d time=%v, want %d %d %d %d %v",
					s.Tests, s.Failures, s.Errors, s.Skipped, s.Time, tt.tests, tt.failures, tt.errs, tt.skipped, tt.time)
			}
			checkFailed(t, s.Failed, tt.failed)
		})
	}
}

func checkFailed(t *testing.T, got []FailedCase, want []failedCase) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d failed cases %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Suite != w.suite || g.Class != w.class || g.Name != w.name || g.Kind != w.kind || g.Message != w.message {
			t.Errorf("failed[%d] = %q %q %q %q %q, want %q %q %q %q %q", i,
				g.Suite, g.Class, g.Name, g.Kind, g.Message, w.suite, w.class, w.name, w.kind, w.message)
		}
		if !strings.Contains(g.Output, w.outputHas) {
			t.Errorf("failed[%d].Output = %q, want it to contain %q", i, g.Output, w.outputHas)
		}
	}
}

func TestParseJUnitRules(t *testing.T) {
	tests := []struct {
		name                           string
		in                             string
		tests, failures, errs, skipped int
		time                           time.Duration
		failed                         []failedCase
	}{
		{
			name:  "cases win over wrong attributes",
			in:    `<testsuite name="s" tests="99" failures="42" time="100"><testcase name="a" time="0.5"/><testcase name="b" time="0,25"><failure/></testcase></testsuite>`,
			tests: 2, failures: 1, time: 750 * time.Millisecond,
			failed: []failedCase{{suite: "s", name: "b", kind: KindFailure}},
		},
		{
			name: "nested suites use the innermost name",
			in: `<testsuites><testsuite name="outer"><testcase name="a"/>
				<testsuite name="inner"><testcase name="b" classname="C"><error message="boom" type="E">trace</error></testcase>
				<testsuite name="deeper"><testcase name="c"><skipped/></testcase></testsuite></testsuite></testsuite></testsuites>`,
			tests: 3, errs: 1, skipped: 1,
			failed: []failedCase{{"inner", "C", "b", KindError, "boom", "trace"}},
		},
		{
			name:  "a suite without cases reports its attributes",
			in:    `<testsuites><testsuite name="empty" tests="3" failures="1" errors="1" skipped="1" time="1,234.5"/><testsuite name="x"><testcase name="a"/></testsuite></testsuites>`,
			tests: 4, failures: 1, errs: 1, skipped: 1, time: 1234500 * time.Millisecond,
		},
		{
			name:  "empty testsuites",
			in:    `<?xml version="1.0"?><testsuites/>`,
			tests: 0,
		},
		{
			name:  "failure wins over error and skipped; message falls back to type",
			in:    `<testsuite name="s"><testcase name="a"><skipped/><error message="teardown"/><failure type="AssertionError">first</failure><failure>second</failure></testcase></testsuite>`,
			tests: 1, failures: 1,
			failed: []failedCase{{suite: "s", name: "a", kind: KindFailure, message: "AssertionError", outputHas: "first"}},
		},
		{
			name:  "empty failure text falls back to the case output",
			in:    `<testsuite name="s"><testcase name="a"><failure message="m"/><system-out>out</system-out><system-err>err</system-err></testcase></testsuite>`,
			tests: 1, failures: 1,
			failed: []failedCase{{suite: "s", name: "a", kind: KindFailure, message: "m", outputHas: "err\nout"}},
		},
		{
			name:  "unreadable time counts as zero",
			in:    `<testsuite name="s"><testcase name="a" time="N/A"/><testcase name="b" time="-3"/><testcase name="c" time="1e300"/></testsuite>`,
			tests: 3, time: 1<<63 - 1,
		},
		{
			name:  "latin1",
			in:    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><testsuite name=\"caf\xe9\"><testcase name=\"a\"><failure message=\"\xe9t\xe9\"/></testcase></testsuite>",
			tests: 1, failures: 1,
			failed: []failedCase{{suite: "café", name: "a", kind: KindFailure, message: "été"}},
		},
		{
			name:  "DOCTYPE without entity use is fine",
			in:    `<?xml version="1.0"?><!DOCTYPE testsuite [<!ENTITY x "y">]><!-- c --><testsuite name="s"><testcase name="a &amp; b"><failure message="&lt;&#65;&gt;"/></testcase></testsuite>`,
			tests: 1, failures: 1,
			failed: []failedCase{{suite: "s", name: "a & b", kind: KindFailure, message: "<A>"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseJUnit(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if s.Tests != tt.tests || s.Failures != tt.failures || s.Errors != tt.errs || s.Skipped != tt.skipped || s.Time != tt.time {
				t.Errorf("got tests=%d failures=%d errors=%d skipped=%d time=%v, want %d %d %d %d %v",
					s.Tests, s.Failures, s.Errors, s.Skipped, s.Time, tt.tests, tt.failures, tt.errs, tt.skipped, tt.time)
			}
			checkFailed(t, s.Failed, tt.failed)
		})
	}
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
`

func TestParseJUnitErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "no <testsuites> or <testsuite> element"},
		{"not xml", "hello", "no <testsuites> or <testsuite> element"},
		{"wrong root", `<coverage/>`, "root element is <coverage>"},
		{"truncated", `<testsuite name="s"><testcase name="a">`, "XML ends unexpectedly"},
		{"mismatched tags", `<testsuite><testcase></testsuite>`, "malformed XML at line 1"},
		{"billion laughs in text", billionLaughs + `<testsuite><testcase name="a"><failure>&lol9;</failure></testcase></testsuite>`, "invalid character entity &lol9;"},
		{"billion laughs in attribute", billionLaughs + `<testsuite name="&lol9;"/>`, "invalid character entity &lol9;"},
		{"external entity", `<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite name="&xxe;"/>`, "invalid character entity &xxe;"},
		{"bad count", `<testsuite tests="many"/>`, `attribute tests: invalid count "many"`},
		{"negative count", `<testsuite tests="-1"/>`, `invalid count "-1"`},
		{"case in case", `<testsuite><testcase><testcase/></testcase></testsuite>`, "<testcase> inside <testcase>"},
		{"two roots", `<testsuite/><testsuite/>`, "second root element"},
		{"unknown encoding", `<?xml version="1.0" encoding="EBCDIC"?><testsuite/>`, `unsupported encoding "EBCDIC"`},
		{"too deep", strings.Repeat("<testsuite>", maxDepth+1), "nested deeper than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseJUnit(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseJUnit = %+v, %v; want error containing %q", s, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "junit: ") {
				t.Errorf("error %q does not name the format", err)
			}
		})
	}
}

func TestParseJUnitLimits(t *testing.T) {
	lim := limits{input: 4 << 10, failed: 2, message: 16, output: 32}
	var b strings.Builder
	b.WriteString("<testsuite name=\"s\">")
	for i := range 5 {
		fmt.Fprintf(&b, `<testcase name="t%d"><failure message="%s">%s</failure></testcase>`, i, strings.Repeat("é", 20), strings.Repeat("x", 100))
	}
	b.WriteString("</testsuite>")
	s, err := parseJUnit(strings.NewReader(b.String()), lim)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tests != 5 || s.Failures != 5 || len(s.Failed) != 2 || s.FailedOmitted != 3 {
		t.Fatalf("got tests=%d failures=%d failed=%d omitted=%d, want 5 5 2 3", s.Tests, s.Failures, len(s.Failed), s.FailedOmitted)
	}
	for _, f := range s.Failed {
		if len(f.Message) > 16 || len(f.Output) > 32 || !strings.HasSuffix(f.Output, "[truncated]") {
			t.Errorf("not truncated: %q (%d) %q (%d)", f.Message, len(f.Message), f.Output, len(f.Output))
		}
		if !strings.HasPrefix(f.Message, "éé") {
			t.Errorf("message cut inside a rune: %q", f.Message)
		}
	}

	big := io.MultiReader(strings.NewReader("<testsuite><system-out>"), strings.NewReader(strings.Repeat("x", 5<<10)))
	if _, err := parseJUnit(big, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized report: got %v, want ErrTooLarge", err)
	}
}

// TestCapReader checks the real limit; the parsers' use of it is tested
// with small limits, since decoding 64 MiB under -race takes too long.
func TestCapReader(t *testing.T) {
	n, err := io.Copy(io.Discard, newCapReader(endless{}, MaxInputSize))
	if !errors.Is(err, ErrTooLarge) || n > MaxInputSize {
		t.Fatalf("endless input: read %d bytes, %v; want at most %d and ErrTooLarge", n, err, MaxInputSize)
	}
	exact := io.LimitReader(endless{}, 1000)
	if n, err := io.Copy(io.Discard, newCapReader(exact, 1000)); n != 1000 || err != nil {
		t.Fatalf("input at the limit: read %d bytes, %v; want 1000, nil", n, err)
	}
}

// endless reads as an infinite run of spaces.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestTestSummaryAdd(t *testing.T) {
	var total TestSummary
	total.Add(nil)
	for _, name := range []string{"pytest-junit.xml", "go-junit-report.xml", "TEST-com.acme.calc.CalcTest.xml"} {
		total.Add(parseJUnitFile(t, name))
	}
	if total.Tests != 14 || total.Failures != 3 || total.Errors != 2 || total.Skipped != 3 || total.Time != 1056*time.Millisecond {
		t.Errorf("got %+v", total)
	}
	if len(total.Failed) != 5 || total.Passed() != 6 {
		t.Errorf("got %d failed cases, %d passed; want 5, 6", len(total.Failed), total.Passed())
	}

	many := &TestSummary{Failed: make([]FailedCase, MaxFailedCases), FailedOmitted: 7}
	total.Add(many)
	if len(total.Failed) != MaxFailedCases || total.FailedOmitted != 7+5 {
		t.Errorf("after merging a full list: %d kept, %d omitted; want %d, 12", len(total.Failed), total.FailedOmitted, MaxFailedCases)
	}
}
