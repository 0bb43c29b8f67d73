package actions

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tNumber
	tString
	tIdent
	tLParen
	tRParen
	tLBracket
	tRBracket
	tComma
	tDot
	tStar
	tNot
	tAnd
	tOr
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
)

// token is one lexical element. off and end are byte offsets in the
// lexer's source; text is the raw source of the token.
type token struct {
	kind tokKind
	off  int
	col  int // 1-based column of off in the text the user wrote
	text string
	num  float64 // tNumber
	str  string  // tString, unescaped
}

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tNumber:
		return "number " + t.text
	case tString:
		return "string " + t.text
	default:
		return "'" + t.text + "'"
	}
}

// lexer splits an expression into tokens. Like the runner's lexer it needs
// the previous token to tell a property dereference ("a.b") from a number
// (".5").
type lexer struct {
	src  string
	pos  int
	cols columns
}

// columns turns byte offsets into 1-based character columns. Offsets are
// asked for mostly in increasing order, so it counts on from the last one.
type columns struct {
	src  string
	base int // columns before src starts, when src is part of a longer string
	off  int
	col  int
}

func (c *columns) at(off int) int {
	if off < c.off {
		c.off, c.col = 0, 0
	}
	c.col += utf8.RuneCountInString(c.src[c.off:off])
	c.off = off
	return c.base + c.col + 1
}

func (l *lexer) errorf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Column: l.cols.at(off), Msg: fmt.Sprintf(format, args...)}
}

// isBoundary reports whether r ends a number or a name.
func isBoundary(r rune) bool {
	switch r {
	case '(', '[', ')', ']', ',', '.', '!', '>', '<', '=', '&', '|':
		return true
	}
	return unicode.IsSpace(r)
}

// next returns the token after prev.
func (l *lexer) next(prev tokKind) (token, error) {
	t, err := l.scan(prev)
	// Columns are worked out here, in source order, so that counting
	// characters stays linear however the parser visits the tokens.
	t.col = l.cols.at(t.off)
	return t, err
}

func (l *lexer) scan(prev tokKind) (token, error) {
	for l.pos < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		l.pos += n
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, off: start}, nil
	}
	single := func(k tokKind, n int) (token, error) {
		l.pos += n
		return token{kind: k, off: start, text: l.src[start:l.pos]}, nil
	}
	two := func(second byte) bool {
		return start+1 < len(l.src) && l.src[start+1] == second
	}
	switch c := l.src[start]; c {
	case '(':
		return single(tLParen, 1)
	case ')':
		return single(tRParen, 1)
	case '[':
		return single(tLBracket, 1)
	case ']':
		return single(tRBracket, 1)
	case ',':
		return single(tComma, 1)
	case '*':
		return single(tStar, 1)
	case '\'':
		return l.readString()
	case '"':
		return token{}, l.errorf(start, `unexpected '"': strings are written in single quotes, as in 'text'`)
	case '!':
		if two('=') {
			return single(tNe, 2)
		}
		return single(tNot, 1)
	case '<':
		if two('=') {
			return single(tLe, 2)
		}
		return single(tLt, 1)
	case '>':
		if two('=') {
			return single(tGe, 2)
		}
		return single(tGt, 1)
	case '=':
		if two('=') {
			return single(tEq, 2)
		}
		return token{}, l.errorf(start, "unexpected '=': the equality operator is '=='")
	case '&':
		if two('&') {
			return single(tAnd, 2)
		}
		return token{}, l.errorf(start, "unexpected '&': the and operator is '&&'")
	case '|':
		if two('|') {
			return single(tOr, 2)
		}
		return token{}, l.errorf(start, "unexpected '|': the or operator is '||'")
	case '.':
		switch prev {
		case tIdent, tRParen, tRBracket, tStar, tString, tNumber:
			return single(tDot, 1)
		}
		return l.readNumber()
	case '-', '+', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return l.readNumber()
	}
	return l.readName()
}

// readWord advances over the characters up to the next boundary; numbers
// also take in '.'.
func (l *lexer) readWord(number bool) string {
	start := l.pos
	for l.pos < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		if isBoundary(r) && !(number && r == '.') {
			break
		}
		l.pos += n
	}
	if l.pos == start { // a lone boundary character; callers never let this happen
		l.pos++
	}
	return l.src[start:l.pos]
}

func (l *lexer) readNumber() (token, error) {
	start := l.pos
	text := l.readWord(true)
	f := parseNumber(text)
	if math.IsNaN(f) {
		return token{}, l.errorf(start, "invalid number %q", text)
	}
	return token{kind: tNumber, off: start, text: text, num: f}, nil
}

func (l *lexer) readName() (token, error) {
	start := l.pos
	text := l.readWord(false)
	if r, _ := utf8.DecodeRuneInString(text); !isNameStart(r) {
		return token{}, l.errorf(start, "unexpected character %q", r)
	}
	for _, r := range text {
		if !isNameStart(r) && !(r >= '0' && r <= '9') && r != '-' {
			return token{}, l.errorf(start, "invalid name %q: names are made of ASCII letters, digits, '_' and '-'", text)
		}
	}
	return token{kind: tIdent, off: start, text: text}, nil
}

func isNameStart(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_'
}

// readString reads a single-quoted string, in which two quotes in a row
// stand for one.
func (l *lexer) readString() (token, error) {
	start := l.pos
	// Most strings have no doubled quote and are a slice of the source.
	if j := strings.IndexByte(l.src[start+1:], '\''); j >= 0 {
		end := start + 1 + j
		if end+1 >= len(l.src) || l.src[end+1] != '\'' {
			l.pos = end + 1
			return token{kind: tString, off: start, text: l.src[start:l.pos], str: l.src[start+1 : end]}, nil
		}
	}
	var b strings.Builder
	i := start + 1
	for i < len(l.src) {
		j := strings.IndexByte(l.src[i:], '\'')
		if j < 0 {
			break
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		l.pos = i
		return token{kind: tString, off: start, text: l.src[start:i], str: b.String()}, nil
	}
	return token{}, l.errorf(start, "unterminated string: expected a closing '")
}
