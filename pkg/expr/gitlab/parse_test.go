package gitlab

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		// Grammar, including the invalid statements of GitLab's
		// statement_spec.rb.
		{``, `column 1: empty expression`},
		{"  \t", `column 1: empty expression`},
		{`$VAR "text"`, `column 6: expected an operator after $VAR, got string "text"`},
		{`== "123"`, `column 1: expected a value, got "=="`},
		{`"some string" "other"`, `column 15: expected an operator after "some string", got string "other"`},
		{`$VAR ==`, `column 8: expected a value after "==", got end of expression`},
		{`$CI_COMMIT_BRANCH == `, `column 22: expected a value after "==", got end of expression`},
		{`$A == && $B`, `column 7: expected a value after "==", got "&&"`},
		{`$A && || $B`, `column 7: expected a value after "&&", got "||"`},
		{`$A ||`, `column 6: expected a value after "||", got end of expression`},
		{`$A =~`, `column 6: expected a value after "=~", got end of expression`},
		{`$A !~ )`, `column 7: expected a value after "!~", got ")"`},
		{`$A $B ==`, `column 4: expected an operator after $A, got variable $B`},
		{`$A null`, `column 4: expected an operator after $A, got null`},
		{`($A)($B)`, `column 5: expected an operator after ")", got "("`},
		{`$A =~ /ab/ /cd/`, `column 12: expected an operator after /ab/, got regular expression /cd/`},
		{`($A`, `column 4: expected ")" to close "(" at column 1, got end of expression`},
		{`(($A) && $B`, `column 12: expected ")" to close "(" at column 1, got end of expression`},
		{`($A $B)`, `column 5: expected an operator or ")" after $A, got variable $B`},
		{`$A)`, `column 3: unexpected ")" without a matching "("`},
		{`()`, `column 2: expected a value after "(", got ")"`},
		{`/ab/`, `column 1: a regular expression can only be the right side of "=~" or "!~"`},
		{`$A == /ab/`, `column 7: a regular expression can only be the right side of "=~" or "!~"`},
		{`$A =~ (/ab/)`, `column 8: a regular expression can only be the right side of "=~" or "!~"`},
		{"$A ==\n  \"x\" &&", `line 2, column 9: expected a value after "&&", got end of expression`},

		// Tokens.
		{`12345`, `column 1: unexpected 12345; quote text values, as in "12345"`},
		{`$V1 123 $V2`, `column 5: unexpected 123; quote text values, as in "123"`},
		{`$CI_COMMIT_BRANCH == main`, `column 22: unexpected main; quote text values, as in "main"`},
		{`$A == NULL`, `column 7: unexpected NULL; quote text values, as in "NULL"`},
		{`$A == nullish`, `column 7: unexpected nullish; quote text values, as in "nullish"`},
		{`$A == true`, `column 7: unexpected true; quote text values, as in "true"`},
		{`$INVALID = 1`, `column 10: unexpected "="; did you mean "=="?`},
		{`!$A`, `column 1: unexpected "!": it is only an operator as part of "!=" and "!~"`},
		{`$A & $B`, `column 4: unexpected "&"; did you mean "&&"?`},
		{`$A | $B`, `column 4: unexpected "|"; did you mean "||"?`},
		{`$A == "x" # comment`, `column 11: unexpected character '#'`},
		{`$A == “x”`, `column 7: unexpected character '“'`},
		{`$A == "é" && 1`, `column 14: unexpected 1; quote text values, as in "1"`},
		{"$A == \"x\xff\"", `column 9: invalid UTF-8`},
		{`$`, `column 2: expected a variable name after "$"`},
		{`$A == $-`, `column 8: expected a variable name after "$"`},
		{`$[[ inputs.x ]] == "a"`, `column 2: expected a variable name after "$"`},
		{`${}`, `column 3: expected a variable name after "${"`},
		{`${A`, `column 4: expected "}" to close "${" at column 1`},
		{`${A-B}`, `column 4: expected "}" to close "${" at column 1`},
		{`$A == "abc`, `column 7: unterminated string: no closing "`},
		{`$A == 'abc`, `column 7: unterminated string: no closing '`},
		{"$A == \"ab\nc\"", `line 1, column 7: unterminated string: no closing " before the end of the line`},
		{`$A == "x\"y"`, `column 11: unexpected y; quote text values, as in "y" (strings have no escapes: the " after \ ends the string)`},

		// Regular expression literals.
		{`$A =~ /ab`, `column 7: unterminated regular expression: no closing "/"`},
		{`$A =~ /ab\/`, `column 7: unterminated regular expression: no closing "/"`},
		{`$A =~ //`, `column 7: empty regular expression "//"`},
		{`$A =~ /./`, `column 7: single-character regular expressions like /./ are not supported (GitLab rejects them too); write /(?:.)/ instead`},
		{`$A =~ /é/i`, `column 7: single-character regular expressions like /é/ are not supported (GitLab rejects them too); write /(?:é)/ instead`},
		{`$A =~ /ab/x`, `column 11: unknown regular expression flag "x"; the flags are i, m, s and U`},
		{`$A =~ /ab/g`, `column 11: unknown regular expression flag "g"; the flags are i, m, s and U`},
		{`$A =~ /a(b/`, "column 7: invalid regular expression /a(b/: missing closing ): `a(b`"},
		{`$A =~ /\Z$/`, "column 7: invalid regular expression /\\Z$/: invalid escape sequence: `\\Z`"},
		{`$A =~ /(?<=a)b/`, "column 7: invalid regular expression /(?<=a)b/: invalid named capture: `(?<=a)b`"},
		{"$A =~ /a\nb/", `line 1, column 7: a regular expression cannot span lines`},
		{`$A =~ /[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}/`,
			`column 7: invalid regular expression /[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{…: pattern too large: 5002 instructions, the limit is 5000`},
		{`$A =~ /(?:a{1000}){2}/`, "column 7: invalid regular expression /(?:a{1000}){2}/: invalid repeat count: `{2}`"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %s, want error %q", tt.expr, e, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.expr, err, tt.want)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error is %T, want *SyntaxError", tt.expr, err)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	src := "$A == \"é\" &&\n\t($B ==)"
	_, err := Parse(src)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SyntaxError", err)
	}
	if want := strings.Index(src, ")"); se.Offset != want || se.Line != 2 || se.Column != 8 {
		t.Errorf("position offset %d line %d column %d, want offset %d line 2 column 8", se.Offset, se.Line, se.Column, want)
	}
	if se.Msg != `expected a value after "==", got ")"` {
		t.Errorf("Msg = %q", se.Msg)
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		fits := `$A == "` + strings.Repeat("x", MaxBytes-len(`$A == ""`)) + `"`
		if _, err := Parse(fits); err != nil {
			t.Errorf("%d bytes: %v", len(fits), err)
		}
		_, err := Parse(fits + " ")
		want := "column 10241: expression too long: 10241 bytes, the limit is 10240"
		if err == nil || err.Error() != want {
			t.Errorf("%d bytes: error %v, want %s", len(fits)+1, err, want)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		// 99 tokens: $A and 49 times "|| $A".
		fits := "$A" + strings.Repeat(" || $A", 49)
		if _, err := Parse(fits); err != nil {
			t.Errorf("99 tokens: %v", err)
		}
		_, err := Parse(fits + " )")
		want := "column 298: too many tokens: an expression may have at most 99"
		if err == nil || err.Error() != want {
			t.Errorf("100 tokens: error %v, want %s", err, want)
		}
	})
	t.Run("depth", func(t *testing.T) {
		lim := limits{bytes: MaxBytes, tokens: 1000, depth: MaxDepth}
		fits := strings.Repeat("(", MaxDepth) + "$A" + strings.Repeat(")", MaxDepth)
		if _, err := parse(fits, lim); err != nil {
			t.Errorf("depth %d: %v", MaxDepth, err)
		}
		deep := "(" + fits + ")"
		_, err := parse(deep, lim)
		want := "column 101: parentheses nested too deeply: the limit is 100"
		if err == nil || err.Error() != want {
			t.Errorf("depth %d: error %v, want %s", MaxDepth+1, err, want)
		}
	})
}

func TestString(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{`$A`, `$A`},
		{`${A}`, `$A`},
		{`  $A==null  `, `$A == null`},
		{`$A=="x"`, `$A == "x"`},
		{`$A=='x'`, `$A == "x"`},
		{`$A=='say "x"'`, `$A == 'say "x"'`},
		{`"it's"!=$A`, `"it's" != $A`},
		{"$A\n&&\t$B", `$A && $B`},
		{`$A =~ /a\/b/im`, `$A =~ /a\/b/im`},
		{`$A!~/ab//`, `$A !~ /ab//`},
		{`$A =~ $B`, `$A =~ $B`},
		{`$A =~ "/ab/"`, `$A =~ "/ab/"`},
		{`(($A))`, `$A`},
		{`($A || $B) && $C`, `($A || $B) && $C`},
		{`$A || ($B && $C)`, `$A || $B && $C`},
		{`($A && $B) || $C`, `$A && $B || $C`},
		{`$A && ($B || $C)`, `$A && ($B || $C)`},
		{`($A || $B) || $C`, `$A || $B || $C`},
		{`$A || ($B || $C)`, `$A || ($B || $C)`},
		{`$A == $B == $C`, `$A == $B == $C`},
		{`$A == ($B == $C)`, `$A == ($B == $C)`},
		{`($A && $B) == $C`, `($A && $B) == $C`},
		{`$A =~ ($B || $C)`, `$A =~ ($B || $C)`},
		{`($A =~ /ab/) =~ /true/`, `$A =~ /ab/ =~ /true/`},
		{`(null)`, `null`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		got := e.String()
		if got != tt.want {
			t.Errorf("Parse(%q).String() = %s, want %s", tt.expr, got, tt.want)
		}
		again, err := Parse(got)
		if err != nil {
			t.Errorf("Parse(%q) of the canonical form: %v", got, err)
			continue
		}
		if again.String() != got {
			t.Errorf("canonical form %s is not stable: %s", got, again)
		}
	}
}
