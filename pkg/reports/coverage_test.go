package reports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseCoverageFiles(t *testing.T) {
	tests := []struct {
		format, file   string
		valid, covered int
		percent        string // as `go tool cover -func` or the tool's own report prints it
		files          []FileCoverage
	}{
		// Generated with go test -coverpkg=./... -coverprofile on a two-package
		// module: the profile repeats every block once per test binary.
		// `go tool cover -func` prints "total: (statements) 80.0%" for both.
		{format: "gocover", file: "gocover-coverpkg-set.out", valid: 20, covered: 16, percent: "80.0", files: []FileCoverage{
			{"example.com/calc/calc/calc.go", 10, 6}, {"example.com/calc/stack/stack.go", 10, 10},
		}},
		{format: "gocover", file: "gocover-coverpkg-atomic.out", valid: 20, covered: 16, percent: "80.0", files: []FileCoverage{
			{"example.com/calc/calc/calc.go", 10, 6}, {"example.com/calc/stack/stack.go", 10, 10},
		}},
		// gocover-cobertura of the same profile: lines, not statements.
		{format: "cobertura", file: "gocover-cobertura.xml", valid: 30, covered: 24, percent: "80.0", files: []FileCoverage{
			{"calc/calc.go", 16, 10}, {"stack/stack.go", 14, 14},
		}},
		{format: "cobertura", file: "coverage-py.xml", valid: 15, covered: 10, percent: "66.7", files: []FileCoverage{
			{"app/calc.py", 10, 7}, {"app/cli.py", 5, 3},
		}},
		{format: "jacoco", file: "jacoco.xml", valid: 21, covered: 15, percent: "71.4", files: []FileCoverage{
			{"com/acme/calc/Calc.java", 9, 7}, {"com/acme/calc/Parser.java", 7, 3}, {"com/acme/calc/util/Strings.java", 5, 5},
		}},
		{format: "lcov", file: "c8-lcov.info", valid: 12, covered: 9, percent: "75.0", files: []FileCoverage{
			{"/builds/acme/web/src/calc.js", 8, 6}, {"/builds/acme/web/src/format.js", 4, 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, err := ParseCoverage(tt.format, f)
			if err != nil {
				t.Fatal(err)
			}
			if c.LinesValid != tt.valid || c.LinesCovered != tt.covered {
				t.Errorf("got %d/%d lines covered, want %d/%d", c.LinesCovered, c.LinesValid, tt.covered, tt.valid)
			}
			if got := fmt.Sprintf("%.1f", c.Percent()); got != tt.percent {
				t.Errorf("Percent() = %s, want %s", got, tt.percent)
			}
			if !reflect.DeepEqual(c.Files, tt.files) {
				t.Errorf("Files = %+v, want %+v", c.Files, tt.files)
			}
		})
	}
}

func TestParseCoverageRules(t *testing.T) {
	tests := []struct {
		name, format, in string
		want             Coverage
	}{
		{
			name: "gocover concatenated count profiles merge repeated blocks", format: "gocover",
			in:   "mode: count\na.go:1.1,2.2 2 0\nb.go:1.1,1.9 1 0\n\nmode: count\na.go:1.1,2.2 2 5\nb.go:1.1,1.9 1 0\nb.go:3.1,4.2 3 1\n",
			want: Coverage{6, 5, []FileCoverage{{"a.go", 2, 2}, {"b.go", 4, 3}}},
		},
		{
			name: "gocover huge counts and Windows paths", format: "gocover",
			in:   "mode: atomic\nC:/src/x.go:1.1,2.2 1 184467440737095516150\n",
			want: Coverage{1, 1, []FileCoverage{{"C:/src/x.go", 1, 1}}},
		},
		{
			name: "gocover profile of a package without statements", format: "gocover",
			in: "mode: set\n", want: Coverage{},
		},
		{
			name: "cobertura classes of one file merge; method lines are ignored", format: "cobertura",
			in: `<coverage><packages><package><classes>
				<class name="T" filename="x.go"><methods><method><lines><line number="99" hits="1"/></lines></method></methods>
				<lines><line number="1" hits="0"/><line number="2" hits="3"/></lines></class>
				<class name="-" filename="x.go"><lines><line number="1" hits="2"/><line number="5" hits="0"/></lines></class>
				</classes></package></packages></coverage>`,
			want: Coverage{3, 2, []FileCoverage{{"x.go", 3, 2}}},
		},
		{
			name: "cobertura summary only", format: "cobertura",
			in:   `<coverage lines-valid="40" lines-covered="10" line-rate="0.25"><packages/></coverage>`,
			want: Coverage{LinesValid: 40, LinesCovered: 10},
		},
		{
			name: "jacoco without source files uses the report counter", format: "jacoco",
			in:   `<report name="r"><package name="p"><class name="p/A"><counter type="LINE" missed="9" covered="9"/></class></package><counter type="INSTRUCTION" missed="1" covered="1"/><counter type="LINE" missed="3" covered="1"/></report>`,
			want: Coverage{LinesValid: 4, LinesCovered: 1},
		},
		{
			name: "jacoco groups", format: "jacoco",
			in:   `<report name="r"><group name="mod"><package name="p"><sourcefile name="A.java"><counter type="LINE" missed="1" covered="2"/></sourcefile></package></group></report>`,
			want: Coverage{3, 2, []FileCoverage{{"p/A.java", 3, 2}}},
		},
		{
			name: "lcov from geninfo: version, checksums, repeated records merge", format: "lcov",
			in: "VER:2.0\nTN:unit\nSF:/src/a.c\nFNL:0,3,5\nFNA:0,1,main\nDA:3,1,kLpq\nDA:4,0,Zx9\nDA:5,0\nLF:3\nLH:1\nend_of_record\n" +
				"TN:integration\nSF:/src/a.c\nDA:4,7\nDA:6,0\nend_of_record\n" +
				"SF:/src/b.c\nLF:10\nLH:4\nend_of_record\n",
			want: Coverage{14, 6, []FileCoverage{{"/src/a.c", 4, 2}, {"/src/b.c", 10, 4}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCoverage(tt.format, strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*c, tt.want) {
				t.Errorf("got %+v, want %+v", *c, tt.want)
			}
		})
	}
}

func TestParseCoverageErrors(t *testing.T) {
	tests := []struct {
		name, format, in, want string
	}{
		{"unknown format", "clover", "", "unknown coverage format"},
		{"gocover empty", "gocover", "", "gocover: no mode line"},
		{"gocover no mode", "gocover", "a.go:1.1,2.2 1 1\n", "line 1: profile does not start with a mode line"},
		{"gocover bad mode", "gocover", "mode: sometimes\n", `unknown mode "sometimes"`},
		{"gocover mixed modes", "gocover", "mode: set\nmode: count\n", `line 2: mode "count" differs from "set"`},
		{"gocover bad block", "gocover", "mode: set\na.go:1.1-2.2 1 1\n", `block "1.1-2.2" is not start,end`},
		{"gocover bad fields", "gocover", "mode: set\na.go 1 1\n", "is not file:start,end statements count"},
		{"gocover bad count", "gocover", "mode: set\na.go:1.1,2.2 1 x\n", `invalid hit count "x"`},
		{"gocover inconsistent blocks", "gocover", "mode: set\na.go:1.1,2.2 1 1\na.go:1.1,2.2 2 1\n", "line 3: a.go:1.1,2.2 has 2 statements, earlier 1"},
		{"gocover long line", "gocover", "mode: set\n" + strings.Repeat("a", maxLineSize+1), "line 2 longer than 1024 KiB"},
		{"cobertura empty", "cobertura", "", "no <coverage> element"},
		{"cobertura wrong root", "cobertura", "<report/>", "root element is <report>, not <coverage>"},
		{"cobertura class without file", "cobertura", `<coverage><class name="x"/></coverage>`, "<class> without a filename"},
		{"cobertura bad hits", "cobertura", `<coverage><class filename="a"><lines><line number="1" hits="lots"/></lines></class></coverage>`, `<line number=1>: invalid hit count "lots"`},
		{"cobertura bad number", "cobertura", `<coverage><class filename="a"><lines><line hits="1"/></lines></class></coverage>`, `invalid line number ""`},
		{"cobertura covered > valid", "cobertura", `<coverage lines-valid="1" lines-covered="2"/>`, "2 lines covered of 1 valid"},
		{"cobertura billion laughs", "cobertura", billionLaughs + `<coverage lines-valid="&lol9;"/>`, "invalid character entity &lol9;"},
		{"cobertura truncated", "cobertura", `<coverage><packages>`, "XML ends unexpectedly"},
		{"jacoco wrong root", "jacoco", "<coverage/>", "root element is <coverage>, not <report>"},
		{"jacoco bad counter", "jacoco", `<report><counter type="LINE" missed="-1" covered="0"/></report>`, `<report> LINE counter: missed: invalid count "-1"`},
		{"jacoco sourcefile without name", "jacoco", `<report><package name="p"><sourcefile/></package></report>`, "<sourcefile> without a name"},
		{"lcov empty", "lcov", "\n\n", "lcov: no records"},
		{"lcov not lcov", "lcov", "hello world\n", `line 1: "hello world" is not KEY:value`},
		{"lcov DA outside record", "lcov", "TN:\nDA:1,1\n", "line 2: DA outside a record"},
		{"lcov missing end_of_record", "lcov", "SF:a.js\nDA:1,1\n", `record for "a.js" at line 1 has no end_of_record`},
		{"lcov nested SF", "lcov", "SF:a.js\nSF:b.js\n", `line 2: SF before end_of_record of "a.js"`},
		{"lcov bad DA", "lcov", "SF:a.js\nDA:1\nend_of_record\n", "line 2: DA:1 is not line,count"},
		{"lcov LH > LF", "lcov", "SF:a.js\nLF:1\nLH:2\nend_of_record\n", "2 lines covered of 1 valid"},
		{"lcov stray end", "lcov", "end_of_record\n", "end_of_record without SF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCoverage(tt.format, strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseCoverage = %+v, %v; want error containing %q", c, err, tt.want)
			}
		})
	}
	if _, err := ParseCoverage("clover", strings.NewReader("")); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("got %v, want ErrUnknownFormat", err)
	}
}

func TestParseCoverageTooLarge(t *testing.T) {
	lim := limits{input: 1 << 10}
	inputs := map[string]io.Reader{
		"gocover":   io.MultiReader(strings.NewReader("mode: set\n"), strings.NewReader(strings.Repeat("a.go:1.1,2.2 1 1\n", 100))),
		"lcov":      io.MultiReader(strings.NewReader("SF:a\n"), strings.NewReader(strings.Repeat("DA:1,1\n", 200))),
		"cobertura": io.MultiReader(strings.NewReader("<coverage>"), strings.NewReader(strings.Repeat("<!-- -->", 200))),
		"jacoco":    io.MultiReader(strings.NewReader("<report>"), strings.NewReader(strings.Repeat("<!-- -->", 200))),
	}
	for format, r := range inputs {
		if _, err := parseCoverage(format, r, lim); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: got %v, want ErrTooLarge", format, err)
		}
	}
}

func TestPercent(t *testing.T) {
	var nilCov *Coverage
	for _, tt := range []struct {
		c    *Coverage
		want float64
	}{{nilCov, 0}, {&Coverage{}, 0}, {&Coverage{LinesValid: 4, LinesCovered: 1}, 25}, {&Coverage{LinesValid: 3, LinesCovered: 3}, 100}} {
		if got := tt.c.Percent(); got != tt.want {
			t.Errorf("%+v.Percent() = %v, want %v", tt.c, got, tt.want)
		}
	}
}
