package pipeline

// Limits on what a pipeline file may expand to. Aliases let a few hundred
// bytes of YAML stand for billions of nodes ("billion laughs"); GitLab caps
// the loaded size and depth for the same reason (MAX_YAML_SIZE,
// MAX_YAML_DEPTH), and so do we, before any layer walks the tree.
const (
	maxNodes = 1_000_000
	maxDepth = 100
)

// extent is the size of a node with every alias expanded, and its depth.
// Both saturate just above their limit.
type extent struct {
	size, depth int
}

// sizer measures nodes, memoising shared (aliased) nodes so measuring stays
// linear in the size of the file, not of its expansion.
type sizer struct {
	memo map[*node]extent
}

func newSizer() *sizer {
	return &sizer{memo: map[*node]extent{}}
}

func (s *sizer) measure(n *node) extent {
	if e, ok := s.memo[n]; ok {
		return e
	}
	e := extent{size: 1, depth: 1}
	add := func(c *node) {
		ce := s.measure(c)
		e.size = min(e.size+ce.size, maxNodes+1)
		e.depth = min(max(e.depth, ce.depth+1), maxDepth+1)
	}
	for _, c := range n.items {
		add(c)
	}
	for _, p := range n.pairs {
		add(p.key)
		add(p.value)
	}
	s.memo[n] = e
	return e
}

// deepest returns a node nested maxDepth+1 levels below n, to point the
// "too deep" error at something the user can find. n must be too deep.
func (s *sizer) deepest(n *node) *node {
	for level := 1; level <= maxDepth; level++ {
		want := s.measure(n).depth - 1
		var next *node
		for _, c := range n.items {
			if s.measure(c).depth >= want {
				next = c
				break
			}
		}
		for _, p := range n.pairs {
			if next == nil && s.measure(p.value).depth >= want {
				next = p.value
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

// checkSize records an error and returns false when root is too big or too
// deep to process.
func (p *parser) checkSize(root *node) bool {
	e := p.sizer.measure(root)
	if e.size > maxNodes {
		p.d.errorf(root.pos, "the pipeline is too big: with its aliases expanded it has more than %d values", maxNodes)
		return false
	}
	if e.depth > maxDepth {
		p.d.errorf(p.sizer.deepest(root).pos, "the pipeline is nested too deeply: more than %d levels", maxDepth)
		return false
	}
	return true
}
