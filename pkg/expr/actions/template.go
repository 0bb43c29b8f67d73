package actions

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTemplateLength bounds the strings ParseTemplate, Interpolate and
// ParseIf accept, in bytes. Each ${{ }} inside is also bound by MaxLength.
const MaxTemplateLength = 1 << 20

// ParseTemplate parses a workflow string that may contain ${{ }}
// expressions, such as a run: script or an env: value. Evaluating the
// result gives:
//   - the string itself, when it holds no expression;
//   - the expression's value, of whatever kind, when the whole string is
//     one ${{ }} (this is how GitHub gives a field a number, an array or
//     an object, as in matrix: ${{ fromJSON(...) }});
//   - otherwise a string in which each expression is replaced by its
//     value's String form.
//
// As in GitHub there is no escape for "${{"; an expression ends at the
// first "}}" outside a string literal.
func ParseTemplate(s string) (*Expr, error) {
	t, err := parseTemplate(s, 0)
	if err != nil {
		return nil, err
	}
	return &Expr{src: s, root: t.root}, nil
}

// Interpolate replaces each ${{ }} expression in s by the String form of
// its value. A string that is a single expression whose value is an array
// or an object is an error, as it is in GitHub for fields that take text;
// toJSON() turns such values into text.
func Interpolate(s string, ctx *Context) (string, error) {
	t, err := parseTemplate(s, 0)
	if err != nil {
		return "", err
	}
	v, err := (&Expr{src: s, root: t.root}).Eval(ctx)
	if err != nil {
		return "", err
	}
	if t.whole != "" && (v.kind == KindArray || v.kind == KindObject) {
		return "", &EvalError{Column: t.wholeCol, Err: fmt.Errorf(
			"the expression evaluates to an %s where text is expected; use toJSON() to turn it into text", v.kind)}
	}
	return v.String(), nil
}

// template is the result of parsing a string with ${{ }} in it.
type template struct {
	root *node
	// whole is the text of the expression when the string is exactly one
	// ${{ }}, and "" otherwise; wholeCol is where that text starts.
	whole    string
	wholeCol int
}

// parseTemplate parses s, whose first character is at column base+1 of the
// text the user wrote. It splits s as the runner's TemplateReader does.
func parseTemplate(s string, base int) (template, error) {
	cols := columns{src: s, base: base}
	if len(s) > MaxTemplateLength {
		return template{}, &SyntaxError{Column: base + 1, Msg: fmt.Sprintf(
			"string is %d bytes long, more than the maximum of %d", len(s), MaxTemplateLength)}
	}
	var parts []*node
	var whole string
	var wholeCol int
	literal := func(off int, text string) {
		parts = append(parts, &node{kind: nLiteral, col: cols.at(off), depth: 1, val: stringValue(text)})
	}
	for i := 0; i < len(s); {
		start := strings.Index(s[i:], "${{")
		if start < 0 {
			literal(i, s[i:])
			break
		}
		start += i
		if start > i {
			literal(i, s[i:start])
		}
		end := closingBraces(s, start+3)
		if end < 0 {
			return template{}, &SyntaxError{Column: cols.at(start),
				Msg: "the expression is not closed: found '${{' without a matching '}}'"}
		}
		inner := s[start+3 : end-1]
		lead := len(inner) - len(strings.TrimLeftFunc(inner, unicode.IsSpace))
		expr := strings.TrimSpace(inner)
		if expr == "" {
			return template{}, &SyntaxError{Column: cols.at(start), Msg: "expected an expression between '${{' and '}}'"}
		}
		exprCol := cols.at(start + 3 + lead)
		n, err := parseExpr(expr, exprCol-1)
		if err != nil {
			return template{}, err
		}
		parts = append(parts, n)
		whole, wholeCol = expr, exprCol
		i = end + 1
	}
	switch {
	case len(parts) == 0:
		return template{root: &node{kind: nLiteral, col: base + 1, depth: 1, val: stringValue("")}}, nil
	case len(parts) == 1:
		if parts[0].kind == nLiteral && whole == "" {
			return template{root: parts[0]}, nil
		}
		return template{root: parts[0], whole: whole, wholeCol: wholeCol}, nil
	}
	return template{root: &node{kind: nTemplate, col: base + 1, depth: 1, args: parts}}, nil
}

// closingBraces returns the offset of the second brace of the first "}}"
// at or after i that is not inside a string literal, or -1.
func closingBraces(s string, i int) int {
	inString := false
	for ; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inString = !inString // '' inside a string toggles twice, so is handled too
		case !inString && s[i] == '}' && s[i-1] == '}':
			return i
		}
	}
	return -1
}

// ParseIf parses the value of an if: key as GitHub reads it. The
// condition may be a bare expression or be wrapped in ${{ }}; an empty
// condition means success(); and a condition that calls none of the status
// functions success(), failure(), cancelled() and always() becomes
// success() && (condition), so that by default a step is skipped once
// something has failed. Eval on the result gives the condition's value;
// Truthy says whether the step or job runs.
//
// Quirks of GitHub kept here: if: ${{ 'text' }} is the condition text (so
// ${{ 'false' }} is false), and a condition mixing ${{ }} with other text
// is a string, true whenever it is not empty.
func ParseIf(cond string) (*Expr, error) {
	text := strings.TrimSpace(cond)
	base := utf8.RuneCountInString(cond[:len(cond)-len(strings.TrimLeftFunc(cond, unicode.IsSpace))])
	success := &node{kind: nCall, col: base + 1, depth: 1, fn: lookupFunction("success")}
	if text == "" {
		return &Expr{src: "success()", root: success}, nil
	}
	var root *node
	if strings.Contains(text, "${{") {
		t, err := parseTemplate(text, base)
		if err != nil {
			return nil, err
		}
		root = t.root
		if t.whole != "" && t.whole[0] == '\'' && root.kind == nLiteral && root.val.kind == KindString {
			// The runner reads ${{ 'x' }} as the literal x before it
			// treats the if: value as an expression.
			if text = root.val.s; strings.TrimSpace(text) == "" {
				return &Expr{src: "success()", root: success}, nil
			}
			if root, err = parseExpr(text, root.col); err != nil { // text starts after the quote
				return nil, err
			}
		}
	} else {
		var err error
		if root, err = parseExpr(text, base); err != nil {
			return nil, err
		}
	}
	if hasStatusFunction(root) {
		return &Expr{src: text, root: root}, nil
	}
	return &Expr{
		src:  "success() && (" + text + ")",
		root: &node{kind: nAnd, col: base + 1, depth: root.depth + 1, args: []*node{success, root}},
	}, nil
}

// EvalIf evaluates an if: condition (see ParseIf) and reports whether the
// step or job should run.
func EvalIf(cond string, ctx *Context) (bool, error) {
	e, err := ParseIf(cond)
	if err != nil {
		return false, err
	}
	v, err := e.Eval(ctx)
	if err != nil {
		return false, err
	}
	return Truthy(v), nil
}

func hasStatusFunction(n *node) bool {
	if n.kind == nCall && n.fn.status {
		return true
	}
	for _, a := range n.args {
		if hasStatusFunction(a) {
			return true
		}
	}
	return false
}
