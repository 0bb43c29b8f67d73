package yamlpos

import (
	"fmt"

	yaml "go.yaml.in/yaml/v4"
)

// Pos is a position in a file. Line and Column are 1-based; Column counts
// characters, not bytes, as editors do.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String formats the position as "file:line:column".
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Kind is the shape of a Node.
type Kind uint8

const (
	// Scalar is a string, number, boolean or null.
	Scalar Kind = iota + 1
	// Sequence is a list.
	Sequence
	// Mapping is a list of key-value pairs.
	Mapping
)

// Node is YAML as scalars, sequences and mappings, each with the position
// it was written at, after aliases (and `<<` merge keys, where the format
// has them) are applied. Aliased content is shared rather than copied, so
// that a document full of aliases stays small, which makes Nodes read-only
// once built: build new ones instead of editing these.
type Node struct {
	Kind Kind
	// Style is how a scalar was written (plain, quoted, literal...), to
	// find positions inside its value.
	Style yaml.Style
	// Tag is the short resolved tag ("!!str", "!!int", "!!bool", "!!null",
	// "!!map", "!!seq"...) or a custom one such as "!reference".
	Tag string
	// Value is a scalar's text as written, without quotes or escapes: 5432
	// stays "5432", 1.10 stays "1.10".
	Value string
	// Pos is where the node starts.
	Pos Pos
	// Items are a Sequence's values.
	Items []*Node
	// Pairs are a Mapping's entries: one per key, in the order keys first
	// appear.
	Pairs []Pair
}

// Pair is one mapping entry. The key is always a scalar.
type Pair struct {
	Key, Value *Node
}

// Lookup returns the entry for key in a mapping node.
func (n *Node) Lookup(key string) (Pair, bool) {
	if n == nil || n.Kind != Mapping {
		return Pair{}, false
	}
	for _, p := range n.Pairs {
		if p.Key.Value == key {
			return p, true
		}
	}
	return Pair{}, false
}

// Get returns the value of key in a mapping node, or nil.
func (n *Node) Get(key string) *Node {
	p, _ := n.Lookup(key)
	return p.Value
}

// IsNull reports whether n is a null scalar, or no node at all.
func (n *Node) IsNull() bool {
	return n == nil || (n.Kind == Scalar && n.Tag == "!!null")
}

// Describe names a node's type for messages: "a string", "a list"...
func Describe(n *Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == Sequence:
		return "a list"
	case n.Kind == Mapping:
		return "a mapping"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

// MapBuilder builds a mapping node with Ruby Hash semantics, which is what
// GitLab's YAML loader (Psych) gives: setting a key again replaces its
// value but keeps its place in the order.
type MapBuilder struct {
	n *Node
	// index maps keys to their place once the mapping is big enough for a
	// linear search to cost more than the map (most mappings hold a few
	// keys).
	index map[string]int
}

const mapIndexThreshold = 16

// NewMapBuilder starts an empty mapping written at pos, with room for size
// keys.
func NewMapBuilder(pos Pos, tag string, size int) *MapBuilder {
	return &MapBuilder{n: &Node{Kind: Mapping, Tag: tag, Pos: pos, Pairs: make([]Pair, 0, size)}}
}

// find returns the place of key, or -1.
func (b *MapBuilder) find(key string) int {
	if b.index != nil {
		if i, ok := b.index[key]; ok {
			return i
		}
		return -1
	}
	for i, p := range b.n.Pairs {
		if p.Key.Value == key {
			return i
		}
	}
	return -1
}

// Get returns the value set for key.
func (b *MapBuilder) Get(key string) (*Node, bool) {
	if i := b.find(key); i >= 0 {
		return b.n.Pairs[i].Value, true
	}
	return nil, false
}

// Set sets key to value. A key set before keeps its place and takes the
// new key node, so that positions point at the definition in use.
func (b *MapBuilder) Set(key, value *Node) {
	if i := b.find(key.Value); i >= 0 {
		b.n.Pairs[i] = Pair{Key: key, Value: value}
		return
	}
	b.n.Pairs = append(b.n.Pairs, Pair{Key: key, Value: value})
	switch n := len(b.n.Pairs); {
	case b.index != nil:
		b.index[key.Value] = n - 1
	case n > mapIndexThreshold:
		b.index = make(map[string]int, 2*n)
		for i, p := range b.n.Pairs {
			b.index[p.Key.Value] = i
		}
	}
}

// Node returns the mapping built so far.
func (b *MapBuilder) Node() *Node { return b.n }
