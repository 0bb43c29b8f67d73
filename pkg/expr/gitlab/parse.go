package gitlab

// Limits on what Parse accepts.
const (
	// MaxBytes bounds the length of an expression.
	MaxBytes = 10 << 10
	// MaxTokens is GitLab's own limit: its lexer reads up to 100 tokens and
	// fails unless the input ended before it read the 100th.
	MaxTokens = 99
	// MaxDepth bounds the nesting of parentheses. MaxTokens keeps real
	// expressions far below it; it guards the recursive parser should the
	// token limit ever be raised.
	MaxDepth = 100
)

type limits struct{ bytes, tokens, depth int }

var defaultLimits = limits{bytes: MaxBytes, tokens: MaxTokens, depth: MaxDepth}

// Expr is a parsed expression, made by Parse. It is immutable and safe for
// concurrent use.
type Expr struct {
	root node
}

// Parse parses a rules:if, workflow:rules:if or only/except:variables
// expression. A *SyntaxError says where and why it is not one.
func Parse(src string) (*Expr, error) {
	return parse(src, defaultLimits)
}

func parse(src string, lim limits) (*Expr, error) {
	if len(src) > lim.bytes {
		return nil, errorAt(src, lim.bytes, "expression too long: %d bytes, the limit is %d", len(src), lim.bytes)
	}
	toks, err := lex(src, lim.tokens)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, maxDepth: lim.depth}
	if p.peek().kind == tokEOF {
		return nil, errorAt(src, 0, "empty expression")
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		if t.kind == tokRParen {
			return nil, errorAt(src, t.off, `unexpected ")" without a matching "("`)
		}
		return nil, p.expectedOperator("", t)
	}
	return &Expr{root: root}, nil
}

// parser is a recursive-descent parser for GitLab's grammar:
//
//	or      = and { "||" and }
//	and     = compare { "&&" compare }
//	compare = operand { ( "==" | "!=" ) operand | ( "=~" | "!~" ) ( regex | operand ) }
//	operand = variable | string | "null" | "(" or ")"
//
// All binary operators associate to the left, as in GitLab's shunting-yard
// parser.
type parser struct {
	src      string
	toks     []token
	pos      int
	depth    int
	maxDepth int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) parseOr() (node, error) {
	left, err := p.parseAnd()
	for err == nil && p.peek().kind == tokOr {
		p.next()
		var right node
		if right, err = p.parseAnd(); err == nil {
			left = &logicNode{or: true, left: left, right: right}
		}
	}
	return left, err
}

func (p *parser) parseAnd() (node, error) {
	left, err := p.parseCompare()
	for err == nil && p.peek().kind == tokAnd {
		p.next()
		var right node
		if right, err = p.parseCompare(); err == nil {
			left = &logicNode{left: left, right: right}
		}
	}
	return left, err
}

func (p *parser) parseCompare() (node, error) {
	left, err := p.parseOperand()
	for err == nil {
		switch op := p.peek(); op.kind {
		case tokEq, tokNe:
			p.next()
			var right node
			if right, err = p.parseOperand(); err == nil {
				left = &cmpNode{negate: op.kind == tokNe, left: left, right: right}
			}
		case tokMatch, tokNoMatch:
			p.next()
			m := &matchNode{negate: op.kind == tokNoMatch, left: left}
			if t := p.peek(); t.kind == tokRegex {
				p.next()
				m.re, m.text = t.re, p.src[t.off:t.end]
			} else {
				m.right, err = p.parseOperand()
			}
			left = m
		default:
			return left, nil
		}
	}
	return nil, err
}

func (p *parser) parseOperand() (node, error) {
	t := p.next()
	switch t.kind {
	case tokVar:
		return varNode{name: t.val}, nil
	case tokString:
		return strNode{s: t.val}, nil
	case tokNull:
		return nullNode{}, nil
	case tokLParen:
		if p.depth == p.maxDepth {
			return nil, errorAt(p.src, t.off, "parentheses nested too deeply: the limit is %d", p.maxDepth)
		}
		p.depth++
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.depth--
		switch closing := p.peek(); closing.kind {
		case tokRParen:
			p.next()
			return inner, nil
		case tokEOF:
			return nil, errorAt(p.src, closing.off, `expected ")" to close "(" at column %d, got end of expression`,
				column(p.src, t.off))
		default:
			return nil, p.expectedOperator(`or ")" `, closing)
		}
	case tokRegex:
		return nil, errorAt(p.src, t.off, `a regular expression can only be the right side of "=~" or "!~"`)
	}
	idx := p.pos - 1 // t's index, unless next stayed on the tokEOF
	if t.kind == tokEOF {
		idx = p.pos
	}
	if idx == 0 {
		return nil, errorAt(p.src, t.off, "expected a value, got %s", t.describe(p.src))
	}
	return nil, errorAt(p.src, t.off, "expected a value after %s, got %s", p.toks[idx-1].quote(p.src), t.describe(p.src))
}

// expectedOperator reports a token t that follows a complete operand.
func (p *parser) expectedOperator(alt string, t token) error {
	prev := p.toks[p.pos-1]
	return errorAt(p.src, t.off, "expected an operator %safter %s, got %s", alt, prev.quote(p.src), t.describe(p.src))
}
