package ghworkflow

import (
	"fmt"
	"strings"
	"testing"
)

// benchWorkflow is a workflow of 100 jobs: a quarter with a 2x3 matrix,
// each job needing the previous ones in a chain of ten, with checkout,
// run steps using expressions, outputs and secrets, and artifacts.
func benchWorkflow() string {
	var b strings.Builder
	b.WriteString("name: bench\non:\n  push:\n    branches: [main, 'release/**']\n  pull_request:\nenv:\n  GLOBAL: x\njobs:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "  job%d:\n    runs-on: ubuntu-latest\n", i)
		if i%10 != 0 {
			fmt.Fprintf(&b, "    needs: [job%d]\n", i-1)
		}
		if i%4 == 0 {
			b.WriteString("    strategy:\n      matrix:\n        go: ['1.22', '1.23']\n        os: [ubuntu-latest, ubuntu-24.04, self-hosted]\n    container: golang:${{ matrix.go }}\n")
		}
		b.WriteString(`    env:
      TOKEN: ${{ secrets.TOKEN }}
    steps:
      - uses: actions/checkout@v4
      - id: v
        run: echo "version=${{ github.sha }}-${{ matrix.go }}" >> "$GITHUB_OUTPUT"
      - run: |
          make build VERSION=${{ steps.v.outputs.version }}
          make test
      - if: failure()
        run: echo failed on ${{ github.ref_name }}
      - uses: actions/upload-artifact@v4
        with:
          name: out-${{ github.job }}-${{ strategy.job-index }}
          path: out/
`)
	}
	return b.String()
}

func BenchmarkParsePlan(b *testing.B) {
	data := []byte(benchWorkflow())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		w, err := Parse(".github/workflows/bench.yml", data)
		if err != nil {
			b.Fatal(err)
		}
		plan, err := w.Plan(onMain, []string{"TOKEN"})
		if err != nil {
			b.Fatal(err)
		}
		if len(plan.Jobs) != 75+25*6 {
			b.Fatalf("%d jobs", len(plan.Jobs))
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	w, err := Parse(".github/workflows/bench.yml", []byte(benchWorkflow()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Plan(onMain, []string{"TOKEN"}); err != nil {
			b.Fatal(err)
		}
	}
}
