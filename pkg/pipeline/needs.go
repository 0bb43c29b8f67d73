package pipeline

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
func (p *parser) needs(ctx string, n *node) ([]Need, bool) {
	var items []*node
	switch {
	case n.kind == scalarNode && !n.isNull():
		items = []*node{n}
	case n.kind == seqNode:
		items = flatten(n)
	default:
		p.d.errorf(n.pos, "%sneeds must be a list of job names or mappings with `job`, got %s", prefix(ctx), describe(n))
		return nil, false
	}
	out := make([]Need, 0, len(items))
	ok := true
	for _, it := range items {
		switch {
		case it.kind == scalarNode && !it.isNull():
			out = append(out, Need{Pos: it.pos, Job: it.value, Artifacts: true})
		case it.kind == mapNode:
			nd, good := p.need(ctx, it)
			if good {
				out = append(out, nd)
			}
			ok = ok && good
		default:
			p.d.errorf(it.pos, "%sneeds entries must be job names or mappings with `job`, got %s", prefix(ctx), describe(it))
			ok = false
		}
	}
	return out, ok
}

func (p *parser) need(ctx string, n *node) (Need, bool) {
	nd := Need{Pos: n.pos, Artifacts: true}
	ok := true
	var job *node
	for _, kv := range n.pairs {
		good := true
		switch kv.key.value {
		case "job":
			job = kv.value
			nd.Job, good = p.scalar(ctx, "needs:job", kv.value)
		case "artifacts":
			nd.Artifacts, good = p.boolean(ctx, "needs:artifacts", kv.value)
		case "optional":
			nd.Optional, good = p.boolean(ctx, "needs:optional", kv.value)
		case "parallel":
			nd.Matrix, good = p.needMatrix(ctx, kv.value)
		default:
			p.otherKeyword(prefix(ctx)+"needs", kv.key, needKeywords)
			good = false
		}
		ok = ok && good
	}
	if job == nil && ok {
		p.d.errorf(n.pos, "%sneeds: `job` is required", prefix(ctx))
		ok = false
	}
	if job != nil {
		nd.Pos = job.pos
	}
	return nd, ok
}

func (p *parser) needMatrix(ctx string, n *node) ([]MatrixRow, bool) {
	m, ok := n.lookup("matrix")
	if n.kind != mapNode || !ok || len(n.pairs) != 1 {
		p.d.errorf(n.pos, "%sneeds:parallel must be a mapping with a matrix, got %s", prefix(ctx), describe(n))
		return nil, false
	}
	rows, ok := p.matrix(ctx, "needs:parallel:matrix", m.value)
	if ok && (&Parallel{Matrix: rows}).total() > maxParallel {
		p.d.errorf(m.value.pos, "%sneeds:parallel:matrix selects more than %d jobs", prefix(ctx), maxParallel)
		return nil, false
	}
	return rows, ok
}
