package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// maxExtendsDepth is how many levels of `extends` GitLab follows.
const maxExtendsDepth = 11

// resolution is the state of one entry while resolving `extends`.
type resolution struct {
	body   *node // merged body, without `extends`
	height int   // longest `extends` chain above this entry
	active bool  // being resolved: meeting it again is a cycle
	failed bool  // an error was recorded; entries extending it stay quiet
}

// extendsResolver applies `extends` the way GitLab does: parents are
// deep-merged in list order (a later parent wins over an earlier one), then
// the entry's own keys over them. Mappings merge recursively; lists and
// scalars are replaced whole.
type extendsResolver struct {
	p       *parser
	entries map[string]*entry
	state   map[string]*resolution
	stack   []string // entries being resolved, outermost first
}

// resolveExtends returns the merged body of every mapping entry whose
// `extends` resolved, by name. Hidden entries are resolved too, since a
// broken template is an error even when no job uses it (as in GitLab).
func (p *parser) resolveExtends(entries []*entry) map[string]*node {
	r := &extendsResolver{p: p, entries: map[string]*entry{}, state: map[string]*resolution{}}
	for _, e := range entries {
		r.entries[e.name] = e
	}
	out := map[string]*node{}
	for _, e := range entries {
		if e.body.kind != mapNode {
			continue // a hidden key holding anything; only a template if extended
		}
		if res := r.resolve(e); !res.failed {
			out[e.name] = res.body
		}
	}
	return out
}

func (r *extendsResolver) resolve(e *entry) *resolution {
	if res, ok := r.state[e.name]; ok {
		return res
	}
	res := &resolution{active: true}
	r.state[e.name] = res
	r.stack = append(r.stack, e.name)
	defer func() {
		res.active = false
		r.stack = r.stack[:len(r.stack)-1]
	}()

	ext, ok := e.body.lookup("extends")
	if !ok {
		res.body = e.body
		return res
	}
	ctx := fmt.Sprintf("job %q", e.name)
	parents, ok := r.p.stringList(ctx, "extends", ext.value, true)
	if !ok {
		res.failed = true
		return res
	}
	merged := &node{kind: mapNode, tag: "!!map", pos: e.body.pos}
	for _, pn := range parents {
		pr := r.parent(ctx, pn)
		if pr == nil || pr.failed {
			res.failed = true
			continue
		}
		res.height = max(res.height, pr.height+1)
		merged = deepMerge(merged, pr.body)
	}
	if !res.failed && res.height > maxExtendsDepth {
		r.p.d.errorf(ext.key.pos, "%s: extends is nested too deeply: %d levels, at most %d are allowed", ctx, res.height, maxExtendsDepth)
		res.failed = true
	}
	res.body = deepMerge(merged, without(e.body, "extends"))
	return res
}

// parent resolves one name listed in `extends`, or records why it cannot.
func (r *extendsResolver) parent(ctx string, pn *node) *resolution {
	pe, ok := r.entries[pn.value]
	switch {
	case !ok:
		msg := fmt.Sprintf("%s: extends unknown job %q", ctx, pn.value)
		if s := r.suggest(pn.value); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		r.p.d.errorf(pn.pos, "%s", msg)
		return nil
	case pe.body.kind != mapNode:
		r.p.d.errorf(pn.pos, "%s: cannot extend %q: it is %s, not a mapping of keywords", ctx, pn.value, describe(pe.body))
		return nil
	}
	if st, ok := r.state[pn.value]; ok && st.active {
		cycle := append(slices.Clone(r.stack[slices.Index(r.stack, pn.value):]), pn.value)
		r.p.d.errorf(pn.pos, "%s: extends forms a cycle: %s", ctx, strings.Join(cycle, " -> "))
		return nil
	}
	return r.resolve(pe)
}

func (r *extendsResolver) suggest(name string) string {
	var names []string
	for n := range r.entries {
		names = append(names, n)
	}
	slices.Sort(names) // deterministic among equally close names
	return keywords{supported: names}.suggest(name)
}

// deepMerge returns over merged onto base: where both hold a mapping for a
// key the two are merged, otherwise over's value wins. Keys keep base's
// order, new keys follow in over's order. Neither input is modified.
func deepMerge(base, over *node) *node {
	if base.kind != mapNode || over.kind != mapNode {
		return over
	}
	b := newMapBuilder(over.pos, over.tag)
	b.n.pairs = make([]pair, 0, len(base.pairs)+len(over.pairs))
	for _, kv := range base.pairs {
		b.set(kv.key, kv.value)
	}
	for _, kv := range over.pairs {
		if i := b.find(kv.key.value); i >= 0 {
			b.set(kv.key, deepMerge(b.n.pairs[i].value, kv.value))
			continue
		}
		b.set(kv.key, kv.value)
	}
	return b.n
}

// without returns a mapping node minus one key.
func without(n *node, key string) *node {
	out := *n
	out.pairs = slices.DeleteFunc(slices.Clone(n.pairs), func(kv pair) bool { return kv.key.value == key })
	return &out
}
