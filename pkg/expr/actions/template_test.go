package actions

import (
	"errors"
	"strings"
	"testing"
)

func TestInterpolate(t *testing.T) {
	ctx := testContext(StatusSuccess)
	for _, c := range []struct {
		in, want string
	}{
		{"", ""},
		{"plain text", "plain text"},
		{"Hello ${{ github.actor }}!", "Hello octocat!"},
		{"${{ matrix.os }}-${{ matrix.node-version }}", "ubuntu-latest-20"},
		{"${{ 1 }}${{ 2 }}", "12"},
		{"${{1}}", "1"},
		{"${{ null }}", ""},
		{"${{ secrets.MISSING }}", ""},
		{"${{ 1.50 }}", "1.5"},
		{"${{ true }}", "true"},
		{"x ${{ github.event }}", "x Object"},
		{"x ${{ matrix.empty }}", "x Array"},
		{"${{ 'it''s' }}", "it's"},
		{"${{ '}}' }}", "}}"},
		{"${{ format('{0}}}', '{{') }}", "{{}"},
		{"${{ format('{{{0}}}', 'x') }}", "{x}"},
		{"echo '${{ github.ref }}'", "echo 'refs/heads/main'"},
		{`echo "${{ github.actor }}" '${{ 'a''b' }}'`, `echo "octocat" 'a'b'`},
		{"${{ github.ref }} }}", "refs/heads/main }}"},
		{"{{ not an expression }} $ {{ }} ${ {", "{{ not an expression }} $ {{ }} ${ {"},
		{"line1\n${{ github.actor }}\nline3", "line1\noctocat\nline3"},
		{"${{ toJSON(matrix.empty) }}", "[]"},
		{"v${{ needs.build.outputs.version }}", "v1.2.3"},
		{"${{ github.run_number }}", "42"},
		{"é${{ 'ü' }}é", "éüé"},
	} {
		got, err := Interpolate(c.in, ctx)
		if err != nil || got != c.want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestInterpolateErrors(t *testing.T) {
	ctx := testContext(StatusSuccess)
	for _, c := range []struct {
		in, want string
	}{
		{"a ${{ b", "column 3: the expression is not closed: found '${{' without a matching '}}'"},
		{"a ${{ 'b }}", "column 3: the expression is not closed: found '${{' without a matching '}}'"},
		{"a ${{ }}", "column 3: expected an expression between '${{' and '}}'"},
		{"${{}}", "column 1: expected an expression between '${{' and '}}'"},
		{"x ${{ github. }}", "column 14: expected a property name or '*' after '.', found end of expression"},
		{"é ${{ foo }}", `column 7: unrecognized named-value "foo": expected a context (` + contextList + `), a literal or a function call`},
		{"ok ${{ 1 }} then ${{ hashFiles('x') }}", "column 22: hashFiles() is not supported: Gantry evaluates expressions without the job's workspace"},
		{"${{ github.event }}", "column 5: the expression evaluates to an Object where text is expected; use toJSON() to turn it into text"},
		{"${{ matrix.empty }}", "column 5: the expression evaluates to an Array where text is expected; use toJSON() to turn it into text"},
	} {
		_, err := Interpolate(c.in, ctx)
		if err == nil || err.Error() != c.want {
			t.Errorf("Interpolate(%q): error %v,\n want %q", c.in, err, c.want)
		}
	}
	long := strings.Repeat("x", MaxTemplateLength+1)
	if _, err := Interpolate(long, nil); err == nil || err.Error() != "column 1: string is 1048577 bytes long, more than the maximum of 1048576" {
		t.Errorf("Interpolate(long): error %v", err)
	}
	_, err := Interpolate("${{ hashFiles('x') }}", nil)
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("error %v does not wrap ErrUnsupported", err)
	}
}

// TestParseTemplate checks that a string which is one expression keeps the
// expression's kind, as GitHub does for whole-value expressions.
func TestParseTemplate(t *testing.T) {
	ctx := testContext(StatusSuccess)
	for _, c := range []struct {
		in   string
		want any
	}{
		{"${{ fromJSON('[1, \"a\"]') }}", []any{1.0, "a"}},
		{"${{ 3 }}", 3.0},
		{"${{ github.event.issue.labels.*.name }}", []any{"bug", "help wanted"}},
		{"${{ null }}", nil},
		{" ${{ 3 }}", " 3"},
		{"${{ 3 }} ", "3 "},
		{"text", "text"},
		{"", ""},
	} {
		e, err := ParseTemplate(c.in)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", c.in, err)
		}
		v, err := e.Eval(ctx)
		if err != nil || !same(v, c.want) {
			t.Errorf("ParseTemplate(%q).Eval() = %s %#v, %v; want %#v", c.in, v.Kind(), v.Interface(), err, c.want)
		}
		if e.String() != c.in {
			t.Errorf("ParseTemplate(%q).String() = %q", c.in, e.String())
		}
	}
}

func TestEvalIf(t *testing.T) {
	for _, c := range []struct {
		cond                        string
		success, failure, cancelled bool
	}{
		// No condition means success().
		{"", true, false, false},
		{"  ", true, false, false},
		// Without a status function, success() && (cond) is implied.
		{"github.ref == 'refs/heads/main'", true, false, false},
		{"${{ github.ref == 'refs/heads/main' }}", true, false, false},
		{" ${{ github.event_name == 'push' }} ", true, false, false},
		{"github.ref == 'refs/heads/dev'", false, false, false},
		{"true", true, false, false},
		{"1", true, false, false},
		{"0", false, false, false},
		{"'0'", true, false, false}, // a non-empty string is truthy
		{"matrix.missing", false, false, false},
		{"github.event.issue.labels.*.name", true, false, false},
		// With one, the condition is taken as written.
		{"always()", true, true, true},
		{"${{ always() }}", true, true, true},
		{"failure()", false, true, false},
		{"cancelled()", false, false, true},
		{"!cancelled()", true, true, false},
		{"success() || failure()", true, true, false},
		{"failure() || github.ref == 'refs/heads/main'", true, true, true},
		{"always() && github.ref == 'refs/heads/dev'", false, false, false},
		{"FAILURE()", false, true, false},
		{"${{ format('{0}', always()) == 'true' }}", true, true, true},
		{"contains(needs.*.result, 'failure') && always()", true, true, true},
		// GitHub's quirks: ${{ 'x' }} is the condition x, and text mixed
		// with ${{ }} is a string, true when not empty.
		{"${{ false }}", false, false, false},
		{"${{ 'false' }}", false, false, false},
		{"${{ 'always()' }}", true, true, true},
		{"${{ '' }}", true, false, false},
		{"${{ ('false') }}", true, false, false},
		{"${{ false }} && ${{ false }}", true, false, false},
		{"${{ github.event_name }} == 'pull_request'", true, false, false},
		{"${{ always() }} && false", true, true, true},
	} {
		for status, want := range map[Status]bool{StatusSuccess: c.success, StatusFailure: c.failure, StatusCancelled: c.cancelled} {
			got, err := EvalIf(c.cond, testContext(status))
			if err != nil || got != want {
				t.Errorf("EvalIf(%q) with status %s = %v, %v; want %v", c.cond, status, got, err, want)
			}
		}
	}
}

// TestEvalIfShortCircuit checks that the implied success() is evaluated
// first, so a condition that cannot be evaluated is not reached once
// something has failed, as in GitHub.
func TestEvalIfShortCircuit(t *testing.T) {
	if ok, err := EvalIf("hashFiles('x') != ''", testContext(StatusFailure)); err != nil || ok {
		t.Errorf("EvalIf after a failure = %v, %v; want false, nil", ok, err)
	}
	if _, err := EvalIf("hashFiles('x') != ''", testContext(StatusSuccess)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("EvalIf = %v, want ErrUnsupported", err)
	}
}

func TestParseIf(t *testing.T) {
	for _, c := range []struct {
		cond, want string
	}{
		{"", "success()"},
		{"github.ref == 'x'", "success() && (github.ref == 'x')"},
		{"  github.ref == 'x'\n", "success() && (github.ref == 'x')"},
		{"${{ github.ref == 'x' }}", "success() && (${{ github.ref == 'x' }})"},
		{"${{ 'github.ref' }}", "success() && (github.ref)"},
		{"always()", "always()"},
		{"${{ !cancelled() }}", "${{ !cancelled() }}"},
	} {
		e, err := ParseIf(c.cond)
		if err != nil {
			t.Fatalf("ParseIf(%q): %v", c.cond, err)
		}
		if e.String() != c.want {
			t.Errorf("ParseIf(%q).String() = %q, want %q", c.cond, e.String(), c.want)
		}
	}
}

func TestParseIfErrors(t *testing.T) {
	for _, c := range []struct {
		cond, want string
	}{
		{"github ==", "column 10: unexpected end of expression: expected a value"},
		{"  github ==", "column 12: unexpected end of expression: expected a value"},
		{"${{ github == }}", "column 14: unexpected end of expression: expected a value"},
		{"${{ github", "column 1: the expression is not closed: found '${{' without a matching '}}'"},
		{"${{ 'github ==' }}", "column 15: unexpected end of expression: expected a value"},
		{"success() && foo", `column 14: unrecognized named-value "foo": expected a context (` + contextList + `), a literal or a function call`},
	} {
		_, err := EvalIf(c.cond, nil)
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != c.want {
			t.Errorf("EvalIf(%q): error %v,\n want %q", c.cond, err, c.want)
		}
	}
}
