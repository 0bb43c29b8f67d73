package actions

import (
	"fmt"
	"math"
	"strings"
)

// MaxResultBytes bounds the text one evaluation may build with format(),
// join(), toJSON() and interpolation, counted over the whole evaluation.
// Without it, format('{0}{0}', format('{0}{0}', ...)) would grow
// exponentially; GitHub bounds evaluation memory for the same reason.
const MaxResultBytes = 10 << 20

// Status is the state of the job that the status functions report on.
type Status uint8

const (
	// StatusSuccess means nothing has failed and the run is not cancelled:
	// success() is true. It is the zero value.
	StatusSuccess Status = iota
	// StatusFailure means an earlier step of the job, or a job this one
	// needs, has failed: failure() is true.
	StatusFailure
	// StatusCancelled means the run has been cancelled: cancelled() is
	// true.
	StatusCancelled
)

// String returns "success", "failure" or "cancelled".
func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusFailure:
		return "failure"
	case StatusCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Context is what an expression is evaluated against. A nil *Context is
// an empty one: every context is null and the status is StatusSuccess.
type Context struct {
	// Contexts holds the top-level contexts by lower-case name ("github",
	// "env", "matrix", "needs", "secrets", "vars", "inputs", "job",
	// "jobs", "steps", "runner", "strategy") as plain Go data: nil, bool,
	// string, float64 (or any Go number), []any, map[string]any, and also
	// []string, map[string]string and other slices and string-keyed maps.
	// Values are only read, never modified.
	Contexts map[string]any
	// Lookup, if set, is asked for a context that Contexts lacks, so that
	// a caller can build expensive contexts only when an expression uses
	// them. A context found in neither is null.
	Lookup func(name string) (any, bool)
	// Status is what success(), failure() and cancelled() report on.
	Status Status
}

func (c *Context) lookup(name string) (any, bool) {
	if x, ok := c.Contexts[name]; ok {
		return x, true
	}
	if c.Lookup != nil {
		return c.Lookup(name)
	}
	return nil, false
}

// Eval evaluates the expression against ctx. Errors are *EvalError. The
// zero Expr evaluates to null.
func (e *Expr) Eval(ctx *Context) (Value, error) {
	if e.root == nil {
		return Value{}, nil
	}
	if ctx == nil {
		ctx = &Context{}
	}
	ev := &evaluator{ctx: ctx, budget: MaxResultBytes}
	return ev.eval(e.root)
}

// evaluator holds the state of one Eval call.
type evaluator struct {
	ctx    *Context
	budget int // bytes of text left to build
}

// spend takes n bytes from the budget, or reports at n's column that the
// result has grown too large.
func (ev *evaluator) spend(at *node, n int) error {
	if n > ev.budget {
		ev.budget = 0
		return &EvalError{Column: at.col, Err: fmt.Errorf("result is larger than the limit of %d bytes", MaxResultBytes)}
	}
	ev.budget -= n
	return nil
}

// value converts context data found at n to a Value.
func (ev *evaluator) value(at *node, x any) (Value, error) {
	v, err := toValue(x)
	if err != nil {
		return Value{}, &EvalError{Column: at.col, Err: err}
	}
	return v, nil
}

func (ev *evaluator) eval(n *node) (Value, error) {
	switch n.kind {
	case nLiteral:
		return n.val, nil
	case nContext:
		x, _ := ev.ctx.lookup(n.name)
		return ev.value(n, x)
	case nIndex:
		return ev.index(n)
	case nNot:
		v, err := ev.eval(n.args[0])
		return boolValue(!Truthy(v)), err
	case nAnd, nOr:
		// && yields the first falsy operand, || the first truthy one;
		// otherwise both yield the last operand. Neither converts to a
		// boolean.
		var v Value
		for _, a := range n.args {
			var err error
			if v, err = ev.eval(a); err != nil {
				return Value{}, err
			}
			if Truthy(v) == (n.kind == nOr) {
				break
			}
		}
		return v, nil
	case nCompare:
		return ev.compare(n)
	case nCall:
		return n.fn.eval(ev, n)
	case nTemplate:
		return ev.template(n)
	}
	panic(fmt.Sprintf("actions: unknown node kind %d", n.kind))
}

func (ev *evaluator) compare(n *node) (Value, error) {
	l, err := ev.eval(n.args[0])
	if err != nil {
		return Value{}, err
	}
	r, err := ev.eval(n.args[1])
	if err != nil {
		return Value{}, err
	}
	var b bool
	switch n.op {
	case tEq:
		b = looseEqual(l, r)
	case tNe:
		b = !looseEqual(l, r)
	case tLt:
		b = looseLess(l, r)
	case tLe:
		b = looseEqual(l, r) || looseLess(l, r)
	case tGt:
		b = looseLess(r, l)
	case tGe:
		b = looseEqual(l, r) || looseLess(r, l)
	}
	return boolValue(b), nil
}

// index evaluates a[i], a.name and the filters a[*] and a.*, following the
// runner's Index operator: indexing anything but an array or object is
// null (or an empty filter), objects take any primitive as a key, arrays
// take whatever converts to a number (floored), and indexing the result of
// a filter indexes each of its elements, dropping the misses.
func (ev *evaluator) index(n *node) (Value, error) {
	target, err := ev.eval(n.args[0])
	if err != nil {
		return Value{}, err
	}
	if target.kind != KindArray && target.kind != KindObject {
		if n.star {
			return Value{kind: KindArray, ref: &list{filtered: true}}, nil
		}
		return Value{}, nil
	}
	var key Value
	if !n.star {
		if key, err = ev.eval(n.args[1]); err != nil {
			return Value{}, err
		}
	}

	if l, ok := target.ref.(*list); ok && l.filtered {
		out := &list{filtered: true}
		for _, item := range l.items {
			v, err := ev.value(n, item)
			if err != nil {
				return Value{}, err
			}
			out.items = appendIndexed(out.items, v, key, n.star)
		}
		return Value{kind: KindArray, ref: out}, nil
	}
	if n.star {
		return Value{kind: KindArray, ref: &list{items: appendIndexed(nil, target, key, true), filtered: true}}, nil
	}
	if target.kind == KindObject {
		if !key.isPrimitive() {
			return Value{}, nil
		}
		x, _ := objectGet(target.ref, key.String())
		return ev.value(n, x)
	}
	i, ok := arrayIndex(key, arrayLen(target.ref))
	if !ok {
		return Value{}, nil
	}
	return ev.value(n, arrayAt(target.ref, i))
}

// appendIndexed appends to out what indexing v with key (or '*') selects,
// if anything.
func appendIndexed(out []any, v, key Value, star bool) []any {
	switch v.kind {
	case KindObject:
		if star {
			for _, x := range objectPairs(v.ref) {
				out = append(out, x)
			}
		} else if key.isPrimitive() {
			if x, ok := objectGet(v.ref, key.String()); ok {
				out = append(out, x)
			}
		}
	case KindArray:
		if star {
			for i := range arrayLen(v.ref) {
				out = append(out, arrayAt(v.ref, i))
			}
		} else if i, ok := arrayIndex(key, arrayLen(v.ref)); ok {
			out = append(out, arrayAt(v.ref, i))
		}
	}
	return out
}

func arrayIndex(key Value, n int) (int, bool) {
	f := math.Floor(toNumber(key))
	if math.IsNaN(f) || f < 0 || f >= float64(n) {
		return 0, false
	}
	return int(f), true
}

// template joins the text and ${{ }} parts of a string.
func (ev *evaluator) template(n *node) (Value, error) {
	var b strings.Builder
	for _, part := range n.args {
		v, err := ev.eval(part)
		if err != nil {
			return Value{}, err
		}
		s := v.String()
		if err := ev.spend(n, len(s)); err != nil {
			return Value{}, err
		}
		b.WriteString(s)
	}
	return stringValue(b.String()), nil
}
