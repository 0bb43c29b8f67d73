package pipeline

import (
	"regexp"
	"strings"
)

var environmentKeywords = keywords{
	supported: []string{"name", "url", "action", "deployment_tier", "on_stop", "auto_stop_in"},
	refused:   map[string]string{"kubernetes": reasonK8s},
}

// environmentName is GitLab's rule for environment names, before variables
// are expanded.
var environmentName = regexp.MustCompile(`^[a-zA-Z0-9 \-_/${}.]+$`)

// environment reads `environment:`, a name or a mapping. It returns the
// on_stop node too, to point at it from cross-job checks.
func (p *parser) environment(ctx string, n *node) (*Environment, *node) {
	env := &Environment{Action: "start"}
	ectx := prefix(ctx) + "environment"
	var onStop *node
	switch {
	case n.kind == scalarNode && !n.isNull():
		env.Name = n.value
	case n.kind == mapNode:
		var name *node
		for _, kv := range n.pairs {
			switch kv.key.value {
			case "name":
				name = kv.value
				env.Name, _ = p.scalar(ectx, "name", kv.value)
			case "url":
				env.URL, _ = p.scalar(ectx, "url", kv.value)
			case "action":
				if a, ok := p.oneOf(ectx, "action", kv.value, "start", "prepare", "stop", "verify", "access"); ok {
					env.Action = a
				}
			case "deployment_tier":
				env.DeploymentTier, _ = p.oneOf(ectx, "deployment_tier", kv.value, "production", "staging", "testing", "development", "other")
			case "on_stop":
				onStop = kv.value
				env.OnStop, _ = p.scalar(ectx, "on_stop", kv.value)
			case "auto_stop_in":
				env.AutoStopIn, _ = p.scalar(ectx, "auto_stop_in", kv.value)
				if s := env.AutoStopIn; s != "" && !strings.Contains(s, "$") {
					p.durationValue(ectx, "auto_stop_in", kv.value, 0, true)
				}
			default:
				p.otherKeyword(ectx, kv.key, environmentKeywords)
			}
		}
		if name == nil {
			p.d.errorf(n.pos, "%s: `name` is required", ectx)
			return nil, nil
		}
		n = name
	default:
		p.d.errorf(n.pos, "%s must be a name or a mapping with a name, got %s", ectx, describe(n))
		return nil, nil
	}
	if env.Name != "" && !environmentName.MatchString(env.Name) {
		p.d.errorf(n.pos, "%s: name %q may only hold letters, digits, spaces and - _ / $ { } .", ectx, env.Name)
	}
	return env, onStop
}

// coverage reads `coverage:`, a regular expression between slashes that
// finds the coverage in a job's log.
func (p *parser) coverage(ctx string, n *node) string {
	s, ok := p.scalar(ctx, "coverage", n)
	if !ok {
		return ""
	}
	_, isRegexp, err := rubyRegexp(s)
	switch {
	case !isRegexp:
		p.d.errorf(n.pos, "%scoverage must be a regular expression between slashes, such as '/TOTAL.*\\s+(\\d+%%)$/', got %q", prefix(ctx), s)
		return ""
	case err != nil:
		p.d.warnf(n.pos, "%scoverage %q cannot be used as an RE2 regular expression (%v); the coverage will not be read", prefix(ctx), s, err)
	}
	return s
}

var allowFailureKeywords = keywords{supported: []string{"exit_codes"}}

// allowFailure reads `allow_failure:`, a boolean or a mapping of
// exit_codes.
func (p *parser) allowFailure(ctx string, n *node) *AllowFailure {
	if n.kind != mapNode {
		b, ok := p.boolean(ctx, "allow_failure", n)
		if !ok {
			return nil
		}
		return &AllowFailure{Allowed: b}
	}
	af := &AllowFailure{Allowed: true}
	var codes *node
	for _, kv := range n.pairs {
		if kv.key.value != "exit_codes" {
			p.otherKeyword(prefix(ctx)+"allow_failure", kv.key, allowFailureKeywords)
			continue
		}
		codes = kv.value
		af.ExitCodes, _ = p.exitCodes(ctx, "allow_failure:exit_codes", kv.value)
	}
	if codes == nil {
		p.d.errorf(n.pos, "%sallow_failure: the mapping form needs exit_codes", prefix(ctx))
		return nil
	}
	return af
}

var inheritKeywords = keywords{supported: []string{"default", "variables"}}

// inherit reads `inherit:`: which `default:` keywords and which
// pipeline-level variables a job inherits.
func (p *parser) inherit(ctx string, n *node) (dflt, vars Inheritance) {
	if n.kind != mapNode {
		p.d.errorf(n.pos, "%sinherit must be a mapping with default and variables, got %s", prefix(ctx), describe(n))
		return
	}
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "default":
			dflt = p.inheritance(ctx, "inherit:default", kv.value, inheritableKeywords)
		case "variables":
			vars = p.inheritance(ctx, "inherit:variables", kv.value, nil)
		default:
			p.otherKeyword(prefix(ctx)+"inherit", kv.key, inheritKeywords)
		}
	}
	return
}

// inheritance reads true, false or a list of names (of allowed, unless
// nil).
func (p *parser) inheritance(ctx, what string, n *node, allowed []string) Inheritance {
	if n.kind == scalarNode {
		b, ok := p.boolean(ctx, what, n)
		return Inheritance{None: ok && !b}
	}
	names, ok := p.stringList(ctx, what, n, false)
	if !ok {
		return Inheritance{}
	}
	in := Inheritance{Only: texts(names)}
	if len(in.Only) == 0 {
		in.None = true
	}
	for _, nm := range names {
		if allowed != nil && !(keywords{supported: allowed}).isSupported(nm.value) {
			p.d.errorf(nm.pos, "%s%s: %q is not a keyword `default:` sets", prefix(ctx), what, nm.value)
		}
	}
	return in
}
