package pipeline

import "github.com/gantry-ci/gantry/pkg/yamlpos"

var needKeywords = keywords{
	supported: []string{"job", "artifacts", "optional", "parallel"},
	refused: map[string]string{
		"pipeline": reasonOtherPipe,
		"project":  reasonOtherProj,
		"ref":      reasonOtherProj,
	},
}

// needs reads `needs:`: a list of job names or mappings with job,
// artifacts, optional and parallel:matrix. `needs: []` is an empty,
// non-nil list.
func (p *parser) needs(ctx string, n *yamlpos.Node) ([]Need, bool) {
	var items []*yamlpos.Node
	switch {
	case n.Kind == yamlpos.Scalar && !n.IsNull():
		items = []*yamlpos.Node{n}
	case n.Kind == yamlpos.Sequence:
		items = flatten(n)
	default:
		p.d.Errorf(n.Pos, "%sneeds must be a list of job names or mappings with `job`, got %s", prefix(ctx), yamlpos.Describe(n))
		return nil, false
	}
	out := make([]Need, 0, len(items))
	ok := true
	for _, it := range items {
		switch {
		case it.Kind == yamlpos.Scalar && !it.IsNull():
			out = append(out, Need{Pos: it.Pos, Job: it.Value, Artifacts: true})
		case it.Kind == yamlpos.Mapping:
			nd, good := p.need(ctx, it)
			if good {
				out = append(out, nd)
			}
			ok = ok && good
		default:
			p.d.Errorf(it.Pos, "%sneeds entries must be job names or mappings with `job`, got %s", prefix(ctx), yamlpos.Describe(it))
			ok = false
		}
	}
	return out, ok
}

func (p *parser) need(ctx string, n *yamlpos.Node) (Need, bool) {
	nd := Need{Pos: n.Pos, Artifacts: true}
	ok := true
	var job *yamlpos.Node
	for _, kv := range n.Pairs {
		good := true
		switch kv.Key.Value {
		case "job":
			job = kv.Value
			nd.Job, good = p.scalar(ctx, "needs:job", kv.Value)
		case "artifacts":
			nd.Artifacts, good = p.boolean(ctx, "needs:artifacts", kv.Value)
		case "optional":
			nd.Optional, good = p.boolean(ctx, "needs:optional", kv.Value)
		case "parallel":
			nd.Matrix, good = p.needMatrix(ctx, kv.Value)
		default:
			p.otherKeyword(prefix(ctx)+"needs", kv.Key, needKeywords)
			good = false
		}
		ok = ok && good
	}
	if job == nil && ok {
		p.d.Errorf(n.Pos, "%sneeds: `job` is required", prefix(ctx))
		ok = false
	}
	if job != nil {
		nd.Pos = job.Pos
	}
	return nd, ok
}

func (p *parser) needMatrix(ctx string, n *yamlpos.Node) ([]MatrixRow, bool) {
	m, ok := n.Lookup("matrix")
	if n.Kind != yamlpos.Mapping || !ok || len(n.Pairs) != 1 {
		p.d.Errorf(n.Pos, "%sneeds:parallel must be a mapping with a matrix, got %s", prefix(ctx), yamlpos.Describe(n))
		return nil, false
	}
	rows, ok := p.matrix(ctx, "needs:parallel:matrix", m.Value)
	if ok && (&Parallel{Matrix: rows}).total() > maxParallel {
		p.d.Errorf(m.Value.Pos, "%sneeds:parallel:matrix selects more than %d jobs", prefix(ctx), maxParallel)
		return nil, false
	}
	return rows, ok
}
