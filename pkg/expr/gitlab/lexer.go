package gitlab

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokVar
	tokString
	tokNull
	tokRegex
	tokLParen
	tokRParen
	tokEq
	tokNe
	tokMatch
	tokNoMatch
	tokAnd
	tokOr
)

// token is one lexeme; off and end delimit its text in the source.
type token struct {
	kind     tokenKind
	off, end int
	// val is the variable name of a tokVar and the contents of a tokString.
	val string
	// re is the compiled pattern of a tokRegex.
	re *regexp.Regexp
}

// regexLiteral is the rule GitLab's lexer uses to find a /pattern/flags
// literal (Lexeme::Pattern::PATTERN). It is kept verbatim because its quirks
// are part of the language: the body needs at least two characters, `\/` does
// not end it, and the character before the closing slash may itself be a
// slash (`/ab//` is the pattern `ab/`). Go's leftmost-first matching picks the
// same match as Ruby's backtracking engine for it.
var regexLiteral = regexp.MustCompile(`^/(?:[^/]|\\/)+[^\\]/[ismU]*`)

// isSpace is Ruby's \s, the whitespace GitLab's lexer skips between tokens.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isWord is Ruby's \w (ASCII only), the characters of a variable name.
func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func wordEnd(src string, i int) int {
	for i < len(src) && isWord(src[i]) {
		i++
	}
	return i
}

// lex splits src into tokens ending with a tokEOF. Like GitLab it lexes the
// whole expression before parsing, so a bad character is reported even when
// the grammar is wrong earlier.
func lex(src string, maxTokens int) ([]token, error) {
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return nil, errorAt(src, off, "invalid UTF-8")
	}
	var toks []token
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tokEOF, off: i, end: i}), nil
		}
		if len(toks) == maxTokens {
			return nil, errorAt(src, i, "too many tokens: an expression may have at most %d", maxTokens)
		}
		t, err := lexToken(src, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i = t.end
	}
}

func lexToken(src string, i int) (token, error) {
	op := func(k tokenKind, n int) (token, error) { return token{kind: k, off: i, end: i + n}, nil }
	next := byte(0)
	if i+1 < len(src) {
		next = src[i+1]
	}
	switch src[i] {
	case '(':
		return op(tokLParen, 1)
	case ')':
		return op(tokRParen, 1)
	case '=':
		switch next {
		case '=':
			return op(tokEq, 2)
		case '~':
			return op(tokMatch, 2)
		}
		return token{}, errorAt(src, i, `unexpected "="; did you mean "=="?`)
	case '!':
		switch next {
		case '=':
			return op(tokNe, 2)
		case '~':
			return op(tokNoMatch, 2)
		}
		return token{}, errorAt(src, i, `unexpected "!": it is only an operator as part of "!=" and "!~"`)
	case '&':
		if next == '&' {
			return op(tokAnd, 2)
		}
		return token{}, errorAt(src, i, `unexpected "&"; did you mean "&&"?`)
	case '|':
		if next == '|' {
			return op(tokOr, 2)
		}
		return token{}, errorAt(src, i, `unexpected "|"; did you mean "||"?`)
	case '$':
		return lexVariable(src, i)
	case '"', '\'':
		return lexString(src, i)
	case '/':
		return lexRegex(src, i)
	}
	if isWord(src[i]) {
		end := wordEnd(src, i)
		word := src[i:end]
		if word == "null" {
			return token{kind: tokNull, off: i, end: end}, nil
		}
		hint := ""
		if i >= 2 && (src[i-1] == '"' || src[i-1] == '\'') && src[i-2] == '\\' {
			hint = fmt.Sprintf(` (strings have no escapes: the %c after \ ends the string)`, src[i-1])
		}
		return token{}, errorAt(src, i, "unexpected %s; quote text values, as in %q%s", clip(word), clip(word), hint)
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return token{}, errorAt(src, i, "unexpected character %q", r)
}

// lexVariable reads $NAME, as GitLab does, and ${NAME}, which GitLab's
// expression lexer does not know but its variable expansion does.
func lexVariable(src string, i int) (token, error) {
	if i+1 < len(src) && src[i+1] == '{' {
		end := wordEnd(src, i+2)
		if end == i+2 {
			return token{}, errorAt(src, i+2, `expected a variable name after "${"`)
		}
		if end == len(src) || src[end] != '}' {
			return token{}, errorAt(src, end, `expected "}" to close "${" at column %d`, column(src, i))
		}
		return token{kind: tokVar, off: i, end: end + 1, val: src[i+2 : end]}, nil
	}
	end := wordEnd(src, i+1)
	if end == i+1 {
		return token{}, errorAt(src, i+1, `expected a variable name after "$"`)
	}
	return token{kind: tokVar, off: i, end: end, val: src[i+1 : end]}, nil
}

// lexString reads a string in double or single quotes. As in GitLab there
// are no escapes: the string ends at the next quote of the same kind, so it
// can contain the other kind of quote but never its own, and it cannot span
// lines.
func lexString(src string, i int) (token, error) {
	q := src[i]
	rest := src[i+1:]
	end := strings.IndexByte(rest, q)
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 && (end < 0 || nl < end) {
		return token{}, errorAt(src, i, "unterminated string: no closing %c before the end of the line", q)
	}
	if end < 0 {
		return token{}, errorAt(src, i, "unterminated string: no closing %c", q)
	}
	return token{kind: tokString, off: i, end: i + 1 + end + 1, val: rest[:end]}, nil
}

func lexRegex(src string, i int) (token, error) {
	m := regexLiteral.FindStringIndex(src[i:])
	if m == nil {
		return token{}, diagnoseRegex(src, i)
	}
	end := i + m[1]
	if end < len(src) && isWord(src[end]) {
		return token{}, errorAt(src, end, "unknown regular expression flag %q; the flags are i, m, s and U", src[end:end+1])
	}
	text := src[i:end]
	// GitLab unescapes \/ in the whole literal and then reads it back as
	// /body/flags; patterns in variables go through the same steps.
	re, err := compilePattern(strings.ReplaceAll(text, `\/`, "/"))
	if errors.Is(err, errNotPattern) {
		return token{}, errorAt(src, i, "a regular expression cannot span lines")
	}
	if err != nil {
		return token{}, errorAt(src, i, "invalid regular expression %s: %s", clip(text),
			strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return token{kind: tokRegex, off: i, end: end, re: re}, nil
}

// diagnoseRegex explains why the text at src[i] == '/' is not a regular
// expression literal.
func diagnoseRegex(src string, i int) error {
	closing := -1
	for j := i + 1; j < len(src); j++ {
		if src[j] == '/' && src[j-1] != '\\' {
			closing = j
			break
		}
	}
	switch {
	case closing < 0:
		return errorAt(src, i, `unterminated regular expression: no closing "/"`)
	case closing == i+1:
		return errorAt(src, i, `empty regular expression "//"`)
	case utf8.RuneCountInString(src[i+1:closing]) == 1:
		return errorAt(src, i, "single-character regular expressions like %s are not supported (GitLab rejects them too); write %s instead",
			src[i:closing+1], "/(?:"+src[i+1:closing]+")/")
	}
	return errorAt(src, i, "invalid regular expression literal")
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "…"
}

// describe names a token for "got …" in error messages.
func (t token) describe(src string) string {
	text := clip(src[t.off:t.end])
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokVar:
		return "variable " + text
	case tokString:
		return "string " + text
	case tokNull:
		return "null"
	case tokRegex:
		return "regular expression " + text
	}
	return fmt.Sprintf("%q", text)
}

// quote names a token for "after …" in error messages.
func (t token) quote(src string) string {
	switch t.kind {
	case tokVar, tokString, tokNull, tokRegex:
		return clip(src[t.off:t.end])
	}
	return fmt.Sprintf("%q", src[t.off:t.end])
}
