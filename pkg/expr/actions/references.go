package actions

// References lists the context paths e reads, each once, in the order they
// first appear: "matrix.os", "needs.build.outputs.x", "steps.*.outcome".
// A path runs from the context's lower-case name through every property
// and literal index after it: a.b and a['b'] are both "a.b", a[0] is
// "a[0]", a.* and a[*] are "a.*". It stops before the first index computed
// at run time, so matrix[env.KEY].x gives "matrix" and "env.KEY".
func References(e *Expr) []string {
	r := refs{seen: map[string]bool{}}
	if e.root != nil {
		r.visit(e.root)
	}
	return r.paths
}

type refs struct {
	seen  map[string]bool
	paths []string
}

func (r *refs) add(path string) {
	if !r.seen[path] {
		r.seen[path] = true
		r.paths = append(r.paths, path)
	}
}

func (r *refs) visit(n *node) {
	switch n.kind {
	case nContext:
		r.add(n.name)
	case nIndex:
		// Unwind the chain of indexes down to what it starts from.
		var chain []*node
		base := n
		for base.kind == nIndex {
			chain = append(chain, base)
			base = base.args[0]
		}
		if base.kind != nContext {
			r.visit(base)
			for _, ix := range chain {
				r.visitKey(ix)
			}
			return
		}
		path, i := base.name, len(chain)-1
		for ; i >= 0; i-- {
			seg, ok := segment(chain[i])
			if !ok {
				break
			}
			path += seg
		}
		r.add(path)
		for ; i >= 0; i-- {
			r.visitKey(chain[i])
		}
	default:
		for _, a := range n.args {
			r.visit(a)
		}
	}
}

func (r *refs) visitKey(ix *node) {
	if !ix.star {
		r.visit(ix.args[1])
	}
}

// segment renders an index known before run time as part of a path.
func segment(ix *node) (string, bool) {
	if ix.star {
		return ".*", true
	}
	key := ix.args[1]
	if key.kind != nLiteral {
		return "", false
	}
	switch key.val.kind {
	case KindString:
		return "." + key.val.s, true
	case KindNumber:
		return "[" + key.val.String() + "]", true
	}
	return "", false
}
