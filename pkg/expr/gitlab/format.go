package gitlab

import "strings"

// String returns the expression in canonical form: single spaces around
// operators, $NAME for variables, double quotes unless the string contains
// one, regular expressions as written, and only the parentheses the tree
// needs. Parse(e.String()) gives back the same expression.
func (e *Expr) String() string {
	var b strings.Builder
	write(&b, e.root)
	return b.String()
}

func write(b *strings.Builder, n node) {
	switch n := n.(type) {
	case varNode:
		b.WriteString("$")
		b.WriteString(n.name)
	case strNode:
		q := "\""
		if strings.Contains(n.s, q) {
			q = "'"
		}
		b.WriteString(q + n.s + q)
	case nullNode:
		b.WriteString("null")
	case *cmpNode:
		writeBinary(b, n, n.left, pick(n.negate, "!=", "=="), n.right)
	case *matchNode:
		op := pick(n.negate, "!~", "=~")
		if n.re == nil {
			writeBinary(b, n, n.left, op, n.right)
			return
		}
		writeOperand(b, n.left, n.level(), false)
		b.WriteString(" " + op + " " + n.text)
	case *logicNode:
		writeBinary(b, n, n.left, pick(n.or, "||", "&&"), n.right)
	}
}

func writeBinary(b *strings.Builder, n, left node, op string, right node) {
	writeOperand(b, left, n.level(), false)
	b.WriteString(" " + op + " ")
	writeOperand(b, right, n.level(), true)
}

// writeOperand parenthesises an operand that binds more loosely than its
// parent, or as loosely on the right, since every operator associates to
// the left.
func writeOperand(b *strings.Builder, n node, parent int, right bool) {
	if l := n.level(); l > parent || right && l == parent {
		b.WriteString("(")
		write(b, n)
		b.WriteString(")")
		return
	}
	write(b, n)
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}
