package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// maxExtendsDepth is how many levels of `extends` GitLab follows.
const maxExtendsDepth = 11

// resolution is the state of one entry while resolving `extends`.
type resolution struct {
	body   *yamlpos.Node // merged body, without `extends`
	height int           // longest `extends` chain above this entry
	active bool          // being resolved: meeting it again is a cycle
	failed bool          // an error was recorded; entries extending it stay quiet
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
func (p *parser) resolveExtends(entries []*entry) map[string]*yamlpos.Node {
	r := &extendsResolver{p: p, entries: map[string]*entry{}, state: map[string]*resolution{}}
	for _, e := range entries {
		r.entries[e.name] = e
	}
	out := map[string]*yamlpos.Node{}
	for _, e := range entries {
		if e.body.Kind != yamlpos.Mapping {
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

	ext, ok := e.body.Lookup("extends")
	if !ok {
		res.body = e.body
		return res
	}
	ctx := fmt.Sprintf("job %q", e.name)
	parents, ok := r.p.stringList(ctx, "extends", ext.Value, true)
	if !ok {
		res.failed = true
		return res
	}
	merged := &yamlpos.Node{Kind: yamlpos.Mapping, Tag: "!!map", Pos: e.body.Pos}
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
		r.p.d.Errorf(ext.Key.Pos, "%s: extends is nested too deeply: %d levels, at most %d are allowed", ctx, res.height, maxExtendsDepth)
		res.failed = true
	}
	res.body = deepMerge(merged, without(e.body, "extends"))
	return res
}

// parent resolves one name listed in `extends`, or records why it cannot.
func (r *extendsResolver) parent(ctx string, pn *yamlpos.Node) *resolution {
	pe, ok := r.entries[pn.Value]
	switch {
	case !ok:
		msg := fmt.Sprintf("%s: extends unknown job %q", ctx, pn.Value)
		if s := r.suggest(pn.Value); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		r.p.d.Errorf(pn.Pos, "%s", msg)
		return nil
	case pe.body.Kind != yamlpos.Mapping:
		r.p.d.Errorf(pn.Pos, "%s: cannot extend %q: it is %s, not a mapping of keywords", ctx, pn.Value, yamlpos.Describe(pe.body))
		return nil
	}
	if st, ok := r.state[pn.Value]; ok && st.active {
		cycle := append(slices.Clone(r.stack[slices.Index(r.stack, pn.Value):]), pn.Value)
		r.p.d.Errorf(pn.Pos, "%s: extends forms a cycle: %s", ctx, strings.Join(cycle, " -> "))
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
func deepMerge(base, over *yamlpos.Node) *yamlpos.Node {
	if base.Kind != yamlpos.Mapping || over.Kind != yamlpos.Mapping {
		return over
	}
	b := yamlpos.NewMapBuilder(over.Pos, over.Tag, len(base.Pairs)+len(over.Pairs))
	for _, kv := range base.Pairs {
		b.Set(kv.Key, kv.Value)
	}
	for _, kv := range over.Pairs {
		if prev, ok := b.Get(kv.Key.Value); ok {
			b.Set(kv.Key, deepMerge(prev, kv.Value))
			continue
		}
		b.Set(kv.Key, kv.Value)
	}
	return b.Node()
}

// without returns a mapping node minus one key.
func without(n *yamlpos.Node, key string) *yamlpos.Node {
	out := *n
	out.Pairs = slices.DeleteFunc(slices.Clone(n.Pairs), func(kv yamlpos.Pair) bool { return kv.Key.Value == key })
	return &out
}
