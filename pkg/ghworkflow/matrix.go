package ghworkflow

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Matrix limits: GitHub's 256 jobs per matrix, and bounds on the product
// before exclude and on the work of matching it with the exclude entries,
// so that a hostile matrix is refused without being built.
const (
	maxCombinations = 256
	maxProduct      = 4096
	maxMatchWork    = 1 << 22
)

// kv is one value of a matrix combination.
type kv struct {
	key string
	val any
}

// combination is one job of a matrix: its values in order, the vectors'
// first and then the keys include adds.
type combination []kv

func (c combination) get(key string) (any, bool) {
	for _, e := range c {
		if e.key == key {
			return e.val, true
		}
	}
	return nil, false
}

func (c combination) set(key string, val any) combination {
	for i, e := range c {
		if e.key == key {
			c[i].val = val
			return c
		}
	}
	return append(c, kv{key, val})
}

// context is the combination as the matrix context.
func (c combination) context() map[string]any {
	m := make(map[string]any, len(c))
	for _, e := range c {
		m[e.key] = e.val
	}
	return m
}

// label is GitHub's display of the combination: its values, joined.
func (c combination) label() string {
	parts := make([]string, len(c))
	for i, e := range c {
		parts[i] = displayValue(e.val)
	}
	return strings.Join(parts, ", ")
}

func displayValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return formatNumber(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// matrixError is a problem with a matrix, at a position.
type matrixError struct {
	pos pipeline.Pos
	msg string
}

// expandMatrix evaluates a job's matrix with ctx (github, needs, vars,
// inputs) and expands it as GitHub does: the product of the vectors, minus
// the combinations an exclude entry matches, then each include entry added
// to every original combination whose values it does not change, or
// appended as a combination of its own when it fits none.
func (w *Workflow) expandMatrix(path string, m *yamlpos.Node, ctx *actions.Context) ([]combination, *matrixError) {
	type vector struct {
		key    string
		pos    pipeline.Pos
		values []any
	}
	var (
		vectors          []vector
		include, exclude []combination
	)
	entries := func(kpath string, n *yamlpos.Node) ([]combination, *matrixError) {
		if n.IsNull() {
			return nil, nil
		}
		var items []any
		if n.Kind == yamlpos.Sequence && w.dyn[n] == nil {
			// Entries written in the file keep their key order.
			for _, item := range n.Items {
				if item.Kind != yamlpos.Mapping || w.dyn[item] != nil {
					v, err := w.data(item, ctx)
					if err != nil {
						return nil, &matrixError{item.Pos, fmt.Sprintf("%s: %v", kpath, err)}
					}
					items = append(items, v)
					continue
				}
				c := make(combination, 0, len(item.Pairs))
				for _, p := range item.Pairs {
					v, err := w.data(p.Value, ctx)
					if err != nil {
						return nil, &matrixError{p.Value.Pos, fmt.Sprintf("%s: %v", kpath, err)}
					}
					c = append(c, kv{p.Key.Value, v})
				}
				items = append(items, c)
			}
		} else {
			v, err := w.data(n, ctx)
			if err != nil {
				return nil, &matrixError{n.Pos, fmt.Sprintf("%s: %v", kpath, err)}
			}
			list, ok := v.([]any)
			if !ok {
				return nil, &matrixError{n.Pos, fmt.Sprintf("%s must be a list of mappings, got %s", kpath, kindOf(v))}
			}
			items = list
		}
		var out []combination
		for _, item := range items {
			c, ok := toCombination(item)
			if !ok {
				return nil, &matrixError{n.Pos, fmt.Sprintf("%s must be a list of mappings, got an entry that is %s", kpath, kindOf(item))}
			}
			out = append(out, c)
		}
		return out, nil
	}
	// The matrix may be one expression giving an object.
	if t := w.dyn[m]; t != nil || m.Kind != yamlpos.Mapping {
		v, err := w.data(m, ctx)
		if err != nil {
			return nil, &matrixError{m.Pos, fmt.Sprintf("%s: %v", path, err)}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, &matrixError{m.Pos, fmt.Sprintf("%s must be a mapping of vectors, got %s", path, kindOf(v))}
		}
		// Objects from expressions have no order Gantry can see: their
		// vectors are taken in key order.
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			switch k {
			case "include", "exclude":
				list, ok := obj[k].([]any)
				if !ok && obj[k] != nil {
					return nil, &matrixError{m.Pos, fmt.Sprintf("%s.%s must be a list of mappings", path, k)}
				}
				for _, item := range list {
					c, ok := toCombination(item)
					if !ok {
						return nil, &matrixError{m.Pos, fmt.Sprintf("%s.%s must be a list of mappings", path, k)}
					}
					if k == "include" {
						include = append(include, c)
					} else {
						exclude = append(exclude, c)
					}
				}
			default:
				list, ok := obj[k].([]any)
				if !ok {
					return nil, &matrixError{m.Pos, fmt.Sprintf("%s.%s must be a list of values, got %s", path, k, kindOf(obj[k]))}
				}
				vectors = append(vectors, vector{key: k, pos: m.Pos, values: list})
			}
		}
	} else {
		for _, p := range m.Pairs {
			kpath := path + "." + p.Key.Value
			switch p.Key.Value {
			case "include":
				var err *matrixError
				if include, err = entries(kpath, p.Value); err != nil {
					return nil, err
				}
			case "exclude":
				var err *matrixError
				if exclude, err = entries(kpath, p.Value); err != nil {
					return nil, err
				}
			default:
				v, err := w.data(p.Value, ctx)
				if err != nil {
					return nil, &matrixError{p.Value.Pos, fmt.Sprintf("%s: %v", kpath, err)}
				}
				list, ok := v.([]any)
				if !ok {
					return nil, &matrixError{p.Value.Pos, fmt.Sprintf("%s must be a list of values, got %s", kpath, kindOf(v))}
				}
				vectors = append(vectors, vector{key: p.Key.Value, pos: p.Value.Pos, values: list})
			}
		}
	}

	product := 1
	for _, v := range vectors {
		if len(v.values) == 0 {
			return nil, &matrixError{v.pos, fmt.Sprintf("%s.%s has no values; a vector needs at least one", path, v.key)}
		}
		product *= len(v.values)
		if product > maxProduct {
			return nil, &matrixError{m.Pos, fmt.Sprintf("%s has more than %d combinations; a matrix may have at most %d jobs", path, maxProduct, maxCombinations)}
		}
	}
	if len(vectors) == 0 && len(include) == 0 {
		return nil, &matrixError{m.Pos, fmt.Sprintf("%s has no vectors and no include: it makes no job", path)}
	}
	if product*(len(exclude)+len(include)) > maxMatchWork {
		return nil, &matrixError{m.Pos, fmt.Sprintf("%s is too big: %d combinations matched with %d exclude and include entries", path, product, len(exclude)+len(include))}
	}
	for _, e := range exclude {
		for _, x := range e {
			if !slices.ContainsFunc(vectors, func(v vector) bool { return v.key == x.key }) {
				return nil, &matrixError{m.Pos, fmt.Sprintf("%s.exclude: key %q is not a vector of the matrix", path, x.key)}
			}
		}
	}

	var combos []combination
	if len(vectors) > 0 {
		combos = []combination{{}}
		for _, v := range vectors {
			next := make([]combination, 0, len(combos)*len(v.values))
			for _, c := range combos {
				for _, val := range v.values {
					next = append(next, append(slices.Clone(c), kv{v.key, val}))
				}
			}
			combos = next
		}
	}
	combos = slices.DeleteFunc(combos, func(c combination) bool {
		return slices.ContainsFunc(exclude, func(e combination) bool { return matches(c, e) })
	})
	if len(combos) > maxCombinations {
		return nil, &matrixError{m.Pos, fmt.Sprintf("%s makes %d jobs; GitHub allows at most %d", path, len(combos), maxCombinations)}
	}
	original := len(combos)
	isVector := func(k string) bool { return slices.ContainsFunc(vectors, func(v vector) bool { return v.key == k }) }
	for _, inc := range include {
		added := false
		for i := range original {
			// The entry fits when it changes none of the vectors' values.
			fits := true
			for _, x := range inc {
				if isVector(x.key) {
					if cur, _ := combos[i].get(x.key); !equalValues(cur, x.val) {
						fits = false
						break
					}
				}
			}
			if !fits {
				continue
			}
			for _, x := range inc {
				combos[i] = combos[i].set(x.key, x.val)
			}
			added = true
		}
		if !added {
			combos = append(combos, slices.Clone(inc))
		}
		if len(combos) > maxCombinations {
			break
		}
	}
	if len(combos) > maxCombinations {
		return nil, &matrixError{m.Pos, fmt.Sprintf("%s makes %d jobs or more; GitHub allows at most %d", path, len(combos), maxCombinations)}
	}
	if len(combos) == 0 {
		return nil, &matrixError{m.Pos, fmt.Sprintf("%s: exclude removes every combination and include adds none: it makes no job", path)}
	}
	return combos, nil
}

// matches reports whether every value of the exclude entry e is c's.
func matches(c, e combination) bool {
	for _, x := range e {
		v, ok := c.get(x.key)
		if !ok || !equalValues(v, x.val) {
			return false
		}
	}
	return true
}

// toCombination turns a mapping into a combination: one written in the
// file keeps its order, one from an expression (a Go map) is sorted.
func toCombination(v any) (combination, bool) {
	switch m := v.(type) {
	case combination:
		return m, true
	case map[string]any:
		c := make(combination, 0, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			c = append(c, kv{k, m[k]})
		}
		return c, true
	}
	return nil, false
}

// equalValues compares matrix values: scalars by value, lists and
// mappings element by element.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, float64, string:
		return a == b
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, equalValues)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	}
	return "a mapping"
}

// data evaluates n as data: the templates the parser found inside (in
// w.dyn) are evaluated with ctx, a whole ${{ }} giving its value's kind.
func (w *Workflow) data(n *yamlpos.Node, ctx *actions.Context) (any, error) {
	if t := w.dyn[n]; t != nil {
		if part := t.whole(); part != nil {
			v, err := part.x.Eval(ctx)
			if err != nil {
				return nil, fmt.Errorf("`%s`: %w", part.text, unwrapEval(err))
			}
			return normalise(v.Interface()), nil
		}
		var b strings.Builder
		for _, part := range t.parts {
			if part.x == nil {
				b.WriteString(part.lit)
				continue
			}
			v, err := part.x.Eval(ctx)
			if err != nil {
				return nil, fmt.Errorf("`%s`: %w", part.text, unwrapEval(err))
			}
			b.WriteString(v.String())
		}
		return b.String(), nil
	}
	switch n.Kind {
	case yamlpos.Sequence:
		out := make([]any, len(n.Items))
		for i, c := range n.Items {
			v, err := w.data(c, ctx)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yamlpos.Mapping:
		out := make(map[string]any, len(n.Pairs))
		for _, p := range n.Pairs {
			v, err := w.data(p.Value, ctx)
			if err != nil {
				return nil, err
			}
			out[p.Key.Value] = v
		}
		return out, nil
	}
	return nodeValue(n), nil
}

// normalise converts what an expression gave into the plain types of
// matrix values, recursively.
func normalise(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalise(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalise(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	case int:
		return float64(x)
	}
	return v
}

// unwrapEval drops the column of an evaluation error: messages name the
// expression instead.
func unwrapEval(err error) error {
	if ee, ok := err.(*actions.EvalError); ok {
		return ee.Err
	}
	return err
}
