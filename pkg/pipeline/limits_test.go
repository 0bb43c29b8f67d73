package pipeline

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestHugeFileIsRefused(t *testing.T) {
	data := []byte("j:\n  script:\n" + strings.Repeat("    - echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 10<<20/56))
	start := time.Now()
	_, err := Parse(testFile, data)
	if err == nil || !strings.Contains(err.Error(), "ci.yml:1:1: ci.yml is too big: ") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

// The largest file accepted, made of the smallest values, stays within a
// bounded amount of memory and time.
func TestLargestFileIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var b strings.Builder
	b.WriteString("j:\n  script: x\n  variables: {")
	for i := 0; b.Len() < maxFileBytes-64; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("a: 1")
	}
	b.WriteString("}\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	Parse(testFile, []byte(b.String()))
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	limit := 10 * time.Second
	if raceEnabled {
		limit *= 10
	}
	if d > limit {
		t.Errorf("took %v", d)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<30 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	t.Logf("%d bytes: %v, %d MiB allocated", b.Len(), d, (after.TotalAlloc-before.TotalAlloc)>>20)
}

func TestDeepNestingIsRefused(t *testing.T) {
	for _, src := range []string{
		"j:\n  script: x\n  variables: " + strings.Repeat("{a: ", 5000) + strings.Repeat("}", 5000) + "\n",
		"j:\n  script: x\n  variables: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
		strings.Repeat("a:\n ", 3000) + "b\n",
	} {
		_, err := Parse(testFile, []byte(src))
		if err == nil {
			t.Errorf("%.40q...: no error", src)
		}
	}
}

func TestDiagnosticsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("j:\n  script: x\n  variables: {")
	for i := range 5000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("A: 1")
	}
	b.WriteString("}\n")
	pl := mustParse(t, b.String())
	if n := len(pl.Warnings); n != maxReportedDiagnostics+1 || pl.Warnings[n-1].Msg != "... and 4799 more warnings" {
		t.Errorf("%d warnings, last %v", n, pl.Warnings[n-1])
	}

	b.Reset()
	for i := range 3000 {
		fmt.Fprintf(&b, "j%d:\n  script: x\n  stage: nope\n", i)
	}
	errs := parseErrors(t, b.String())
	if n := len(errs); n != maxReportedDiagnostics+1 || !strings.HasSuffix(errs[n-1], "... and 2800 more problems") {
		t.Errorf("%d errors, last %v", n, errs[n-1])
	}
}

// A billion-laughs document: each level aliases the previous one ten
// times. Aliases share one node, and what a job expands from them (a
// flattened script, extended jobs) is bounded: a clear error, quickly,
// without the memory of the expansion.
func TestBillionLaughsIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(".l0: &l0 [\"echo lol\"]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, ".l%d: &l%d [", i, i)
		for k := 0; k < 10; k++ {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	for _, use := range []string{
		"j:\n  script: *l9\n",
		"j:\n  script: [echo]\n  variables:\n    A: *l9\n",
		"j:\n  script: [echo]\n  tags: *l9\n",
	} {
		start := time.Now()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Parse(testFile, []byte(b.String()+use))
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%q: no error for a billion-line expansion", use)
		} else {
			t.Logf("%q: %.200v", use, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%q: took %s", use, d)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<30 {
			t.Errorf("%q: allocated %d MB", use, grew>>20)
		}
	}
}
