package pipeline

import (
	"slices"
	"strings"
)

// varSet is an ordered set of variables where a later definition of a key
// replaces the value but keeps the place of the first: layers are added
// from the lowest precedence to the highest. A set may extend a base set,
// which it reads through without copying (every job of a plan extends the
// same predefined variables); the base must not change afterwards.
type varSet struct {
	base  *varSet
	order []string // keys not in base, in the order first set
	m     map[string]Variable
}

func newVarSet(size int) *varSet {
	return &varSet{order: make([]string, 0, size), m: make(map[string]Variable, size)}
}

// extend returns an empty set on top of s.
func (s *varSet) extend(size int) *varSet {
	c := newVarSet(size)
	c.base = s
	return c
}

// get returns a variable, from s or its base.
func (s *varSet) get(name string) (Variable, bool) {
	for ; s != nil; s = s.base {
		if v, ok := s.m[name]; ok {
			return v, true
		}
	}
	return Variable{}, false
}

func (s *varSet) set(v Variable) {
	if _, ok := s.m[v.Key]; !ok {
		if _, inBase := s.base.get(v.Key); !inBase {
			s.order = append(s.order, v.Key)
		}
	}
	s.m[v.Key] = v
}

func (s *varSet) add(vs ...Variable) {
	for _, v := range vs {
		s.set(v)
	}
}

// lookup returns a variable's value as written.
func (s *varSet) lookup(name string) (string, bool) {
	v, ok := s.get(name)
	return v.Value, ok
}

// keys returns every key, the base's first.
func (s *varSet) keys() []string {
	if s.base == nil {
		return s.order
	}
	return append(slices.Clone(s.base.keys()), s.order...)
}

func (s *varSet) list() []Variable {
	keys := s.keys()
	out := make([]Variable, len(keys))
	for i, k := range keys {
		out[i], _ = s.get(k)
	}
	return out
}

// expander gives the values of a varSet with $VARIABLES in them expanded,
// as GitLab does before evaluating rules: recursively, except in variables
// with `expand: false`; a variable that refers to itself, directly or not,
// keeps its text.
type expander struct {
	s      *varSet
	memo   map[string]string
	active map[string]bool
}

func newExpander(s *varSet) *expander {
	return &expander{s: s, memo: map[string]string{}, active: map[string]bool{}}
}

func (x *expander) lookup(name string) (string, bool) {
	v, ok := x.s.get(name)
	if !ok {
		return "", false
	}
	if v.Raw || !strings.Contains(v.Value, "$") {
		return v.Value, true
	}
	if out, ok := x.memo[name]; ok {
		return out, true
	}
	if x.active[name] {
		return v.Value, true
	}
	x.active[name] = true
	out := expandVariables(v.Value, x.lookup)
	delete(x.active, name)
	x.memo[name] = out
	return out, true
}

// expand expands $VARIABLES in s.
func (x *expander) expand(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return expandVariables(s, x.lookup)
}

// source is the pipeline source, "push" when not given.
func (in *PlanInput) source() string {
	if in.Source == "" {
		return "push"
	}
	return in.Source
}

func (in *PlanInput) isMergeRequest() bool {
	return in.source() == "merge_request_event"
}

// factVariables are the predefined variables the ref facts give.
func (in *PlanInput) factVariables() []Variable {
	vs := []Variable{{Key: "CI", Value: "true"}, {Key: "CI_PIPELINE_SOURCE", Value: in.source()}}
	if in.Ref != "" {
		vs = append(vs, Variable{Key: "CI_COMMIT_REF_NAME", Value: in.Ref}, Variable{Key: "CI_COMMIT_REF_SLUG", Value: slug(in.Ref)})
		switch {
		case in.IsTag:
			vs = append(vs, Variable{Key: "CI_COMMIT_TAG", Value: in.Ref})
		case in.isMergeRequest():
			vs = append(vs, Variable{Key: "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", Value: in.Ref})
		default:
			vs = append(vs, Variable{Key: "CI_COMMIT_BRANCH", Value: in.Ref})
		}
	}
	if in.SHA != "" {
		short := in.SHA
		if len(short) > 8 {
			short = short[:8]
		}
		vs = append(vs, Variable{Key: "CI_COMMIT_SHA", Value: in.SHA}, Variable{Key: "CI_COMMIT_SHORT_SHA", Value: short})
	}
	if in.DefaultBranch != "" {
		vs = append(vs, Variable{Key: "CI_DEFAULT_BRANCH", Value: in.DefaultBranch})
	}
	return vs
}

// pipelineVariables are the variables known before the file is read:
// predefined ones, then those passed to the run (which win over anything
// the file sets, and are added last by Plan again for that reason).
func (in *PlanInput) pipelineVariables() *varSet {
	s := newVarSet(16 + len(in.Predefined) + len(in.Variables))
	s.add(in.factVariables()...)
	s.add(in.Predefined...)
	s.add(in.Variables...)
	return s
}

// slug is GitLab's CI_COMMIT_REF_SLUG: lower case, every character but
// a-z and 0-9 replaced by "-", at most 63 bytes, no "-" at either end.
func slug(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return strings.Trim(string(b), "-")
}
