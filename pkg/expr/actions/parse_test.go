package actions

import (
	"errors"
	"strings"
	"testing"
)

const contextList = "env, github, inputs, job, jobs, matrix, needs, runner, secrets, steps, strategy, vars"

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		src, want string
	}{
		{"", "column 1: empty expression: expected a value"},
		{"   ", "column 4: empty expression: expected a value"},
		{"github ==", "column 10: unexpected end of expression: expected a value"},
		{"!", "column 2: unexpected end of expression: expected a value"},
		{"github == )", "column 11: unexpected ')': expected a value"},
		{"()", "column 2: unexpected ')': expected a value inside '()'"},
		{"github.event.", "column 14: expected a property name or '*' after '.', found end of expression"},
		{"github.1", "column 8: expected a property name or '*' after '.', found number 1"},
		{"github['a'].2", "column 13: expected a property name or '*' after '.', found number 2"},
		{"github.'a'", "column 8: expected a property name or '*' after '.', found string 'a'"},
		{"(github", "column 8: expected ')' to close the '(' at column 1, found end of expression"},
		{"(github env", "column 9: expected ')' to close the '(' at column 1, found 'env'"},
		{"github[0", "column 9: expected ']' to close the '[' at column 7, found end of expression"},
		{"github[*", "column 9: expected ']' to close the '[' at column 7, found end of expression"},
		{"github[]", "column 8: expected an index or '*' inside '[]'"},
		{"github)", "column 7: unexpected ')': there is no '(' to close"},
		{"github]", "column 7: unexpected ']': there is no '[' to close"},
		{"github, env", "column 7: unexpected ',' outside a function call"},
		{"github env", "column 8: unexpected 'env': expected an operator or the end of the expression"},
		{"github.*x", "column 9: unexpected 'x': expected an operator or the end of the expression"},
		{"true(1)", "column 5: unexpected '(': expected an operator or the end of the expression"},
		{`"a" == github`, `column 1: unexpected '"': strings are written in single quotes, as in 'text'`},
		{"'abc", "column 1: unterminated string: expected a closing '"},
		{"github == 'it''s", "column 11: unterminated string: expected a closing '"},
		{"github = 1", "column 8: unexpected '=': the equality operator is '=='"},
		{"github & env", "column 8: unexpected '&': the and operator is '&&'"},
		{"github | env", "column 8: unexpected '|': the or operator is '||'"},
		{"1.2.3", `column 1: invalid number "1.2.3"`},
		{"0xZZ", `column 1: invalid number "0xZZ"`},
		{"1 - 2", `column 3: invalid number "-"`},
		{"-NaN", `column 1: invalid number "-NaN"`},
		{"github.b@r", `column 8: invalid name "b@r": names are made of ASCII letters, digits, '_' and '-'`},
		{"#x", "column 1: unexpected character '#'"},
		{"émile", "column 1: unexpected character 'é'"},
		{"foo", `column 1: unrecognized named-value "foo": expected a context (` + contextList + `), a literal or a function call`},
		{"True", `column 1: unrecognized named-value "True": expected a context (` + contextList + `), a literal or a function call`},
		{"success", `column 1: unrecognized named-value "success": expected a context (` + contextList + `), a literal or a function call`},
		{"foo()", `column 1: unrecognized function "foo": expected one of contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles, success, failure, cancelled, always`},
		{"github ()", `column 1: unrecognized function "github": expected one of contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles, success, failure, cancelled, always`},
		{"contains('a')", "column 1: contains() takes 2 arguments, got 1"},
		{"toJSON()", "column 1: toJSON() takes 1 argument, got 0"},
		{"success(1)", "column 1: success() takes no arguments, got 1"},
		{"format()", "column 1: format() takes at least 1 argument, got 0"},
		{"join(1, 2, 3)", "column 1: join() takes 1 to 2 arguments, got 3"},
		{"contains('a' 'b')", "column 14: expected ',' or ')' after argument 1 of contains(), which opened at column 9, found string 'b'"},
		{"contains('a',", "column 14: unexpected end of expression: expected a value"},
		{"contains('a', )", "column 15: unexpected ')': expected a value"},
		{"'abc'.length", "column 6: unexpected '.' after string 'abc': only contexts, function results and parenthesised expressions have properties"},
		{"null[0]", "column 5: unexpected '[' after 'null': only contexts, function results and parenthesised expressions can be indexed"},
		{"1[0]", "column 2: unexpected '[' after number 1: only contexts, function results and parenthesised expressions can be indexed"},
		// columns count characters, not bytes
		{"'é' == github)", "column 14: unexpected ')': there is no '(' to close"},
	} {
		_, err := Parse(c.src)
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != c.want {
			t.Errorf("Parse(%q): error %v,\n want %q", c.src, err, c.want)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	for _, src := range []string{
		"github.event_name == 'push'",
		"matrix.node-version",
		"github.event.pull_request.head.repo.fork",
		"steps['build-step'].outputs.x",
		"steps.*.outcome",
		"needs[*].result",
		"(github).ref",
		"toJSON(github)[0]",
		"fromJSON('{}').*.x",
		"github.true.null.NaN.Infinity.format", // keywords are property names after '.'
		"Github.Ref",                           // context names ignore case
		"toJson(1) && TOJSON(2) && tojson(3)",  // function names ignore case
		"success ()",
		"!!!!github",
		"-1 < +2 && .5 > -.5",
		"0xff == 255 && 0o17 == 15 && -2.99e-2 < 0 && 1E3 == 1000",
		"-Infinity < Infinity",
		"'' == ''",
		"'it''s' == 'IT''S'",
		"github\t==\n'x'",
		"((((((github))))))",
		"contains(format('{0}', github.actor), fromJSON('\"o\"'))",
	} {
		if _, err := Parse(src); err != nil {
			t.Errorf("Parse(%q): %v", src, err)
		}
	}
}

func TestParseLimits(t *testing.T) {
	ok := func(src string) {
		t.Helper()
		if _, err := Parse(src); err != nil {
			t.Errorf("Parse(%.40q...): %v", src, err)
		}
	}
	fails := func(src, want string) {
		t.Helper()
		if _, err := Parse(src); err == nil || err.Error() != want {
			t.Errorf("Parse(%.40q...): error %v, want %q", src, err, want)
		}
	}
	tooDeep := "expression is nested too deeply: the maximum depth is 50"

	// !x is two levels deep, so 49 nots make 50 levels.
	ok(strings.Repeat("!", 49) + "true")
	fails(strings.Repeat("!", 50)+"true", "column 1: "+tooDeep)
	ok("github" + strings.Repeat(".a", 49))
	fails("github"+strings.Repeat(".a", 50), "column 106: "+tooDeep)
	// Chains of && and || do not nest, nor do parentheses.
	ok(strings.Repeat("github && ", 2000) + "github")
	ok(strings.Repeat("(", 500) + "github" + strings.Repeat(")", 500))
	fails(strings.Repeat("(", 2000)+"github"+strings.Repeat(")", 2000), "column 1002: "+tooDeep)
	fails(strings.Repeat("!", 5000)+"true", "column 1002: "+tooDeep)

	long := "'" + strings.Repeat("é", MaxLength-2) + "'"
	ok(long)
	fails(long+" ", "column 1: expression is 21001 characters long, more than the maximum of 21000")
}

func TestExprString(t *testing.T) {
	src := "github.ref == 'refs/heads/main'"
	e, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if e.String() != src {
		t.Errorf("String() = %q, want %q", e.String(), src)
	}
}
