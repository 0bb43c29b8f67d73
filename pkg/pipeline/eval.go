package pipeline

import "strings"

// evaluator answers the conditions of rules and only/except for one ref.
type evaluator struct {
	in     *PlanInput
	exists func(glob string) bool
	// existsMemo caches exists answers: a file tree does not change during
	// a plan, and every job may ask about the same files.
	existsMemo map[string]bool
}

type lookupFunc = func(name string) (string, bool)

// firstMatch returns the first rule that matches, or nil.
func (ev *evaluator) firstMatch(rules []*Rule, lookup lookupFunc) *Rule {
	for _, r := range rules {
		if ev.matches(r, lookup) {
			return r
		}
	}
	return nil
}

// matches reports whether every condition of a rule holds.
func (ev *evaluator) matches(r *Rule, lookup lookupFunc) bool {
	x, err := r.condition()
	if err != nil {
		return false // a hand-built rule with a broken `if:`
	}
	if x != nil && !x.Eval(lookup) {
		return false
	}
	if r.Changes != nil && !ev.changed(r.Changes, lookup) {
		return false
	}
	if r.Exists != nil && !ev.anyExists(r.Exists, lookup) {
		return false
	}
	return true
}

// changesKnown reports whether the source is one where GitLab compares
// files: for the others (web, schedule, api...) `changes:` is always true.
func (ev *evaluator) changesKnown() bool {
	switch ev.in.source() {
	case "push", "merge_request_event", "external_pull_request_event":
		return true
	}
	return false
}

// changed reports whether a file matching c changed. When the changed files
// are not known (a new branch, a source that is not a push or a merge
// request) it is true, as in GitLab.
func (ev *evaluator) changed(c *Changes, lookup lookupFunc) bool {
	if !ev.changesKnown() {
		return true
	}
	files := ev.in.ChangedFiles
	if c.CompareTo != "" {
		if ev.in.ChangedFilesSince == nil {
			return true
		}
		var ok bool
		if files, ok = ev.in.ChangedFilesSince(expandVariables(c.CompareTo, lookup)); !ok {
			return true
		}
	} else if files == nil {
		return true
	}
	for _, p := range c.Paths {
		glob := expandVariables(p, lookup)
		for _, f := range files {
			if MatchGlob(glob, f) {
				return true
			}
		}
	}
	return false
}

// anyExists reports whether a file matches one of the globs; without
// FileExists, no file is known to exist.
func (ev *evaluator) anyExists(globs []string, lookup lookupFunc) bool {
	if ev.exists == nil {
		return false
	}
	for _, g := range globs {
		glob := strings.TrimPrefix(expandVariables(g, lookup), "/")
		found, ok := ev.existsMemo[glob]
		if !ok {
			found = ev.exists(glob)
			if ev.existsMemo == nil {
				ev.existsMemo = map[string]bool{}
			}
			ev.existsMemo[glob] = found
		}
		if found {
			return true
		}
	}
	return false
}

// defaultOnly is what GitLab assumes for a job without rules and only:
// branches and tags (so not merge request pipelines).
var defaultOnly = &Policy{Refs: []string{"branches", "tags"}, refs: []refPattern{{name: "branches"}, {name: "tags"}}}

// included decides a job without rules: every condition of `only` holds
// and none of `except` does. Without `only:`, GitLab's default applies,
// branches and tags, unless the pipeline has workflow:rules: GitLab then
// drops the default, workflow:rules deciding which pipelines run.
func (ev *evaluator) included(j *Job, workflowRules bool, lookup lookupFunc) bool {
	only := j.Only
	if only == nil && !workflowRules {
		only = defaultOnly
	}
	if only != nil && !ev.policyAll(only, lookup) {
		return false
	}
	return j.Except == nil || !ev.policyAny(j.Except, lookup)
}

// policyAll reports whether every part (refs, variables, changes) of an
// `only:` holds.
func (ev *evaluator) policyAll(pol *Policy, lookup lookupFunc) bool {
	if pol.Refs != nil && !ev.anyRef(pol, lookup) {
		return false
	}
	if pol.Variables != nil && !ev.anyVariables(pol, lookup) {
		return false
	}
	return pol.Changes == nil || ev.changed(pol.Changes, lookup)
}

// policyAny reports whether any part of an `except:` holds.
func (ev *evaluator) policyAny(pol *Policy, lookup lookupFunc) bool {
	return pol.Refs != nil && ev.anyRef(pol, lookup) ||
		pol.Variables != nil && ev.anyVariables(pol, lookup) ||
		pol.Changes != nil && ev.changed(pol.Changes, lookup)
}

func (ev *evaluator) anyVariables(pol *Policy, lookup lookupFunc) bool {
	exprs := pol.vars
	if len(exprs) != len(pol.Variables) { // built by hand
		exprs = make([]expression, len(pol.Variables))
		for i, s := range pol.Variables {
			exprs[i] = expression{src: s}
		}
	}
	for _, e := range exprs {
		if x, err := e.compiled(); err == nil && x != nil && x.Eval(lookup) {
			return true
		}
	}
	return false
}

func (ev *evaluator) anyRef(pol *Policy, lookup lookupFunc) bool {
	pats := pol.refs
	if len(pats) != len(pol.Refs) { // built by hand
		pats = make([]refPattern, len(pol.Refs))
		for i, r := range pol.Refs {
			pats[i] = refPattern{name: r}
			if name, project, ok := strings.Cut(r, "@"); ok {
				pats[i] = refPattern{name: name, project: project}
			}
			if re, _, err := rubyRegexp(pats[i].name); err == nil {
				pats[i].re = re
			}
		}
	}
	for _, pat := range pats {
		if ev.refMatches(pat, lookup) {
			return true
		}
	}
	return false
}

// refMatches matches one `only:refs` entry as GitLab does: keywords for
// the kind of ref and the source, then, for branch and tag pipelines, the
// ref name or a /regex/.
func (ev *evaluator) refMatches(pat refPattern, lookup lookupFunc) bool {
	if pat.project != "" {
		if path, _ := lookup("CI_PROJECT_PATH"); path != pat.project {
			return false
		}
	}
	in := ev.in
	isTag := in.IsTag
	isBranch := !isTag && !in.isMergeRequest()
	switch {
	case pat.name == "tags" && isTag, pat.name == "branches" && isBranch:
		return true
	}
	source := strings.TrimSuffix(in.source(), "_event")
	if pat.name == source || pat.name == pluralize(source) {
		return true
	}
	if !isBranch && !isTag {
		return false // names and patterns do not apply to merge requests
	}
	if pat.re != nil {
		return pat.re.MatchString(in.Ref)
	}
	return pat.name == in.Ref
}

func pluralize(s string) string {
	if strings.HasSuffix(s, "sh") {
		return s + "es"
	}
	return s + "s"
}
