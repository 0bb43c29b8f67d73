package jobreports

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/coordinator/model"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// archive builds a report archive of name → content.
func archive(t *testing.T, files [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "reports", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var specs = []*gantryv1.ReportSpec{
	{Kind: KindJUnit, Paths: []string{"report.xml", "target/surefire-reports/TEST-*.xml"}},
	{Kind: KindCoverage, Paths: []string{"coverage.xml"}, Format: "cobertura"},
	{Kind: KindDotenv, Paths: []string{"build.env"}},
	{Kind: "sast", Paths: []string{"gl-sast-report.json"}},
}

func TestReadSums(t *testing.T) {
	in := archive(t, [][2]string{
		{"0/report.xml", sample(t, "pytest-junit.xml")},
		{"0/target/surefire-reports/TEST-com.acme.calc.CalcTest.xml", sample(t, "TEST-com.acme.calc.CalcTest.xml")},
		{"1/coverage.xml", sample(t, "gocover-cobertura.xml")},
		{"2/build.env", "VERSION=1.2.3\n\n# a comment\nexport URL=https://example.test/a=b\nQUOTED=\"kept as is\"\nVERSION=1.2.4\nnot a line\n"},
		{"3/gl-sast-report.json", `{"not":"read"}`},
	})
	res, err := Read(context.Background(), bytes.NewReader(in), specs)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	// pytest 4 tests (1 failure, 1 skipped) + Surefire 5 (1 failure, 1 error, 1 skipped).
	if s.Tests == nil || s.Tests.Tests != 9 || s.Tests.Failures != 2 || s.Tests.Errors != 1 || s.Tests.Skipped != 2 {
		t.Fatalf("tests = %+v, want 9 tests, 2 failures, 1 error, 2 skipped", s.Tests)
	}
	if len(s.Tests.Failed) != 3 || len(res.Detail.Tests.Failed) != 3 {
		t.Fatalf("failed cases: summary %d, detail %d; want 3 and 3", len(s.Tests.Failed), len(res.Detail.Tests.Failed))
	}
	if c := s.Coverage; c == nil || c.LinesValid != 30 || c.LinesCovered != 24 || c.Format != "cobertura" || c.Files != len(res.Detail.Files) || c.Files == 0 {
		t.Fatalf("coverage = %+v (files %d), want 24/30 cobertura with its files", c, len(res.Detail.Files))
	}
	if got := s.Coverage.Percent(); got != 80 {
		t.Errorf("percent = %v, want 80", got)
	}
	wantEnv := []model.EnvVar{{Key: "VERSION", Value: "1.2.4"}, {Key: "URL", Value: "https://example.test/a=b"}, {Key: "QUOTED", Value: `"kept as is"`}}
	if !slices.Equal(s.Dotenv, wantEnv) {
		t.Errorf("dotenv = %q, want %q", s.Dotenv, wantEnv)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "build.env:7: not a KEY=VALUE line") {
		t.Errorf("warnings = %q, want one for build.env line 7", s.Warnings)
	}
}

func TestReadWarnsAndNeverFails(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"malformed junit", archive(t, [][2]string{{"0/report.xml", "<testsuite><testcase"}}), "junit report report.xml:"},
		{"unknown coverage format", archive(t, [][2]string{{"1/coverage.xml", "<coverage/>"}}), "unknown coverage format"},
		{"entry of no report", archive(t, [][2]string{{"9/x.xml", "x"}, {"x.xml", "x"}}), "9/x.xml: not a report file of this job"},
		{"not an archive", []byte("garbage"), "the report archive is unreadable"},
	}
	bad := slices.Clone(specs)
	bad[1] = &gantryv1.ReportSpec{Kind: KindCoverage, Paths: []string{"coverage.xml"}, Format: "clover"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Read(context.Background(), bytes.NewReader(tt.in), bad)
			if err != nil {
				t.Fatalf("Read = %v; a bad report is a warning", err)
			}
			if !strings.Contains(strings.Join(res.Summary.Warnings, "\n"), tt.want) {
				t.Errorf("warnings %q lack %q", res.Summary.Warnings, tt.want)
			}
			if res.Summary.Tests != nil || res.Summary.Coverage != nil {
				t.Errorf("nothing readable, yet tests %+v coverage %+v", res.Summary.Tests, res.Summary.Coverage)
			}
		})
	}
}

func TestSummaryIsBrief(t *testing.T) {
	var b strings.Builder
	b.WriteString("<testsuite>")
	for range 30 {
		b.WriteString(`<testcase name="t"><failure message="` + strings.Repeat("m", 3000) + `">` + strings.Repeat("o", 10000) + `</failure></testcase>`)
	}
	b.WriteString("</testsuite>")
	res, err := Read(context.Background(), bytes.NewReader(archive(t, [][2]string{{"0/report.xml", b.String()}})), specs)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary.Tests
	if len(s.Failed) != model.MaxSummaryCases || s.FailedOmitted != 30-model.MaxSummaryCases {
		t.Fatalf("summary lists %d cases, omits %d; want %d and %d", len(s.Failed), s.FailedOmitted, model.MaxSummaryCases, 30-model.MaxSummaryCases)
	}
	if len(s.Failed[0].Message) > summaryText+len("…") || len(s.Failed[0].Output) > summaryText+len("…") {
		t.Errorf("summary texts not cut: message %d, output %d bytes", len(s.Failed[0].Message), len(s.Failed[0].Output))
	}
	if d := res.Detail.Tests; len(d.Failed) != 30 || len(d.Failed[0].Output) < 10000 {
		t.Errorf("detail keeps %d cases (first output %d bytes), want all 30 whole", len(d.Failed), len(d.Failed[0].Output))
	}
}

func TestDotenvLimits(t *testing.T) {
	var b strings.Builder
	for i := range MaxDotenvVars + 5 {
		b.WriteString("V")
		b.WriteString(strings.Repeat("X", i%7))
		b.WriteString(string(rune('A' + i%26)))
		b.WriteString("_")
		b.WriteString(strings.Repeat("1", 1+i/26))
		b.WriteString("=v\n")
	}
	var d dotenv
	w := d.parse("big.env", strings.NewReader(b.String()))
	if len(d.vars) != MaxDotenvVars || len(w) != 1 || !strings.Contains(w[0], "more than 200 variables") {
		t.Errorf("kept %d vars, warnings %q; want %d and one warning", len(d.vars), w, MaxDotenvVars)
	}
	d = dotenv{}
	w = d.parse("huge.env", strings.NewReader("A="+strings.Repeat("x", MaxDotenvBytes)+"\n"))
	if len(d.vars) != 0 || len(w) != 1 {
		t.Errorf("oversized file: kept %q, warnings %q; want nothing and one warning", d.vars, w)
	}
}
