package yamlpos

import "math"

// Limits bound what a file may expand to. Aliases let a few hundred bytes
// of YAML stand for billions of values ("billion laughs"), so parsers check
// them before any layer walks the tree.
type Limits struct {
	// Nodes bounds the values (scalars, keys, lists and mappings) with
	// aliases expanded.
	Nodes int
	// TextBytes, a whole number of MiB, bounds the scalar text with aliases
	// expanded; 0 leaves it unbounded.
	TextBytes int
	// Depth bounds how deeply values nest.
	Depth int
}

// Extent is the size of a node with every alias expanded. Each count
// saturates just above its limit.
type Extent struct {
	Nodes, TextBytes, Depth int
}

// Sizer measures nodes against Limits, memoising shared (aliased) nodes so
// measuring stays linear in the size of the file, not of its expansion.
// One Sizer may measure every file of a parse, and what they expand to.
type Sizer struct {
	limits Limits
	// textCap is where TextBytes saturates.
	textCap int
	memo    map[*Node]Extent
}

// NewSizer returns a Sizer for limits.
func NewSizer(limits Limits) *Sizer {
	textCap := math.MaxInt / 2 // sums of two never overflow
	if limits.TextBytes > 0 {
		textCap = limits.TextBytes + 1
	}
	return &Sizer{limits: limits, textCap: textCap, memo: map[*Node]Extent{}}
}

// Measure returns the extent of n.
func (s *Sizer) Measure(n *Node) Extent {
	if e, ok := s.memo[n]; ok {
		return e
	}
	e := Extent{Nodes: 1, TextBytes: min(len(n.Value), s.textCap), Depth: 1}
	add := func(c *Node) {
		ce := s.Measure(c)
		e.Nodes = min(e.Nodes+ce.Nodes, s.limits.Nodes+1)
		e.TextBytes = min(e.TextBytes+ce.TextBytes, s.textCap)
		e.Depth = min(max(e.Depth, ce.Depth+1), s.limits.Depth+1)
	}
	for _, c := range n.Items {
		add(c)
	}
	for _, p := range n.Pairs {
		add(p.Key)
		add(p.Value)
	}
	s.memo[n] = e
	return e
}

// Check reports an error to r and returns false when root is too big or
// too deep to process; what names the file in the message ("the pipeline
// is too big: ...").
func (s *Sizer) Check(root *Node, r Reporter, what string) bool {
	e := s.Measure(root)
	switch {
	case e.Nodes > s.limits.Nodes:
		r.Errorf(root.Pos, "the %s is too big: with its aliases expanded it has more than %d values", what, s.limits.Nodes)
	case s.limits.TextBytes > 0 && e.TextBytes > s.limits.TextBytes:
		r.Errorf(root.Pos, "the %s is too big: with its aliases expanded it holds more than %d MiB of text", what, s.limits.TextBytes>>20)
	case e.Depth > s.limits.Depth:
		r.Errorf(s.deepest(root).Pos, "the %s is nested too deeply: more than %d levels", what, s.limits.Depth)
	default:
		return true
	}
	return false
}

// deepest returns a node nested more than the depth limit below n, to
// point the error at something the user can find. n must be too deep.
func (s *Sizer) deepest(n *Node) *Node {
	for range s.limits.Depth {
		want := s.Measure(n).Depth - 1
		var next *Node
		for _, c := range n.Items {
			if s.Measure(c).Depth >= want {
				next = c
				break
			}
		}
		for _, p := range n.Pairs {
			if next == nil && s.Measure(p.Value).Depth >= want {
				next = p.Value
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}
