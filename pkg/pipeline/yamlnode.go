package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
)

// kind is the shape of a raw node.
type kind uint8

const (
	scalarNode kind = iota + 1
	seqNode
	mapNode
)

// node is the raw layer: YAML as scalars, sequences and mappings, each with
// the position it was written at, after aliases and `<<` merge keys are
// applied. Aliased content is shared rather than copied (so a document full
// of aliases stays small), which makes nodes read-only once built: layers
// above build new nodes instead of editing these.
type node struct {
	kind kind
	// tag is the short resolved tag ("!!str", "!!int", "!!bool", "!!null",
	// "!!map", "!!seq"...) or a custom one such as "!reference".
	tag string
	// value is a scalar's text as written, without quotes or escapes: 5432
	// stays "5432", 1.10 stays "1.10".
	value string
	pos   Pos
	items []*node // seqNode
	pairs []pair  // mapNode: one per key, in the order keys first appear
}

// pair is one mapping entry. The key is always a scalar.
type pair struct {
	key, value *node
}

// lookup returns the entry for key in a mapping node.
func (n *node) lookup(key string) (pair, bool) {
	if n == nil || n.kind != mapNode {
		return pair{}, false
	}
	for _, p := range n.pairs {
		if p.key.value == key {
			return p, true
		}
	}
	return pair{}, false
}

func (n *node) isNull() bool {
	return n.kind == scalarNode && n.tag == "!!null"
}

// mapBuilder builds a mapping node with Ruby Hash semantics, which is what
// GitLab's YAML loader (Psych) gives: assigning an existing key replaces its
// value but keeps its place in the order.
type mapBuilder struct {
	n *node
	// index maps keys to their place once the mapping is big enough for a
	// linear search to cost more than the map (most mappings hold a few
	// keys).
	index map[string]int
}

const mapIndexThreshold = 16

func newMapBuilder(pos Pos, tag string) *mapBuilder {
	return &mapBuilder{n: &node{kind: mapNode, tag: tag, pos: pos}}
}

// find returns the place of key, or -1.
func (b *mapBuilder) find(key string) int {
	if b.index != nil {
		if i, ok := b.index[key]; ok {
			return i
		}
		return -1
	}
	for i, p := range b.n.pairs {
		if p.key.value == key {
			return i
		}
	}
	return -1
}

func (b *mapBuilder) set(key, value *node) {
	if i := b.find(key.value); i >= 0 {
		b.n.pairs[i] = pair{key: key, value: value}
		return
	}
	b.n.pairs = append(b.n.pairs, pair{key: key, value: value})
	switch n := len(b.n.pairs); {
	case b.index != nil:
		b.index[key.value] = n - 1
	case n > mapIndexThreshold:
		b.index = make(map[string]int, 2*n)
		for i, p := range b.n.pairs {
			b.index[p.key.value] = i
		}
	}
}

// knownTags are the YAML tags a pipeline may use; !reference is GitLab's.
var knownTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!timestamp": true, "!!binary": true,
}

// loadYAML parses data into raw nodes. It returns nil, with the problem
// recorded, when data is not valid YAML; it returns a null node when the
// file holds no document. Problems in a YAML structure it could read
// (a recursive alias, an unknown tag, a bad merge key) are recorded too.
func loadYAML(file string, data []byte, d *diagnostics) *node {
	docs, err := yamlDocuments(data)
	if err != nil {
		d.errs = append(d.errs, syntaxError(file, data, err))
		return nil
	}
	l := &yamlLoader{
		file:    file,
		d:       d,
		done:    map[*yaml.Node]*node{},
		active:  map[*yaml.Node]bool{},
		anchors: map[string]Pos{},
	}
	switch {
	case len(docs) == 0:
		return &node{kind: scalarNode, tag: "!!null", pos: Pos{File: file, Line: 1, Column: 1}}
	case len(docs) == 2 && isSpecHeader(docs[0]):
		// GitLab lets a file start with a `spec:` document declaring its
		// inputs; without inputs support the jobs are still readable.
		d.warnf(l.pos(docs[0].Content[0]), "the `spec` header document is not supported yet and was ignored")
		return l.convert(docs[1])
	case len(docs) > 1:
		d.errorf(l.pos(docs[1]), "a pipeline file holds a single YAML document; remove this `---` and what follows, or merge it into the first document")
		return nil
	}
	return l.convert(docs[0])
}

// yamlDocuments reads every document of the stream.
func yamlDocuments(data []byte) (docs []*yaml.Node, err error) {
	// The YAML library is a port of C code; a panic on some input must not
	// take down a coordinator that parses files users send.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	for {
		var doc yaml.Node
		err := l.Load(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

// syntaxError turns the YAML library's error into one with our position
// format, keeping libyaml's hint about the construct being read.
func syntaxError(file string, data []byte, err error) *Error {
	pos := Pos{File: file, Line: 1, Column: 1}
	msg := err.Error()
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg = le.Message
		if le.Mark.Line > 0 {
			pos.Line, pos.Column = le.Mark.Line, max(le.Mark.Column, 1)
		}
		if le.ContextMsg != "" {
			msg += " (" + le.ContextMsg
			if le.ContextMark.Line > 0 && le.ContextMark != le.Mark {
				msg += fmt.Sprintf(" started at %d:%d", le.ContextMark.Line, le.ContextMark.Column)
			}
			msg += ")"
		}
		if le.Stage == yaml.ReaderStage && le.Mark.Line == 0 {
			// The reader does not say where the bad bytes are.
			if line, col, ok := invalidUTF8(data); ok {
				pos.Line, pos.Column = line, col
				msg = "the file is not valid UTF-8 here (" + msg + ")"
			}
		}
	}
	if charAt(data, pos.Line, pos.Column) == '\t' {
		msg += "; indent with spaces, YAML does not allow tabs for indentation"
	}
	return &Error{Pos: pos, Msg: "invalid YAML: " + msg}
}

// invalidUTF8 returns the position of the first byte that is not valid
// UTF-8, counting columns in characters like libyaml.
func invalidUTF8(data []byte) (line, col int, ok bool) {
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line, col, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return 0, 0, false
}

// charAt returns the character at a 1-based line and column, or -1.
func charAt(data []byte, line, col int) rune {
	for ; line > 1; line-- {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return -1
		}
		data = data[i+1:]
	}
	for ; col > 1 && len(data) > 0; col-- {
		_, size := utf8.DecodeRune(data)
		data = data[size:]
	}
	if len(data) == 0 {
		return -1
	}
	r, _ := utf8.DecodeRune(data)
	return r
}

func isSpecHeader(doc *yaml.Node) bool {
	if len(doc.Content) != 1 {
		return false
	}
	m := doc.Content[0]
	return m.Kind == yaml.MappingNode && len(m.Content) == 2 && m.Content[0].Value == "spec"
}

// yamlLoader converts the YAML library's nodes into raw nodes.
type yamlLoader struct {
	file string
	d    *diagnostics
	// done memoises anchored nodes so every alias shares one conversion.
	done map[*yaml.Node]*node
	// active holds the nodes being converted, to catch an alias that refers
	// to a node containing it (`&a [*a]`), which YAML allows.
	active map[*yaml.Node]bool
	// anchors remembers where each anchor name was defined, to warn when
	// one is redefined.
	anchors map[string]Pos
}

func (l *yamlLoader) pos(n *yaml.Node) Pos {
	return Pos{File: l.file, Line: max(n.Line, 1), Column: max(n.Column, 1)}
}

func (l *yamlLoader) null(n *yaml.Node) *node {
	return &node{kind: scalarNode, tag: "!!null", pos: l.pos(n)}
}

func (l *yamlLoader) convert(n *yaml.Node) *node {
	if n.Kind == yaml.AliasNode {
		switch {
		case n.Alias == nil:
			l.d.errorf(l.pos(n), "alias *%s refers to no anchor", n.Value)
			return l.null(n)
		case l.active[n.Alias]:
			l.d.errorf(l.pos(n), "alias *%s refers to a value that contains it", n.Value)
			return l.null(n)
		}
		return l.convert(n.Alias)
	}
	if done, ok := l.done[n]; ok {
		return done
	}
	if n.Anchor != "" {
		// Aliases point backwards, so an anchored node is first reached
		// here, in document order, before any alias to it.
		if prev, ok := l.anchors[n.Anchor]; ok {
			l.d.warnf(l.pos(n), "anchor &%s is defined again (first at %d:%d); aliases after this point use this value", n.Anchor, prev.Line, prev.Column)
		}
		l.anchors[n.Anchor] = l.pos(n)
	}
	l.active[n] = true
	defer delete(l.active, n)

	var out *node
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return l.null(n)
		}
		out = l.convert(n.Content[0])
	case yaml.ScalarNode:
		out = &node{kind: scalarNode, tag: n.ShortTag(), value: n.Value, pos: l.pos(n)}
	case yaml.SequenceNode:
		out = &node{kind: seqNode, tag: n.ShortTag(), pos: l.pos(n), items: make([]*node, 0, len(n.Content))}
		for _, c := range n.Content {
			out.items = append(out.items, l.convert(c))
		}
	case yaml.MappingNode:
		out = l.mapping(n)
	default:
		return l.null(n)
	}
	if n.Kind != yaml.DocumentNode {
		l.checkTag(n, out)
	}
	if n.Anchor != "" {
		l.done[n] = out
	}
	return out
}

func (l *yamlLoader) checkTag(n *yaml.Node, out *node) {
	switch {
	case knownTags[out.tag]:
	case out.tag == "!reference":
		if out.kind != seqNode {
			l.d.errorf(out.pos, "!reference takes a list of keys, such as [.job, script]; got %s", describe(out))
		}
	default:
		l.d.errorf(out.pos, "unknown YAML tag `%s`", n.Tag)
	}
}

func (l *yamlLoader) mapping(n *yaml.Node) *node {
	b := newMapBuilder(l.pos(n), n.ShortTag())
	written := map[string]Pos{} // keys written in this mapping, not merged in
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			l.merge(b, vn)
			continue
		}
		key := l.convert(kn)
		if key.kind != scalarNode {
			l.d.errorf(key.pos, "a mapping key must be a string, got %s", describe(key))
			continue
		}
		if prev, ok := written[key.value]; ok {
			l.d.warnf(key.pos, "duplicate key %q: this value replaces the one at %d:%d", key.value, prev.Line, prev.Column)
		}
		written[key.value] = key.pos
		b.set(key, l.convert(vn))
	}
	return b.n
}

// merge applies a `<<` merge key the way GitLab's loader does: the merged
// keys override the keys written before `<<` and are overridden by those
// written after it; in a list of mappings, the earlier mappings win.
func (l *yamlLoader) merge(b *mapBuilder, vn *yaml.Node) {
	v := l.convert(vn)
	switch v.kind {
	case mapNode:
		for _, p := range v.pairs {
			b.set(p.key, p.value)
		}
	case seqNode:
		merged := newMapBuilder(v.pos, "!!map")
		for _, item := range v.items {
			if item.kind != mapNode {
				l.d.errorf(item.pos, "a merge key `<<` takes a mapping or a list of mappings, got %s in the list", describe(item))
				continue
			}
			for _, p := range item.pairs {
				if merged.find(p.key.value) < 0 {
					merged.set(p.key, p.value)
				}
			}
		}
		for _, p := range merged.n.pairs {
			b.set(p.key, p.value)
		}
	default:
		l.d.errorf(l.pos(vn), "a merge key `<<` takes a mapping or a list of mappings, got %s", describe(v))
	}
}

// describe names a node's type for messages: "a string", "a list"...
func describe(n *node) string {
	switch n.kind {
	case seqNode:
		return "a list"
	case mapNode:
		return "a mapping"
	}
	switch n.tag {
	case "!!null":
		return "null"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}
