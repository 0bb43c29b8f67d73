package actions

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on one expression, the same as GitHub's (the runner's
// ExpressionConstants): longer or deeper expressions are rejected by Parse.
const (
	// MaxLength is the most characters one expression may have.
	MaxLength = 21000
	// MaxDepth is how deeply the parsed expression may nest. Each
	// operator, call, property or index adds a level (a.b.c and !!x are
	// three deep), but a chain of && or of || is one level however long.
	MaxDepth = 50
)

// maxNesting bounds the parser's recursion, which redundant parentheses
// deepen without deepening the tree.
const maxNesting = 1000

// knownContexts are the top-level names an expression may use, in the
// order error messages list them.
var knownContexts = []string{
	"env", "github", "inputs", "job", "jobs", "matrix", "needs",
	"runner", "secrets", "steps", "strategy", "vars",
}

// Expr is a parsed expression. It is immutable, so one Expr may be
// evaluated by many goroutines at once.
type Expr struct {
	src  string
	root *node
}

// String returns the text the expression was parsed from. For a condition
// parsed by ParseIf without a status function it is GitHub's rewritten
// form, "success() && (condition)".
func (e *Expr) String() string { return e.src }

type nodeKind uint8

const (
	nLiteral  nodeKind = iota
	nContext           // name is the context's canonical (lower-case) name
	nIndex             // args[0][args[1]], or args[0][*] when star
	nNot               // !args[0]
	nAnd               // args[0] && args[1] && ...
	nOr                // args[0] || args[1] || ...
	nCompare           // args[0] op args[1]
	nCall              // fn(args...)
	nTemplate          // the text and ${{ }} parts of a string, joined
)

// node is one element of a parsed expression.
type node struct {
	kind  nodeKind
	op    tokKind // nCompare
	star  bool    // nIndex
	col   int     // 1-based column, for errors
	depth int
	val   Value     // nLiteral
	name  string    // nContext
	fn    *function // nCall
	args  []*node
}

// Parse parses a GitHub Actions expression: the text inside ${{ }}, or a
// bare if: condition. It rejects names that are not GitHub contexts or
// functions, calls with the wrong number of arguments, and expressions
// longer than MaxLength or deeper than MaxDepth. Errors are *SyntaxError.
func Parse(src string) (*Expr, error) {
	root, err := parseExpr(src, 0)
	if err != nil {
		return nil, err
	}
	return &Expr{src: src, root: root}, nil
}

// parseExpr parses src, whose first character is at column base+1 of the
// text the user wrote.
func parseExpr(src string, base int) (*node, error) {
	if n := utf8.RuneCountInString(src); n > MaxLength {
		return nil, &SyntaxError{Column: base + 1, Msg: fmt.Sprintf(
			"expression is %d characters long, more than the maximum of %d", n, MaxLength)}
	}
	p := &parser{lex: lexer{src: src, cols: columns{src: src, base: base}}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, p.errorf(p.tok, "empty expression: expected a value")
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tEOF:
		return root, nil
	case tRParen:
		return nil, p.errorf(p.tok, "unexpected ')': there is no '(' to close")
	case tRBracket:
		return nil, p.errorf(p.tok, "unexpected ']': there is no '[' to close")
	case tComma:
		return nil, p.errorf(p.tok, "unexpected ',' outside a function call")
	}
	return nil, p.errorf(p.tok, "unexpected %s: expected an operator or the end of the expression", p.tok.describe())
}

type parser struct {
	lex  lexer
	tok  token
	nest int
}

func (p *parser) advance() error {
	t, err := p.lex.next(p.tok.kind)
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) col(t token) int { return t.col }

func (p *parser) errorf(t token, format string, args ...any) *SyntaxError {
	return &SyntaxError{Column: p.col(t), Msg: fmt.Sprintf(format, args...)}
}

var errTooDeep = fmt.Sprintf("expression is nested too deeply: the maximum depth is %d", MaxDepth)

// enter guards recursion into a nested part of the expression.
func (p *parser) enter() error {
	p.nest++
	if p.nest > maxNesting {
		return p.errorf(p.tok, "%s", errTooDeep)
	}
	return nil
}

func (p *parser) leave() { p.nest-- }

// newNode sets n's depth from its children and checks it against MaxDepth.
func (p *parser) newNode(n *node) (*node, error) {
	n.depth = 1
	for _, a := range n.args {
		n.depth = max(n.depth, a.depth+1)
	}
	if n.kind == nIndex && n.star {
		n.depth = max(n.depth, 2) // the '*' is a node of its own in GitHub's tree
	}
	if n.depth > MaxDepth {
		return nil, &SyntaxError{Column: n.col, Msg: errTooDeep}
	}
	return n, nil
}

// parseOr and parseAnd build flat nodes, as GitHub does, so that long
// chains of conditions do not count against MaxDepth.
func (p *parser) parseOr() (*node, error) {
	return p.parseLogical(tOr, nOr, p.parseAnd)
}

func (p *parser) parseAnd() (*node, error) {
	return p.parseLogical(tAnd, nAnd, p.parseEquality)
}

func (p *parser) parseLogical(op tokKind, kind nodeKind, operand func() (*node, error)) (*node, error) {
	left, err := operand()
	if err != nil || p.tok.kind != op {
		return left, err
	}
	n := &node{kind: kind, col: left.col}
	n.args = appendFlat(n.args, kind, left)
	for p.tok.kind == op {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := operand()
		if err != nil {
			return nil, err
		}
		n.args = appendFlat(n.args, kind, right)
	}
	return p.newNode(n)
}

func appendFlat(args []*node, kind nodeKind, n *node) []*node {
	if n.kind == kind {
		return append(args, n.args...)
	}
	return append(args, n)
}

func (p *parser) parseEquality() (*node, error) {
	return p.parseComparison(p.parseRelational, tEq, tNe)
}

func (p *parser) parseRelational() (*node, error) {
	return p.parseComparison(p.parseUnary, tLt, tLe, tGt, tGe)
}

// parseComparison parses a left-associative chain of operators ops, so
// that 3 > 2 > 1 is (3 > 2) > 1, as in GitHub.
func (p *parser) parseComparison(operand func() (*node, error), ops ...tokKind) (*node, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for isOneOf(p.tok.kind, ops) {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left, err = p.newNode(&node{kind: nCompare, op: op.kind, col: p.col(op), args: []*node{left, right}})
		if err != nil {
			return nil, err
		}
	}
	return left, nil
}

func isOneOf(k tokKind, ks []tokKind) bool {
	for _, x := range ks {
		if k == x {
			return true
		}
	}
	return false
}

func (p *parser) parseUnary() (*node, error) {
	if p.tok.kind != tNot {
		return p.parsePostfix()
	}
	not := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	operand, err := p.parseUnary()
	p.leave()
	if err != nil {
		return nil, err
	}
	return p.newNode(&node{kind: nNot, col: p.col(not), args: []*node{operand}})
}

// parsePostfix parses a value followed by any number of property
// dereferences (.name, .*) and indexes ([expr], [*]).
func (p *parser) parsePostfix() (*node, error) {
	start := p.tok
	n, indexable, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for {
		switch p.tok.kind {
		case tDot:
			if !indexable {
				return nil, p.errorf(p.tok, "unexpected '.' after %s: only contexts, function results and parenthesised expressions have properties", start.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			idx := &node{kind: nIndex, col: p.col(p.tok), args: []*node{n}}
			switch p.tok.kind {
			case tIdent:
				idx.args = append(idx.args, &node{kind: nLiteral, col: idx.col, depth: 1, val: stringValue(p.tok.text)})
			case tStar:
				idx.star = true
			default:
				return nil, p.errorf(p.tok, "expected a property name or '*' after '.', found %s", p.tok.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			if n, err = p.newNode(idx); err != nil {
				return nil, err
			}
		case tLBracket:
			if !indexable {
				return nil, p.errorf(p.tok, "unexpected '[' after %s: only contexts, function results and parenthesised expressions can be indexed", start.describe())
			}
			if n, err = p.parseIndex(n); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
	}
}

func (p *parser) parseIndex(target *node) (*node, error) {
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	idx := &node{kind: nIndex, col: p.col(open), args: []*node{target}}
	if p.tok.kind == tStar {
		if err := p.advance(); err != nil {
			return nil, err
		}
		idx.star = true
	} else {
		if err := p.enter(); err != nil {
			return nil, err
		}
		if p.tok.kind == tRBracket {
			return nil, p.errorf(p.tok, "expected an index or '*' inside '[]'")
		}
		i, err := p.parseOr()
		p.leave()
		if err != nil {
			return nil, err
		}
		idx.args = append(idx.args, i)
	}
	if p.tok.kind != tRBracket {
		return nil, p.errorf(p.tok, "expected ']' to close the '[' at column %d, found %s", p.col(open), p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p.newNode(idx)
}

// parsePrimary parses a literal, a context, a function call or a
// parenthesised expression, and says whether the result may be indexed:
// GitHub does not allow 'abc'[0] or null.x.
func (p *parser) parsePrimary() (*node, bool, error) {
	t := p.tok
	switch t.kind {
	case tNumber, tString:
		v := numberValue(t.num)
		if t.kind == tString {
			v = stringValue(t.str)
		}
		return &node{kind: nLiteral, col: p.col(t), depth: 1, val: v}, false, p.advance()
	case tIdent:
		return p.parseName()
	case tLParen:
		if err := p.advance(); err != nil {
			return nil, false, err
		}
		if err := p.enter(); err != nil {
			return nil, false, err
		}
		if p.tok.kind == tRParen {
			return nil, false, p.errorf(p.tok, "unexpected ')': expected a value inside '()'")
		}
		inner, err := p.parseOr()
		p.leave()
		if err != nil {
			return nil, false, err
		}
		if p.tok.kind != tRParen {
			return nil, false, p.errorf(p.tok, "expected ')' to close the '(' at column %d, found %s", p.col(t), p.tok.describe())
		}
		return inner, true, p.advance()
	case tEOF:
		return nil, false, p.errorf(t, "unexpected end of expression: expected a value")
	}
	return nil, false, p.errorf(t, "unexpected %s: expected a value", t.describe())
}

// parseName parses a keyword literal, a function call or a context.
func (p *parser) parseName() (*node, bool, error) {
	t := p.tok
	lit := &node{kind: nLiteral, col: p.col(t), depth: 1}
	switch t.text { // keywords are case-sensitive
	case "true", "false":
		lit.val = boolValue(t.text == "true")
	case "null":
	case "NaN", "Infinity":
		lit.val = numberValue(parseNumber(t.text))
	default:
		lit = nil
	}
	if err := p.advance(); err != nil {
		return nil, false, err
	}
	if lit != nil {
		return lit, false, nil
	}
	if p.tok.kind == tLParen {
		n, err := p.parseCall(t)
		return n, true, err
	}
	name := strings.ToLower(t.text)
	for _, c := range knownContexts {
		if name == c {
			return &node{kind: nContext, col: p.col(t), depth: 1, name: name}, true, nil
		}
	}
	return nil, false, p.errorf(t, "unrecognized named-value %q: expected a context (%s), a literal or a function call",
		t.text, strings.Join(knownContexts, ", "))
}

func (p *parser) parseCall(name token) (*node, error) {
	fn := lookupFunction(name.text)
	if fn == nil {
		return nil, p.errorf(name, "unrecognized function %q: expected one of %s", name.text, functionList())
	}
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	n := &node{kind: nCall, col: p.col(name), fn: fn}
	if p.tok.kind != tRParen {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		for {
			arg, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, arg)
			if p.tok.kind == tRParen {
				break
			}
			if p.tok.kind != tComma {
				return nil, p.errorf(p.tok, "expected ',' or ')' after argument %d of %s(), which opened at column %d, found %s",
					len(n.args), fn.name, p.col(open), p.tok.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if len(n.args) < fn.min || len(n.args) > fn.max {
		return nil, &SyntaxError{Column: n.col, Msg: fmt.Sprintf("%s() takes %s, got %d", fn.name, fn.arity(), len(n.args))}
	}
	return p.newNode(n)
}
