package ghworkflow

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// limit scales a time limit for the race detector.
func limit(d time.Duration) time.Duration {
	if raceEnabled {
		return 10 * d
	}
	return d
}

func TestHugeFileIsRefused(t *testing.T) {
	data := []byte("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n" + strings.Repeat("      - run: echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 10<<20/56))
	start := time.Now()
	_, err := Parse(testFile, data)
	if err == nil || !strings.Contains(err.Error(), "ci.yml:1:1: ci.yml is too big: ") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > limit(time.Second) {
		t.Errorf("took %v", d)
	}
}

// Aliases of aliases stand for billions of values in a few hundred
// bytes; they are refused without being expanded.
func TestBillionLaughs(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		src        string
	}{
		{"values", "with its aliases expanded it has more than 500000 values", laughs(9, "[x, x, x, x, x, x, x, x, x, x]", "[*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]")},
		{"text", "holds more than 16 MiB of text", laughs(5, strings.Repeat("x", 4096), "[*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			checkContains(t, "errors", parseErrors(t, tc.src), tc.want)
			if d := time.Since(start); d > limit(time.Second) {
				t.Errorf("took %v", d)
			}
		})
	}
}

// laughs builds a workflow whose env value is levels of aliases of
// aliases of leaf.
func laughs(levels int, leaf, level string) string {
	var b strings.Builder
	b.WriteString("x0: &a0 " + leaf + "\n")
	for i := 1; i <= levels; i++ {
		prev := fmt.Sprintf("a%d", i-1)
		args := make([]any, strings.Count(level, "%s"))
		for k := range args {
			args[k] = prev
		}
		fmt.Fprintf(&b, "x%d: &a%d %s\n", i, i, fmt.Sprintf(level, args...))
	}
	fmt.Fprintf(&b, "on: push\njobs:\n  j:\n    runs-on: x\n    env: {A: *a%d}\n    steps: [{run: x}]\n", levels)
	return b.String()
}

func TestDeepNestingIsRefused(t *testing.T) {
	for _, src := range []string{
		"on: push\njobs:\n  j:\n    runs-on: x\n    env: " + strings.Repeat("{a: ", 5000) + strings.Repeat("}", 5000) + "\n",
		"on: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
		strings.Repeat("a:\n ", 3000) + "b\n",
	} {
		start := time.Now()
		if _, err := Parse(testFile, []byte(src)); err == nil {
			t.Errorf("%.40q...: no error", src)
		}
		if d := time.Since(start); d > limit(time.Second) {
			t.Errorf("%.40q...: took %v", src, d)
		}
	}
}

func TestDiagnosticsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n")
	for range maxSteps {
		b.WriteString("      - uses: acme/unsupported@v1\n")
	}
	errs := parseErrors(t, b.String())
	if n := len(errs); n != maxReportedDiagnostics+1 || !strings.HasSuffix(errs[n-1], "... and 800 more problems") {
		t.Errorf("%d errors, last %q", n, errs[len(errs)-1])
	}
}

// The largest file accepted, made of the smallest jobs, parses and plans
// within bounded time and memory.
func TestLargestFileIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var b strings.Builder
	b.WriteString("on: push\njobs:\n")
	for i := 0; i < maxJobs; i++ {
		fmt.Fprintf(&b, "  j%d:\n    runs-on: x\n    steps:\n", i)
		for k := 0; b.Len() < (i+1)*(maxFileBytes-4096)/maxJobs; k++ {
			fmt.Fprintf(&b, "      - run: echo %d ${{ github.sha }}\n", k)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	w, err := Parse(testFile, []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := w.Plan(onMain, nil)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		checkContains(t, "errors", errorMessages(t, err), "the plan is too big")
	} else if len(plan.Jobs) != maxJobs {
		t.Errorf("%d jobs", len(plan.Jobs))
	}
	if d > limit(20*time.Second) {
		t.Errorf("took %v", d)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<30 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	t.Logf("%d bytes: %v, %d MiB allocated", b.Len(), d, (after.TotalAlloc-before.TotalAlloc)>>20)
}

// A matrix multiplies a big job: the scripts of a plan are bounded.
func TestPlanScriptsAreBounded(t *testing.T) {
	src := oneJob("strategy: {matrix: {a: [" + strings.TrimSuffix(strings.Repeat("1,", 256), ",") + "]}}\nsteps:\n  - run: |\n" +
		strings.Repeat("      echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ${{ matrix.a }}\n", 3000))
	w := mustParse(t, src)
	start := time.Now()
	checkContains(t, "errors", planErrors(t, w, onMain), "the plan is too big")
	if d := time.Since(start); d > limit(5*time.Second) {
		t.Errorf("took %v", d)
	}
}
