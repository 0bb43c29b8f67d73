package ghworkflow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// Limits on what a workflow file may be. GitHub bounds workflow files too;
// these bounds keep the memory and time of Parse and Plan bounded for any
// input, including YAML aliases that stand for billions of values
// ("billion laughs").
const (
	maxFileBytes = 2 << 20
	// maxNodes and maxTextBytes bound the file with its aliases expanded.
	maxNodes     = 500_000
	maxTextBytes = 16 << 20
	maxDepth     = 100
)

// kind is the shape of a node.
type kind uint8

const (
	scalarNode kind = iota + 1
	seqNode
	mapNode
)

// node is YAML as scalars, sequences and mappings, each with the position
// it was written at, after aliases are applied. Aliased content is shared
// rather than copied, which makes nodes read-only once built.
type node struct {
	kind kind
	// tag is the short resolved tag: "!!str", "!!int", "!!float",
	// "!!bool", "!!null", "!!map", "!!seq".
	tag string
	// value is a scalar's text as written, without quotes or escapes.
	value string
	pos   pipeline.Pos
	style yaml.Style
	items []*node
	pairs []pair // one per key, in the order keys first appear
}

type pair struct {
	key, value *node
}

// get returns the value of key in a mapping node, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != mapNode {
		return nil
	}
	for _, p := range n.pairs {
		if p.key.value == key {
			return p.value
		}
	}
	return nil
}

func (n *node) isNull() bool { return n == nil || (n.kind == scalarNode && n.tag == "!!null") }

// describe names a node's type for messages: "a string", "a list"...
func describe(n *node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.kind == seqNode:
		return "a list"
	case n.kind == mapNode:
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

// source is the file being read, to turn offsets inside scalars into
// positions.
type source struct {
	file  string
	lines []string
}

func newSource(file string, data []byte) *source {
	return &source{file: file, lines: strings.Split(string(data), "\n")}
}

// posIn returns the position of the byte at offset off of scalar n's value,
// exactly for single-line scalars and literal blocks, and n's own position
// for the other multi-line forms, whose folding loses the columns.
func (s *source) posIn(n *node, off int) pipeline.Pos {
	off = max(0, min(off, len(n.value)))
	before := n.value[:off]
	switch {
	case !strings.Contains(before, "\n") && !strings.Contains(n.value, "\n") && n.style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0:
		col := n.pos.Column + utf8.RuneCountInString(before)
		if n.style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
			col++
		}
		return pipeline.Pos{File: n.pos.File, Line: n.pos.Line, Column: col}
	case n.style&yaml.LiteralStyle != 0:
		k := strings.Count(before, "\n")
		lineStart := strings.LastIndexByte(before, '\n') + 1
		line := n.pos.Line + 1 + k
		indent := s.blockIndent(n.pos.Line + 1)
		return pipeline.Pos{File: n.pos.File, Line: line, Column: indent + 1 + utf8.RuneCountInString(before[lineStart:])}
	}
	return n.pos
}

// blockIndent returns the indentation of the first non-blank line at or
// after line (1-based): the indentation of a block scalar's content.
func (s *source) blockIndent(line int) int {
	for i := line - 1; i >= 0 && i < len(s.lines); i++ {
		l := strings.TrimRight(s.lines[i], "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		return len(l) - len(strings.TrimLeft(l, " "))
	}
	return 0
}

// loadYAML parses data into nodes. It returns nil, with the problem
// recorded, when data is not a single valid YAML document.
func loadYAML(file string, data []byte, d *diagnostics) *node {
	docs, err := yamlDocuments(data)
	if err != nil {
		d.errs = append(d.errs, syntaxError(file, data, err))
		return nil
	}
	l := &yamlLoader{file: file, d: d, done: map[*yaml.Node]*node{}, active: map[*yaml.Node]bool{}, anchors: map[string]pipeline.Pos{}}
	switch {
	case len(docs) == 0:
		return &node{kind: scalarNode, tag: "!!null", pos: pipeline.Pos{File: file, Line: 1, Column: 1}}
	case len(docs) > 1:
		d.errorf(l.pos(docs[1]), "a workflow file holds a single YAML document; remove this `---` and what follows")
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
		if len(docs) > 1 {
			return docs, nil // the second one is an error anyway
		}
	}
}

// syntaxError turns the YAML library's error into one with our position
// format, keeping libyaml's hint about the construct being read.
func syntaxError(file string, data []byte, err error) *pipeline.Error {
	pos := pipeline.Pos{File: file, Line: 1, Column: 1}
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
		if le.Stage == yaml.ReaderStage && le.Mark.Line == 0 && !utf8.Valid(data) {
			msg = "the file is not valid UTF-8 (" + msg + ")"
		}
	}
	if line := lineAt(data, pos.Line); strings.HasPrefix(strings.TrimLeft(line, " "), "\t") {
		msg += "; indent with spaces, YAML does not allow tabs for indentation"
	}
	return &pipeline.Error{Pos: pos, Msg: "invalid YAML: " + msg}
}

func lineAt(data []byte, line int) string {
	for ; line > 1; line-- {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return ""
		}
		data = data[i+1:]
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	return string(data)
}

// yamlLoader converts the YAML library's nodes into ours.
type yamlLoader struct {
	file string
	d    *diagnostics
	// done memoises anchored nodes so every alias shares one conversion.
	done map[*yaml.Node]*node
	// active holds the nodes being converted, to catch an alias that
	// refers to a node containing it (`&a [*a]`).
	active  map[*yaml.Node]bool
	anchors map[string]pipeline.Pos
}

func (l *yamlLoader) pos(n *yaml.Node) pipeline.Pos {
	return pipeline.Pos{File: l.file, Line: max(n.Line, 1), Column: max(n.Column, 1)}
}

func (l *yamlLoader) null(n *yaml.Node) *node {
	return &node{kind: scalarNode, tag: "!!null", pos: l.pos(n)}
}

// knownTags are the YAML tags a workflow may use.
var knownTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!timestamp": true, "!!binary": true,
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
		return l.convert(n.Content[0])
	case yaml.ScalarNode:
		out = &node{kind: scalarNode, tag: n.ShortTag(), value: n.Value, pos: l.pos(n), style: n.Style}
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
	if !knownTags[out.tag] {
		l.d.errorf(out.pos, "unknown YAML tag `%s`: GitHub Actions workflows use plain YAML", n.Tag)
	}
	if n.Anchor != "" {
		l.done[n] = out
	}
	return out
}

// mapping converts a mapping. A repeated key replaces the earlier value but
// keeps its place, with a warning.
func (l *yamlLoader) mapping(n *yaml.Node) *node {
	out := &node{kind: mapNode, tag: n.ShortTag(), pos: l.pos(n)}
	index := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			l.d.errorf(l.pos(kn), "merge keys `<<` are not supported in GitHub Actions workflows; repeat the keys, or use an alias for a whole value")
			continue
		}
		key := l.convert(kn)
		if key.kind != scalarNode {
			l.d.errorf(key.pos, "a mapping key must be a string, got %s", describe(key))
			continue
		}
		value := l.convert(vn)
		if at, ok := index[key.value]; ok {
			prev := out.pairs[at].key.pos
			l.d.warnf(key.pos, "duplicate key %q: this value replaces the one at %d:%d", key.value, prev.Line, prev.Column)
			out.pairs[at] = pair{key: key, value: value}
			continue
		}
		index[key.value] = len(out.pairs)
		out.pairs = append(out.pairs, pair{key: key, value: value})
	}
	return out
}

// extent is the size of a node with every alias expanded: values, bytes of
// text and depth, each saturating just above its limit.
type extent struct {
	nodes, bytes, depth int
}

// sizer measures nodes, memoising shared (aliased) nodes so measuring
// stays linear in the size of the file, not of its expansion.
type sizer struct {
	memo map[*node]extent
}

func (s *sizer) measure(n *node) extent {
	if e, ok := s.memo[n]; ok {
		return e
	}
	e := extent{nodes: 1, bytes: len(n.value), depth: 1}
	add := func(c *node) {
		ce := s.measure(c)
		e.nodes = min(e.nodes+ce.nodes, maxNodes+1)
		e.bytes = min(e.bytes+ce.bytes, maxTextBytes+1)
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

// checkSize records an error and returns false when root is too big or too
// deep to process.
func checkSize(root *node, d *diagnostics) bool {
	s := &sizer{memo: map[*node]extent{}}
	e := s.measure(root)
	switch {
	case e.nodes > maxNodes:
		d.errorf(root.pos, "the workflow is too big: with its aliases expanded it has more than %d values", maxNodes)
	case e.bytes > maxTextBytes:
		d.errorf(root.pos, "the workflow is too big: with its aliases expanded it holds more than %d MiB of text", maxTextBytes>>20)
	case e.depth > maxDepth:
		d.errorf(deepest(s, root).pos, "the workflow is nested too deeply: more than %d levels", maxDepth)
	default:
		return true
	}
	return false
}

// deepest returns a node nested more than maxDepth levels below n, to point
// the error at something the user can find.
func deepest(s *sizer, n *node) *node {
	for range maxDepth {
		want := s.measure(n).depth - 1
		var next *node
		for _, c := range n.items {
			if next == nil && s.measure(c).depth >= want {
				next = c
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
