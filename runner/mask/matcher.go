package mask

import (
	"encoding/base64"
	"slices"
)

// minEncodedLen is the shortest secret whose base64 forms are masked too.
// The stable base64 prefix of a shorter secret is 6 characters or fewer,
// short enough to occur in ordinary output and mask it for no reason.
const minEncodedLen = 6

// patterns returns the byte strings masked for secrets: each distinct
// non-empty secret and, for secrets of at least minEncodedLen bytes, its
// standard base64 encoding and the prefix of that encoding that does not
// depend on what follows the secret (see the package doc).
func patterns(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		out = append(out, s)
		if len(s) >= minEncodedLen {
			full := base64.StdEncoding.EncodeToString([]byte(s))
			// Each base64 character carries 6 bits; the first len*8/6
			// carry only bits of s.
			out = append(out, full, full[:len(s)*8/6])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// matcher is an Aho–Corasick automaton over the patterns. State 0 is the
// root; a state stands for the pattern prefix of its depth that ends at
// the current position.
type matcher struct {
	root [256]int32 // transitions from the root, complete

	// Per state. Edges of state s are edgeByte/edgeNext[edgeOff[s]:edgeOff[s+1]].
	edgeOff  []int32
	edgeByte []byte
	edgeNext []int32
	fail     []int32 // longest proper suffix that is a state
	depth    []int32
	// firstOut is the deepest state on s's suffix chain (s included) that
	// is a whole pattern, or 0; nextOut continues from such a state to the
	// next shorter one.
	firstOut []int32
	nextOut  []int32
	// hold is the depth of the deepest state on s's suffix chain (s
	// included) that has children: the length of the longest suffix of
	// the input that is a proper prefix of a pattern.
	hold []int32

	maxLen int
}

// newMatcher builds the automaton; it returns nil for no patterns.
func newMatcher(pats []string) *matcher {
	if len(pats) == 0 {
		return nil
	}
	// Build the trie with sorted child lists.
	type child struct {
		b    byte
		next int32
	}
	children := [][]child{nil}
	term := []bool{false}
	depth := []int32{0}
	m := &matcher{}
	for _, p := range pats {
		m.maxLen = max(m.maxLen, len(p))
		s := int32(0)
		for i := 0; i < len(p); i++ {
			b := p[i]
			k, found := slices.BinarySearchFunc(children[s], b, func(c child, b byte) int { return int(c.b) - int(b) })
			if found {
				s = children[s][k].next
				continue
			}
			n := int32(len(children))
			children = append(children, nil)
			term = append(term, false)
			depth = append(depth, depth[s]+1)
			children[s] = slices.Insert(children[s], k, child{b, n})
			s = n
		}
		term[s] = true
	}
	n := len(children)
	m.edgeOff = make([]int32, n+1)
	for s, cs := range children {
		m.edgeOff[s+1] = m.edgeOff[s] + int32(len(cs))
		for _, c := range cs {
			m.edgeByte = append(m.edgeByte, c.b)
			m.edgeNext = append(m.edgeNext, c.next)
		}
	}
	m.depth = depth
	m.fail = make([]int32, n)
	m.firstOut = make([]int32, n)
	m.nextOut = make([]int32, n)
	m.hold = make([]int32, n)
	for _, c := range children[0] {
		m.root[c.b] = c.next
	}

	// Breadth first, so a state's suffix states are done before it.
	queue := make([]int32, 0, n)
	for _, c := range children[0] {
		queue = append(queue, c.next)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := m.fail[s]
		if term[f] {
			m.nextOut[s] = f
		} else {
			m.nextOut[s] = m.firstOut[f]
		}
		if term[s] {
			m.firstOut[s] = s
		} else {
			m.firstOut[s] = m.nextOut[s]
		}
		if len(children[s]) > 0 {
			m.hold[s] = m.depth[s]
		} else {
			m.hold[s] = m.hold[f]
		}
		for _, c := range children[s] {
			if s != 0 {
				m.fail[c.next] = m.step(f, c.b)
			}
			queue = append(queue, c.next)
		}
	}
	return m
}

// step returns the state after reading b in state s.
func (m *matcher) step(s int32, b byte) int32 {
	for s != 0 {
		for k := m.edgeOff[s]; k < m.edgeOff[s+1]; k++ {
			if m.edgeByte[k] == b {
				return m.edgeNext[k]
			}
		}
		s = m.fail[s]
	}
	return m.root[b]
}
