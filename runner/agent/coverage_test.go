package agent

import "testing"

func TestCoverageScannerAsGitLab(t *testing.T) {
	cases := []struct {
		regex, log string
		want       float64
		ok         bool
	}{
		{`/total:\s+\(statements\)\s+\d+.\d+%/`, "ok pkg 0.1s\ntotal:\t\t(statements)\t84.2%\n", 84.2, true},
		{`/TOTAL.*\s+(\d+%)$/`, "TOTAL 120 10 91%\nnoise\nTOTAL 200 20 90%", 90, true}, // last line wins, no final newline
		{`/Coverage: \d+/`, "Coverage: 007\n", 7, true},
		{`/Lines:\s*\d+.\d+\%/`, "Lines: 12.50%\r\n", 12.5, true},
		{`/nothing (\d+)/`, "something 12\n", 0, false},
		{`/cov/`, "cov without a number\n", 0, false},
	}
	for _, c := range cases {
		s, err := newCoverageScanner(c.regex)
		if err != nil {
			t.Fatal(err)
		}
		// Written in small pieces, as a log arrives.
		for i := 0; i < len(c.log); i += 3 {
			if _, err := s.Write([]byte(c.log[i:min(i+3, len(c.log))])); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := s.Coverage()
		if ok != c.ok || got != c.want {
			t.Errorf("%s on %q: %v %v, want %v %v", c.regex, c.log, got, ok, c.want, c.ok)
		}
	}
	if _, err := newCoverageScanner(`/(unclosed/`); err == nil {
		t.Error("a bad regex compiled")
	}
}
