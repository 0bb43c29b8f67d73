package pipeline

import (
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
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
	top    map[string]*yamlpos.Node
	memo   map[*yamlpos.Node]refResult
	active map[string]bool // reference paths being resolved, for cycles
}

type refResult struct {
	n *yamlpos.Node
	// height is the longest chain of references under the node.
	height int
}

// resolveReferences resolves every `!reference` in the top-level values
// and the jobs (templates too, so a broken one is reported as GitLab
// does). It returns false when a reference is broken.
func (p *parser) resolveReferences(top *topLevel, resolved map[string]*yamlpos.Node) bool {
	r := &referenceResolver{p: p, top: map[string]*yamlpos.Node{}, memo: map[*yamlpos.Node]refResult{}, active: map[string]bool{}}
	keywords := map[string]**yamlpos.Node{
		"stages": &top.stages, "variables": &top.variables, "default": &top.dflt, "workflow": &top.workflow,
	}
	for k, n := range keywords {
		if *n != nil {
			r.top[k] = *n
		}
	}
	for _, kv := range top.globals {
		r.top[kv.Key.Value] = kv.Value
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
		top.globals[i].Value = r.resolve(kv.Value).n
	}
	for _, e := range top.entries {
		if b, ok := resolved[e.name]; ok {
			resolved[e.name] = r.resolve(b).n
		}
	}
	return p.d.errorCount() == before
}

func (r *referenceResolver) resolve(n *yamlpos.Node) refResult {
	if res, ok := r.memo[n]; ok {
		return res
	}
	res := refResult{n: n}
	switch {
	case n.Tag == "!reference":
		res = r.reference(n)
	case n.Kind == yamlpos.Sequence:
		var items []*yamlpos.Node
		for i, it := range n.Items {
			c := r.resolve(it)
			res.height = max(res.height, c.height)
			if c.n != it && items == nil {
				items = append(make([]*yamlpos.Node, 0, len(n.Items)), n.Items[:i]...)
			}
			if items != nil {
				items = append(items, c.n)
			}
		}
		if items != nil {
			out := *n
			out.Items = items
			res.n = &out
		}
	case n.Kind == yamlpos.Mapping:
		var pairs []yamlpos.Pair
		for i, kv := range n.Pairs {
			c := r.resolve(kv.Value)
			res.height = max(res.height, c.height)
			if c.n != kv.Value && pairs == nil {
				pairs = append(make([]yamlpos.Pair, 0, len(n.Pairs)), n.Pairs[:i]...)
			}
			if pairs != nil {
				pairs = append(pairs, yamlpos.Pair{Key: kv.Key, Value: c.n})
			}
		}
		if pairs != nil {
			out := *n
			out.Pairs = pairs
			res.n = &out
		}
	}
	r.memo[n] = res
	return res
}

// reference resolves one `!reference` node.
func (r *referenceResolver) reference(n *yamlpos.Node) refResult {
	failed := refResult{n: &yamlpos.Node{Kind: yamlpos.Scalar, Tag: "!!null", Pos: n.Pos}}
	path := make([]string, 0, len(n.Items))
	for _, it := range n.Items {
		if it.Kind != yamlpos.Scalar || it.IsNull() {
			r.p.d.Errorf(it.Pos, "!reference takes a list of keys, such as [.job, script]; got %s in the list", yamlpos.Describe(it))
			return failed
		}
		path = append(path, it.Value)
	}
	shown := "!reference [" + strings.Join(path, ", ") + "]"
	if len(path) == 0 {
		r.p.d.Errorf(n.Pos, "!reference needs the keys of a value, such as [.job, script]")
		return failed
	}
	key := strings.Join(path, "\x00")
	if r.active[key] {
		r.p.d.Errorf(n.Pos, "%s is part of a circular chain of references", shown)
		return failed
	}
	target, ok := r.top[path[0]]
	for _, k := range path[1:] {
		if !ok {
			break
		}
		if target.Tag == "!reference" {
			target = r.resolve(target).n
		}
		var kv yamlpos.Pair
		kv, ok = target.Lookup(k)
		target = kv.Value
	}
	if !ok {
		r.p.d.Errorf(n.Pos, "%s could not be found", shown)
		return failed
	}
	r.active[key] = true
	res := r.resolve(target)
	delete(r.active, key)
	res.height++
	if res.height > maxReferenceDepth {
		r.p.d.Errorf(n.Pos, "%s is nested too deeply: more than %d references in a chain", shown, maxReferenceDepth)
		return failed
	}
	return res
}
