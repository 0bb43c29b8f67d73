package pipeline

import (
	"strings"
)

// maxReferenceDepth is how deeply GitLab lets `!reference` tags nest: a
// reference to a value holding a reference, and so on.
const maxReferenceDepth = 10

// referenceResolver replaces `!reference [key, subkey, ...]` tags with the
// values they point to. As in GitLab it runs after `extends`, against the
// whole merged document, so a reference can point into any included file
// and sees a template with its own `extends` applied.
//
// Resolved values are shared, not copied, and memoised per node, so a
// document whose references multiply a value stays small here; the size
// check that follows measures the expansion.
type referenceResolver struct {
	p      *parser
	top    map[string]*node
	memo   map[*node]refResult
	active map[string]bool // reference paths being resolved, for cycles
}

type refResult struct {
	n *node
	// height is the longest chain of references under the node.
	height int
}

// resolveReferences resolves every `!reference` in the top-level values
// and the jobs (templates too, so a broken one is reported as GitLab
// does). It returns false when a reference is broken.
func (p *parser) resolveReferences(top *topLevel, resolved map[string]*node) bool {
	r := &referenceResolver{p: p, top: map[string]*node{}, memo: map[*node]refResult{}, active: map[string]bool{}}
	keywords := map[string]**node{
		"stages": &top.stages, "variables": &top.variables, "default": &top.dflt, "workflow": &top.workflow,
	}
	for k, n := range keywords {
		if *n != nil {
			r.top[k] = *n
		}
	}
	for _, kv := range top.globals {
		r.top[kv.key.value] = kv.value
	}
	for _, e := range top.entries {
		if b, ok := resolved[e.name]; ok {
			r.top[e.name] = b
		} else {
			r.top[e.name] = e.body
		}
	}

	before := p.d.errorCount()
	for _, k := range []string{"stages", "variables", "default", "workflow"} {
		if n := keywords[k]; *n != nil {
			*n = r.resolve(*n).n
		}
	}
	for i, kv := range top.globals {
		top.globals[i].value = r.resolve(kv.value).n
	}
	for _, e := range top.entries {
		if b, ok := resolved[e.name]; ok {
			resolved[e.name] = r.resolve(b).n
		}
	}
	return p.d.errorCount() == before
}

func (r *referenceResolver) resolve(n *node) refResult {
	if res, ok := r.memo[n]; ok {
		return res
	}
	res := refResult{n: n}
	switch {
	case n.tag == "!reference":
		res = r.reference(n)
	case n.kind == seqNode:
		var items []*node
		for i, it := range n.items {
			c := r.resolve(it)
			res.height = max(res.height, c.height)
			if c.n != it && items == nil {
				items = append(make([]*node, 0, len(n.items)), n.items[:i]...)
			}
			if items != nil {
				items = append(items, c.n)
			}
		}
		if items != nil {
			out := *n
			out.items = items
			res.n = &out
		}
	case n.kind == mapNode:
		var pairs []pair
		for i, kv := range n.pairs {
			c := r.resolve(kv.value)
			res.height = max(res.height, c.height)
			if c.n != kv.value && pairs == nil {
				pairs = append(make([]pair, 0, len(n.pairs)), n.pairs[:i]...)
			}
			if pairs != nil {
				pairs = append(pairs, pair{key: kv.key, value: c.n})
			}
		}
		if pairs != nil {
			out := *n
			out.pairs = pairs
			res.n = &out
		}
	}
	r.memo[n] = res
	return res
}

// reference resolves one `!reference` node.
func (r *referenceResolver) reference(n *node) refResult {
	failed := refResult{n: &node{kind: scalarNode, tag: "!!null", pos: n.pos}}
	path := make([]string, 0, len(n.items))
	for _, it := range n.items {
		if it.kind != scalarNode || it.isNull() {
			r.p.d.errorf(it.pos, "!reference takes a list of keys, such as [.job, script]; got %s in the list", describe(it))
			return failed
		}
		path = append(path, it.value)
	}
	shown := "!reference [" + strings.Join(path, ", ") + "]"
	if len(path) == 0 {
		r.p.d.errorf(n.pos, "!reference needs the keys of a value, such as [.job, script]")
		return failed
	}
	key := strings.Join(path, "\x00")
	if r.active[key] {
		r.p.d.errorf(n.pos, "%s is part of a circular chain of references", shown)
		return failed
	}
	target, ok := r.top[path[0]]
	for _, k := range path[1:] {
		if !ok {
			break
		}
		if target.tag == "!reference" {
			target = r.resolve(target).n
		}
		var kv pair
		kv, ok = target.lookup(k)
		target = kv.value
	}
	if !ok {
		r.p.d.errorf(n.pos, "%s could not be found", shown)
		return failed
	}
	r.active[key] = true
	res := r.resolve(target)
	delete(r.active, key)
	res.height++
	if res.height > maxReferenceDepth {
		r.p.d.errorf(n.pos, "%s is nested too deeply: more than %d references in a chain", shown, maxReferenceDepth)
		return failed
	}
	return res
}
