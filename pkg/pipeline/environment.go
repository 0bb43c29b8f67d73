package pipeline

import (
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
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
func (p *parser) environment(ctx string, n *yamlpos.Node) (*Environment, *yamlpos.Node) {
	env := &Environment{Action: "start"}
	ectx := prefix(ctx) + "environment"
	var onStop *yamlpos.Node
	switch {
	case n.Kind == yamlpos.Scalar && !n.IsNull():
		env.Name = n.Value
	case n.Kind == yamlpos.Mapping:
		var name *yamlpos.Node
		for _, kv := range n.Pairs {
			switch kv.Key.Value {
			case "name":
				name = kv.Value
				env.Name, _ = p.scalar(ectx, "name", kv.Value)
			case "url":
				env.URL, _ = p.scalar(ectx, "url", kv.Value)
			case "action":
				if a, ok := p.oneOf(ectx, "action", kv.Value, "start", "prepare", "stop", "verify", "access"); ok {
					env.Action = a
				}
			case "deployment_tier":
				env.DeploymentTier, _ = p.oneOf(ectx, "deployment_tier", kv.Value, "production", "staging", "testing", "development", "other")
			case "on_stop":
				onStop = kv.Value
				env.OnStop, _ = p.scalar(ectx, "on_stop", kv.Value)
			case "auto_stop_in":
				env.AutoStopIn, _ = p.scalar(ectx, "auto_stop_in", kv.Value)
				if s := env.AutoStopIn; s != "" && !strings.Contains(s, "$") {
					p.durationValue(ectx, "auto_stop_in", kv.Value, 0, true)
				}
			default:
				p.otherKeyword(ectx, kv.Key, environmentKeywords)
			}
		}
		if name == nil {
			p.d.Errorf(n.Pos, "%s: `name` is required", ectx)
			return nil, nil
		}
		n = name
	default:
		p.d.Errorf(n.Pos, "%s must be a name or a mapping with a name, got %s", ectx, yamlpos.Describe(n))
		return nil, nil
	}
	if env.Name != "" && !environmentName.MatchString(env.Name) {
		p.d.Errorf(n.Pos, "%s: name %q may only hold letters, digits, spaces and - _ / $ { } .", ectx, env.Name)
	}
	return env, onStop
}

// coverage reads `coverage:`, a regular expression between slashes that
// finds the coverage in a job's log.
func (p *parser) coverage(ctx string, n *yamlpos.Node) string {
	s, ok := p.scalar(ctx, "coverage", n)
	if !ok {
		return ""
	}
	_, isRegexp, err := rubyRegexp(s)
	switch {
	case !isRegexp:
		p.d.Errorf(n.Pos, "%scoverage must be a regular expression between slashes, such as '/TOTAL.*\\s+(\\d+%%)$/', got %q", prefix(ctx), s)
		return ""
	case err != nil:
		p.d.Warnf(n.Pos, "%scoverage %q cannot be used as an RE2 regular expression (%v); the coverage will not be read", prefix(ctx), s, err)
	}
	return s
}

var allowFailureKeywords = keywords{supported: []string{"exit_codes"}}

// allowFailure reads `allow_failure:`, a boolean or a mapping of
// exit_codes.
func (p *parser) allowFailure(ctx string, n *yamlpos.Node) *AllowFailure {
	if n.Kind != yamlpos.Mapping {
		b, ok := p.boolean(ctx, "allow_failure", n)
		if !ok {
			return nil
		}
		return &AllowFailure{Allowed: b}
	}
	af := &AllowFailure{Allowed: true}
	var codes *yamlpos.Node
	for _, kv := range n.Pairs {
		if kv.Key.Value != "exit_codes" {
			p.otherKeyword(prefix(ctx)+"allow_failure", kv.Key, allowFailureKeywords)
			continue
		}
		codes = kv.Value
		af.ExitCodes, _ = p.exitCodes(ctx, "allow_failure:exit_codes", kv.Value)
	}
	if codes == nil {
		p.d.Errorf(n.Pos, "%sallow_failure: the mapping form needs exit_codes", prefix(ctx))
		return nil
	}
	return af
}

var inheritKeywords = keywords{supported: []string{"default", "variables"}}

// inherit reads `inherit:`: which `default:` keywords and which
// pipeline-level variables a job inherits.
func (p *parser) inherit(ctx string, n *yamlpos.Node) (dflt, vars Inheritance) {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%sinherit must be a mapping with default and variables, got %s", prefix(ctx), yamlpos.Describe(n))
		return
	}
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "default":
			dflt = p.inheritance(ctx, "inherit:default", kv.Value, inheritableKeywords)
		case "variables":
			vars = p.inheritance(ctx, "inherit:variables", kv.Value, nil)
		default:
			p.otherKeyword(prefix(ctx)+"inherit", kv.Key, inheritKeywords)
		}
	}
	return
}

// inheritance reads true, false or a list of names (of allowed, unless
// nil).
func (p *parser) inheritance(ctx, what string, n *yamlpos.Node, allowed []string) Inheritance {
	if n.Kind == yamlpos.Scalar {
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
		if allowed != nil && !(keywords{supported: allowed}).isSupported(nm.Value) {
			p.d.Errorf(nm.Pos, "%s%s: %q is not a keyword `default:` sets", prefix(ctx), what, nm.Value)
		}
	}
	return in
}
