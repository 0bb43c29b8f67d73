package gitlab

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
)

// value is what a sub-expression evaluates to. GitLab evaluates expressions
// as Ruby values: a variable or a string literal is a String, an unset
// variable and null are nil, and comparisons are true or false. && and ||
// return one of their operands, not a boolean, so the kinds survive up to the
// top, where the result is tested with ActiveSupport's present?.
type value struct {
	kind kind
	str  string // kindString
	b    bool   // kindBool
}

type kind uint8

const (
	kindNull kind = iota
	kindString
	kindBool
)

var (
	null     = value{}
	trueVal  = value{kind: kindBool, b: true}
	falseVal = value{kind: kindBool}
)

func boolValue(b bool) value {
	if b {
		return trueVal
	}
	return falseVal
}

// truthy is Ruby truthiness, which && and || use: only nil and false are
// false; the empty string is true.
func (v value) truthy() bool {
	return v.kind == kindString || v.kind == kindBool && v.b
}

// present is ActiveSupport's Object#present?, which decides the whole
// expression: nil, false and strings that are empty or only whitespace are
// not present.
func (v value) present() bool {
	switch v.kind {
	case kindBool:
		return v.b
	case kindString:
		return strings.TrimFunc(v.str, unicode.IsSpace) != ""
	}
	return false
}

// equal is Ruby ==: values of different kinds are never equal, so an empty
// string is not null.
func (v value) equal(w value) bool {
	return v == w
}

// text is Ruby to_s, which =~ applies to its left side: nil becomes "".
func (v value) text() string {
	switch v.kind {
	case kindString:
		return v.str
	case kindBool:
		if v.b {
			return "true"
		}
		return "false"
	}
	return ""
}

var errNotPattern = errors.New(`not in the form /pattern/flags`)

// compilePattern turns "/pattern/flags" into a regular expression the way
// GitLab's UntrustedRegexp::RubySyntax does: it takes the first line of data
// that is entirely a slash, a pattern, a slash and flags from i, m, s and U
// (Ruby's ^ and $ match at line breaks), prefixes the flags as (?flags) and
// compiles the pattern with RE2 syntax. The caller has already replaced \/
// with /.
func compilePattern(data string) (*regexp.Regexp, error) {
	for line := range strings.SplitSeq(data, "\n") {
		if !strings.HasPrefix(line, "/") {
			continue
		}
		last := strings.LastIndexByte(line, '/')
		if last == 0 || strings.Trim(line[last+1:], "imsU") != "" {
			continue
		}
		body, flags := line[1:last], line[last+1:]
		if flags != "" {
			body = "(?" + flags + ")" + body
		}
		return compileRE2(body)
	}
	return nil, errNotPattern
}

// MaxPatternSize bounds the size of a compiled regular expression, in
// instructions of Go's regexp program. Matching costs the length of the text
// times the size of the program, and repetition makes a short pattern large:
// [a-z]{1000} is 1,000 instructions. Real rules use a few hundred at most.
// GitLab's RE2 has such a limit too (its max_mem), at a different size.
const MaxPatternSize = 5000

func compileRE2(expr string) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, err
	}
	if n := len(prog.Inst); n > MaxPatternSize {
		return nil, fmt.Errorf("pattern too large: %d instructions, the limit is %d", n, MaxPatternSize)
	}
	return regexp.Compile(expr)
}

// node is one parsed sub-expression.
type node interface {
	eval(lookup func(string) (string, bool)) value
	// level is the binding level for printing: 0 for operands, then
	// comparisons, &&, || (loosest).
	level() int
}

type varNode struct{ name string }

type strNode struct{ s string }

type nullNode struct{}

// cmpNode is == or !=.
type cmpNode struct {
	negate      bool
	left, right node
}

// matchNode is =~ or !~ with either a regular expression literal (re, text)
// or any other operand on the right.
type matchNode struct {
	negate bool
	left   node
	re     *regexp.Regexp
	text   string // the literal as written
	right  node
}

// logicNode is && or ||.
type logicNode struct {
	or          bool
	left, right node
}

func (n varNode) eval(lookup func(string) (string, bool)) value {
	if s, ok := lookup(n.name); ok {
		return value{kind: kindString, str: s}
	}
	return null
}

func (n strNode) eval(func(string) (string, bool)) value {
	return value{kind: kindString, str: n.s}
}

func (nullNode) eval(func(string) (string, bool)) value { return null }

func (n *cmpNode) eval(lookup func(string) (string, bool)) value {
	return boolValue(n.left.eval(lookup).equal(n.right.eval(lookup)) != n.negate)
}

func (n *matchNode) eval(lookup func(string) (string, bool)) value {
	text := n.left.eval(lookup).text()
	if n.re != nil {
		return boolValue(n.re.MatchString(text) != n.negate)
	}
	pattern := n.right.eval(lookup)
	if !pattern.truthy() {
		// GitLab: `return false unless regexp` for =~, true for !~.
		return boolValue(n.negate)
	}
	data := pattern.text()
	if re, err := compilePattern(strings.ReplaceAll(data, `\/`, "/")); err == nil {
		return boolValue(re.MatchString(text) != n.negate)
	}
	// Not a valid /pattern/: GitLab falls back to String#scan with the left
	// side, which finds the left side as a substring of the right side.
	return boolValue(strings.Contains(data, text) != n.negate)
}

func (n *logicNode) eval(lookup func(string) (string, bool)) value {
	l := n.left.eval(lookup)
	if l.truthy() == n.or {
		return l
	}
	return n.right.eval(lookup)
}

func (varNode) level() int    { return 0 }
func (strNode) level() int    { return 0 }
func (nullNode) level() int   { return 0 }
func (*cmpNode) level() int   { return 1 }
func (*matchNode) level() int { return 1 }
func (n *logicNode) level() int {
	if n.or {
		return 3
	}
	return 2
}

// Eval evaluates the expression with GitLab's semantics. lookup returns a
// variable's value and whether it is set; a nil lookup means no variable is
// set.
func (e *Expr) Eval(lookup func(name string) (string, bool)) bool {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return e.root.eval(lookup).present()
}
