package yamlpos

import yaml "go.yaml.in/yaml/v4"

// Reporter receives the problems a Loader or a Sizer finds in YAML that
// could be parsed, so that a parser reports them with its own.
type Reporter interface {
	Errorf(pos Pos, format string, args ...any)
	Warnf(pos Pos, format string, args ...any)
}

// Options adapt a Loader to a file format.
type Options struct {
	// Tag is called for a node whose tag is not one of YAML's own: it
	// reports what is wrong with the node, if anything, and returns false
	// when the format does not know the tag either, which is then
	// reported. Nil knows no custom tag.
	Tag func(n *Node) bool
	// UnknownTagHint, when set, ends the unknown-tag error:
	// "unknown YAML tag `!x`: hint".
	UnknownTagHint string
	// MergeKeyError, when set, refuses `<<` merge keys: it is reported at
	// each one and the merged value is skipped. Otherwise merge keys are
	// applied the way GitLab's loader (Psych) does: the merged keys
	// override the keys written before `<<` and are overridden by those
	// written after it; in a list of mappings, the earlier mappings win.
	MergeKeyError string
}

// standardTags are YAML's own tags, which every format accepts.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!timestamp": true, "!!binary": true,
}

// Loader converts the YAML library's nodes from one file into Nodes. It
// reports aliases to nothing or to a value that contains them, unknown
// tags, bad merge keys and keys that are not strings as errors, and
// repeated keys (the last value wins, in the first one's place) and
// redefined anchors as warnings.
type Loader struct {
	file string
	r    Reporter
	opts Options
	// done memoises anchored nodes so every alias shares one conversion.
	done map[*yaml.Node]*Node
	// active holds the nodes being converted, to catch an alias that refers
	// to a node containing it (`&a [*a]`), which YAML allows.
	active map[*yaml.Node]bool
	// anchors remembers where each anchor name was defined, to warn when
	// one is redefined.
	anchors map[string]Pos
}

// NewLoader returns a Loader for the documents of file, reporting to r.
func NewLoader(file string, r Reporter, opts Options) *Loader {
	return &Loader{file: file, r: r, opts: opts, done: map[*yaml.Node]*Node{}, active: map[*yaml.Node]bool{}, anchors: map[string]Pos{}}
}

// Pos returns the position of n in the file.
func (l *Loader) Pos(n *yaml.Node) Pos {
	return Pos{File: l.file, Line: max(n.Line, 1), Column: max(n.Column, 1)}
}

func (l *Loader) null(n *yaml.Node) *Node {
	return &Node{Kind: Scalar, Tag: "!!null", Pos: l.Pos(n)}
}

// Load converts a document, or a node of one. An empty document is a null
// scalar.
func (l *Loader) Load(n *yaml.Node) *Node {
	if n.Kind == yaml.AliasNode {
		switch {
		case n.Alias == nil:
			l.r.Errorf(l.Pos(n), "alias *%s refers to no anchor", n.Value)
			return l.null(n)
		case l.active[n.Alias]:
			l.r.Errorf(l.Pos(n), "alias *%s refers to a value that contains it", n.Value)
			return l.null(n)
		}
		return l.Load(n.Alias)
	}
	if done, ok := l.done[n]; ok {
		return done
	}
	if n.Anchor != "" {
		// Aliases point backwards, so an anchored node is first reached
		// here, in document order, before any alias to it.
		if prev, ok := l.anchors[n.Anchor]; ok {
			l.r.Warnf(l.Pos(n), "anchor &%s is defined again (first at %d:%d); aliases after this point use this value", n.Anchor, prev.Line, prev.Column)
		}
		l.anchors[n.Anchor] = l.Pos(n)
	}
	l.active[n] = true
	defer delete(l.active, n)

	var out *Node
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return l.null(n)
		}
		return l.Load(n.Content[0])
	case yaml.ScalarNode:
		out = &Node{Kind: Scalar, Tag: n.ShortTag(), Value: n.Value, Pos: l.Pos(n), Style: n.Style}
	case yaml.SequenceNode:
		out = &Node{Kind: Sequence, Tag: n.ShortTag(), Pos: l.Pos(n), Items: make([]*Node, 0, len(n.Content))}
		for _, c := range n.Content {
			out.Items = append(out.Items, l.Load(c))
		}
	case yaml.MappingNode:
		out = l.mapping(n)
	default:
		return l.null(n)
	}
	l.checkTag(n, out)
	if n.Anchor != "" {
		l.done[n] = out
	}
	return out
}

func (l *Loader) checkTag(n *yaml.Node, out *Node) {
	if standardTags[out.Tag] || (l.opts.Tag != nil && l.opts.Tag(out)) {
		return
	}
	if l.opts.UnknownTagHint != "" {
		l.r.Errorf(out.Pos, "unknown YAML tag `%s`: %s", n.Tag, l.opts.UnknownTagHint)
		return
	}
	l.r.Errorf(out.Pos, "unknown YAML tag `%s`", n.Tag)
}

func (l *Loader) mapping(n *yaml.Node) *Node {
	b := NewMapBuilder(l.Pos(n), n.ShortTag(), len(n.Content)/2)
	written := map[string]Pos{} // keys written in this mapping, not merged in
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			if l.opts.MergeKeyError != "" {
				l.r.Errorf(l.Pos(kn), "%s", l.opts.MergeKeyError)
				continue
			}
			l.merge(b, vn)
			continue
		}
		key := l.Load(kn)
		if key.Kind != Scalar {
			l.r.Errorf(key.Pos, "a mapping key must be a string, got %s", Describe(key))
			continue
		}
		if prev, ok := written[key.Value]; ok {
			l.r.Warnf(key.Pos, "duplicate key %q: this value replaces the one at %d:%d", key.Value, prev.Line, prev.Column)
		}
		written[key.Value] = key.Pos
		b.Set(key, l.Load(vn))
	}
	return b.Node()
}

// merge applies a `<<` merge key as Options.MergeKeyError describes.
func (l *Loader) merge(b *MapBuilder, vn *yaml.Node) {
	v := l.Load(vn)
	switch v.Kind {
	case Mapping:
		for _, p := range v.Pairs {
			b.Set(p.Key, p.Value)
		}
	case Sequence:
		merged := NewMapBuilder(v.Pos, "!!map", 0)
		for _, item := range v.Items {
			if item.Kind != Mapping {
				l.r.Errorf(item.Pos, "a merge key `<<` takes a mapping or a list of mappings, got %s in the list", Describe(item))
				continue
			}
			for _, p := range item.Pairs {
				if _, ok := merged.Get(p.Key.Value); !ok {
					merged.Set(p.Key, p.Value)
				}
			}
		}
		for _, p := range merged.Node().Pairs {
			b.Set(p.Key, p.Value)
		}
	default:
		l.r.Errorf(l.Pos(vn), "a merge key `<<` takes a mapping or a list of mappings, got %s", Describe(v))
	}
}
