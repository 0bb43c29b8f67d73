package actions

import "testing"

const benchCondition = "github.event_name == 'push' && contains(github.event.issue.labels.*.name, 'bug') && startsWith(github.ref, 'refs/heads/')"

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(benchCondition); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	e, err := Parse(benchCondition)
	if err != nil {
		b.Fatal(err)
	}
	ctx := testContext(StatusSuccess)
	for b.Loop() {
		if _, err := e.Eval(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInterpolate(b *testing.B) {
	ctx := testContext(StatusSuccess)
	const s = "echo ${{ github.actor }} built ${{ matrix.os }}/${{ matrix.node-version }} at ${{ needs.build.outputs.version }}"
	for b.Loop() {
		if _, err := Interpolate(s, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalIf(b *testing.B) {
	ctx := testContext(StatusSuccess)
	for b.Loop() {
		if _, err := EvalIf(benchCondition, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToJSON(b *testing.B) {
	e, err := Parse("toJSON(github)")
	if err != nil {
		b.Fatal(err)
	}
	ctx := testContext(StatusSuccess)
	for b.Loop() {
		if _, err := e.Eval(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
