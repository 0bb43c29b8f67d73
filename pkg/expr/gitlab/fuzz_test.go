package gitlab

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that its errors are positioned
// SyntaxErrors, and that the canonical form of every expression parses back
// to an expression with the same canonical form and the same results.
//
// Run it as go test -fuzz FuzzParse -fuzztime 2500000x -fuzzminimizetime 2s
// (about a minute). The short minimise time keeps the workers from spending a
// minute on each long interesting input, which looks like a hang; a count
// rather than a duration avoids Go 1.26's spurious "context deadline
// exceeded" at the end of a timed run (golang/go#75804).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`,
		`$CI_PIPELINE_SOURCE == "merge_request_event"`,
		`$CI_COMMIT_TAG =~ /^v\d+\.\d+/`,
		`$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS`,
		`($A =~ /^content.*/ || $B) && ($C =~ /thing$/i || ${D})`,
		`$A != null && $A != '' || "x" !~ $P`,
		`$A =~ /a\/b//ms`,
		`("string" == ("test" && "string"))`,
		`$A == ($B == $C) == null`,
		"$A ==\n\t'x'",
		`$A =~ /./`,
		`${A`,
		`"x\"y"`,
	} {
		f.Add(s)
	}
	vars := []map[string]string{
		{},
		{"A": "", "B": "", "C": "", "D": "", "P": ""},
		{"A": "abc", "B": "abc", "C": "/b/", "D": " ", "P": "/^a/i", "x": "x"},
		{"A": "true", "B": "a/b", "C": "content", "D": "thing", "P": "23", "CI_COMMIT_TAG": "v1.2"},
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *SyntaxError", err, err)
			}
			if se.Offset < 0 || se.Offset > len(src) || se.Line < 1 || se.Column < 1 || se.Msg == "" {
				t.Fatalf("bad position or message: %+v", se)
			}
			if !utf8.ValidString(se.Error()) && utf8.ValidString(src) {
				t.Fatalf("error message is not UTF-8: %q", se.Error())
			}
			return
		}
		canon := e.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, src, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form of %q is not stable: %q then %q", src, canon, again.String())
		}
		for _, v := range vars {
			if got, want := again.Eval(lookupIn(v)), e.Eval(lookupIn(v)); got != want {
				t.Fatalf("%q and its canonical form %q disagree on %v: %v vs %v", src, canon, v, want, got)
			}
		}
	})
}

func BenchmarkParseEval(b *testing.B) {
	const src = `$CI_PIPELINE_SOURCE == "merge_request_event" || ` +
		`$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_COMMIT_TAG =~ /^v\d+\.\d+/`
	vars := lookupIn(map[string]string{
		"CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_BRANCH":   "main",
		"CI_DEFAULT_BRANCH":  "main",
		"CI_COMMIT_TAG":      "v1.22.3",
	})
	b.ReportAllocs()
	for b.Loop() {
		e, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		if !e.Eval(vars) {
			b.Fatal("false")
		}
	}
}

func BenchmarkEval(b *testing.B) {
	e, err := Parse(`$CI_PIPELINE_SOURCE == "merge_request_event" || ` +
		`$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_COMMIT_TAG =~ /^v\d+\.\d+/`)
	if err != nil {
		b.Fatal(err)
	}
	vars := lookupIn(map[string]string{
		"CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_BRANCH":   "main",
		"CI_DEFAULT_BRANCH":  "main",
		"CI_COMMIT_TAG":      "v1.22.3",
	})
	b.ReportAllocs()
	for b.Loop() {
		if !e.Eval(vars) {
			b.Fatal("false")
		}
	}
}
