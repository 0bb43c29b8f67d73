package pipeline

import (
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// ruleKind is where a `rules:` list is: each place allows other keywords
// and `when:` values.
type ruleKind int

const (
	jobRule ruleKind = iota
	workflowRule
	includeRule
)

var ruleKeywords = map[ruleKind]keywords{
	jobRule: {supported: []string{
		"if", "changes", "exists", "when", "start_in", "allow_failure", "variables", "needs", "interruptible",
	}},
	workflowRule: {supported: []string{"if", "changes", "exists", "when", "variables", "auto_cancel"}},
	includeRule:  {supported: []string{"if", "changes", "exists", "when"}},
}

var ruleWhens = map[ruleKind][]string{
	jobRule:      {"on_success", "on_failure", "always", "manual", "delayed", "never"},
	workflowRule: {"always", "never"},
	includeRule:  {"always", "never"},
}

// jobWhens are the values of a job's own `when:`; `never` is only for
// rules, as in GitLab.
var jobWhens = []string{"on_success", "on_failure", "always", "manual", "delayed"}

// maxStartIn is GitLab's limit on `start_in`.
const maxStartIn = week

// rules reads a `rules:` list; false means it is unusable.
func (p *parser) rules(ctx string, n *yamlpos.Node, kind ruleKind) ([]*Rule, bool) {
	items, ok := p.items(ctx, "rules", n, "a list of rules")
	if !ok {
		return nil, false
	}
	rules := make([]*Rule, 0, len(items))
	for _, it := range items {
		r, good := p.rule(ctx, it, kind)
		ok = ok && good
		if r != nil {
			rules = append(rules, r)
		}
	}
	return rules, ok
}

func (p *parser) rule(ctx string, n *yamlpos.Node, kind ruleKind) (*Rule, bool) {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%srules entries must be mappings such as {if: ..., when: ...}, got %s", prefix(ctx), yamlpos.Describe(n))
		return nil, false
	}
	r := &Rule{Pos: n.Pos}
	rctx := prefix(ctx) + "rules"
	ok := true
	var when, startIn *yamlpos.Node
	for _, kv := range n.Pairs {
		if !ruleKeywords[kind].isSupported(kv.Key.Value) {
			p.otherKeyword(rctx, kv.Key, ruleKeywords[kind])
			ok = false
			continue
		}
		good := true
		switch kv.Key.Value {
		case "if":
			r.ifx, good = p.expression(ctx, "rules:if", kv.Value)
			r.If = r.ifx.src
		case "changes":
			r.Changes, good = p.changes(ctx, "rules:changes", kv.Value)
		case "exists":
			r.Exists, good = p.exists(ctx, kv.Value)
		case "when":
			when = kv.Value
			r.When, good = p.oneOf(ctx, "rules:when", kv.Value, ruleWhens[kind]...)
		case "start_in":
			startIn = kv.Value
			r.StartIn, _, good = p.durationValue(ctx, "rules:start_in", kv.Value, maxStartIn, false)
		case "allow_failure":
			var b bool
			b, good = p.boolean(ctx, "rules:allow_failure", kv.Value)
			r.AllowFailure = &b
		case "variables":
			r.Variables = p.variables(rctx, kv.Value, false)
		case "needs":
			r.Needs, good = p.needs(rctx, kv.Value)
			r.UsesNeeds = true
		case "interruptible":
			var b bool
			b, good = p.boolean(ctx, "rules:interruptible", kv.Value)
			r.Interruptible = &b
		case "auto_cancel":
			r.AutoCancel, good = p.autoCancel(rctx, kv.Value)
		}
		ok = ok && good
	}
	switch {
	case r.When == "delayed" && startIn == nil:
		p.d.Errorf(when.Pos, "%s: when: delayed needs start_in", rctx)
		ok = false
	case startIn != nil && r.When != "delayed" && when != nil:
		p.d.Errorf(startIn.Pos, "%s: start_in is only for when: delayed", rctx)
		ok = false
	case startIn != nil && when == nil:
		p.d.Errorf(startIn.Pos, "%s: start_in needs when: delayed in the same rule", rctx)
		ok = false
	}
	return r, ok
}

// changes reads `changes:`, a list of globs or a mapping with paths and
// compare_to.
func (p *parser) changes(ctx, what string, n *yamlpos.Node) (*Changes, bool) {
	c := &Changes{}
	if n.Kind != yamlpos.Mapping {
		paths, ok := p.stringList(ctx, what, n, false)
		c.Paths = texts(paths)
		return c, ok
	}
	ok := true
	var paths *yamlpos.Node
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "paths":
			paths = kv.Value
			list, good := p.stringList(ctx, what+":paths", kv.Value, false)
			c.Paths, ok = texts(list), ok && good
		case "compare_to":
			s, good := p.scalar(ctx, what+":compare_to", kv.Value)
			c.CompareTo, ok = s, ok && good
		default:
			p.otherKeyword(prefix(ctx)+what, kv.Key, keywords{supported: []string{"paths", "compare_to"}})
			ok = false
		}
	}
	if paths == nil {
		p.d.Errorf(n.Pos, "%s%s: `paths` is required", prefix(ctx), what)
		ok = false
	}
	return c, ok
}

// exists reads `exists:`, a list of globs or a mapping with paths.
func (p *parser) exists(ctx string, n *yamlpos.Node) ([]string, bool) {
	if n.Kind != yamlpos.Mapping {
		paths, ok := p.stringList(ctx, "rules:exists", n, false)
		out := texts(paths)
		if out == nil {
			out = []string{}
		}
		return out, ok
	}
	ok := true
	out := []string{}
	var paths *yamlpos.Node
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "paths":
			paths = kv.Value
			list, good := p.stringList(ctx, "rules:exists:paths", kv.Value, false)
			out, ok = append(out, texts(list)...), ok && good
		default:
			p.otherKeyword(prefix(ctx)+"rules:exists", kv.Key, keywords{
				supported: []string{"paths"},
				refused:   map[string]string{"project": reasonOtherProj, "ref": reasonOtherProj},
			})
			ok = false
		}
	}
	if paths == nil {
		p.d.Errorf(n.Pos, "%srules:exists: `paths` is required", prefix(ctx))
		ok = false
	}
	return out, ok
}

var autoCancelKeywords = keywords{supported: []string{"on_new_commit", "on_job_failure"}}

func (p *parser) autoCancel(ctx string, n *yamlpos.Node) (*AutoCancel, bool) {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%sauto_cancel must be a mapping with on_new_commit and on_job_failure, got %s", prefix(ctx), yamlpos.Describe(n))
		return nil, false
	}
	ac := &AutoCancel{}
	ok := true
	for _, kv := range n.Pairs {
		good := true
		switch kv.Key.Value {
		case "on_new_commit":
			ac.OnNewCommit, good = p.oneOf(ctx, "auto_cancel:on_new_commit", kv.Value, "conservative", "interruptible", "none")
		case "on_job_failure":
			ac.OnJobFailure, good = p.oneOf(ctx, "auto_cancel:on_job_failure", kv.Value, "none", "all")
		default:
			p.otherKeyword(prefix(ctx)+"auto_cancel", kv.Key, autoCancelKeywords)
			good = false
		}
		ok = ok && good
	}
	return ac, ok
}

var workflowKeywords = keywords{supported: []string{"rules", "name", "auto_cancel"}}

const maxWorkflowNameLen = 255

// workflow reads `workflow:`.
func (p *parser) workflow(n *yamlpos.Node) *Workflow {
	if n.IsNull() {
		return nil
	}
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "workflow must be a mapping with rules, name or auto_cancel, got %s", yamlpos.Describe(n))
		return nil
	}
	w := &Workflow{}
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "rules":
			w.Rules, _ = p.rules("workflow", kv.Value, workflowRule)
			w.UsesRules = true
		case "name":
			name, ok := p.scalar("workflow", "name", kv.Value)
			if ok && len(name) > maxWorkflowNameLen {
				p.d.Errorf(kv.Value.Pos, "workflow: name is too long: at most %d characters", maxWorkflowNameLen)
			}
			w.Name = name
		case "auto_cancel":
			w.AutoCancel, _ = p.autoCancel("workflow", kv.Value)
		default:
			p.otherKeyword("workflow", kv.Key, workflowKeywords)
		}
	}
	return w
}

// refPattern is one entry of `only:refs` or `except:refs`.
type refPattern struct {
	// name is a ref name or a keyword (branches, tags, merge_requests...);
	// re is set for a /regex/.
	name string
	re   *regexp.Regexp
	// project limits the pattern to one project (`main@group/project`).
	project string
}

var policyKeywords = keywords{
	supported: []string{"refs", "variables", "changes"},
	refused:   map[string]string{"kubernetes": reasonK8s},
}

// policy reads `only:` or `except:`: a list of refs or a mapping of refs,
// variables and changes.
func (p *parser) policy(ctx, what string, n *yamlpos.Node) *Policy {
	pol := &Policy{Pos: n.Pos}
	if n.Kind != yamlpos.Mapping {
		pol.Refs, pol.refs = p.refs(ctx, what, n)
		return pol
	}
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "refs":
			pol.Refs, pol.refs = p.refs(ctx, what+":refs", kv.Value)
		case "variables":
			exprs, _ := p.stringList(ctx, what+":variables", kv.Value, false)
			for _, e := range exprs {
				if x, ok := p.expression(ctx, what+":variables", e); ok {
					pol.Variables = append(pol.Variables, x.src)
					pol.vars = append(pol.vars, x)
				}
			}
		case "changes":
			pol.Changes, _ = p.changes(ctx, what+":changes", kv.Value)
		default:
			p.otherKeyword(prefix(ctx)+what, kv.Key, policyKeywords)
		}
	}
	return pol
}

func (p *parser) refs(ctx, what string, n *yamlpos.Node) ([]string, []refPattern) {
	list, _ := p.stringList(ctx, what, n, true)
	out := make([]refPattern, 0, len(list))
	for _, r := range list {
		pat := refPattern{name: r.Value}
		if name, project, ok := strings.Cut(r.Value, "@"); ok {
			pat.name, pat.project = name, project
		}
		if re, isRegexp, err := rubyRegexp(pat.name); isRegexp {
			if err != nil {
				// GitLab falls back to comparing the text.
				p.d.Warnf(r.Pos, "%s%s: %q is not a valid regular expression (%v); it is compared as a ref name", prefix(ctx), what, pat.name, err)
			} else {
				pat.re = re
			}
		}
		out = append(out, pat)
	}
	return texts(list), out
}

// rubyRegexp compiles a Ruby regexp literal such as /^release-.*$/i as
// GitLab does with RE2; isRegexp is false when s is not /.../.
func rubyRegexp(s string) (re *regexp.Regexp, isRegexp bool, err error) {
	if len(s) < 2 || s[0] != '/' {
		return nil, false, nil
	}
	end := strings.LastIndexByte(s, '/')
	if end == 0 {
		return nil, false, nil
	}
	flags := s[end+1:]
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "i"
		case 'm':
			prefix += "s" // Ruby's multiline: "." matches newlines
		case 'x':
			return nil, true, errUnsupportedFlag
		default:
			return nil, false, nil
		}
	}
	body := s[1:end]
	if prefix != "" {
		body = "(?" + prefix + ")" + body
	}
	re, err = regexp.Compile(body)
	return re, true, err
}

type regexpError string

func (e regexpError) Error() string { return string(e) }

const errUnsupportedFlag = regexpError("the x flag is not supported")
