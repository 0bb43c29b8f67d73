package actions

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary text to every entry point. Nothing may panic
// or hang, errors must be of the documented types, and syntax errors must
// point inside the text (or just after it).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"github.event_name == 'push' && !cancelled()",
		"contains(github.event.issue.labels.*.name, 'bug') || failure()",
		"format('{0}-{{x}}-{1}', matrix.os, toJSON(fromJSON('{\"a\":[1,2.5e3,null]}')))",
		"join(needs.*.outputs['x'], ', ')",
		"github['event'].commits[0].files[*]",
		"(0xff == '255') >= -Infinity != NaN <= .5",
		"steps.build-1.outputs.v",
		"Hello ${{ github.actor }} from ${{ matrix.os }}",
		"${{ '}}' }} ${{",
		"startsWith(github.ref, 'refs/tags/') && endsWith(github.ref, 'É')",
		"hashFiles('**/go.sum')",
		"'it''s' == 'IT''S'",
		"((((",
		"!!!!!!!!",
	} {
		f.Add(s)
	}
	ctx := testContext(StatusSuccess)
	f.Fuzz(func(t *testing.T, s string) {
		width := utf8.RuneCountInString(s) + 1
		checkSyntax := func(what string, err error) {
			t.Helper()
			var se *SyntaxError
			if err == nil {
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("%s(%q): error %T %v is not a *SyntaxError", what, s, err, err)
			}
			if se.Column < 1 || se.Column > width {
				t.Fatalf("%s(%q): column %d outside 1..%d", what, s, se.Column, width)
			}
		}
		checkEval := func(what string, e *Expr) {
			t.Helper()
			v, err := e.Eval(ctx)
			var ee *EvalError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("%s(%q).Eval: error %T %v is not an *EvalError", what, s, err, err)
			}
			_ = v.String()
			_ = v.Interface()
			_ = Truthy(v)
			_ = References(e)
		}

		e, err := Parse(s)
		checkSyntax("Parse", err)
		if err == nil {
			if utf8.RuneCountInString(s) > MaxLength {
				t.Fatalf("Parse accepted %d characters", utf8.RuneCountInString(s))
			}
			checkEval("Parse", e)
		}
		e, err = ParseTemplate(s)
		checkSyntax("ParseTemplate", err)
		if err == nil {
			checkEval("ParseTemplate", e)
		}
		e, err = ParseIf(s)
		checkSyntax("ParseIf", err)
		if err == nil {
			checkEval("ParseIf", e)
		}
	})
}
