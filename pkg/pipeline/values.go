package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// scalar returns the text of a non-null scalar.
func (p *parser) scalar(ctx, what string, n *yamlpos.Node) (string, bool) {
	if n.Kind != yamlpos.Scalar || n.IsNull() {
		p.d.Errorf(n.Pos, "%s%s must be a string, got %s", prefix(ctx), what, yamlpos.Describe(n))
		return "", false
	}
	return n.Value, true
}

// stringList reads a list of strings. Nested lists are flattened, as GitLab
// allows them so lists from anchors can be spliced in; numbers and booleans
// are taken as written. With single, a lone string stands for a list of
// one. It returns the scalar nodes so callers can point at an entry.
func (p *parser) stringList(ctx, what string, n *yamlpos.Node, single bool) ([]*yamlpos.Node, bool) {
	if single && n.Kind == yamlpos.Scalar && !n.IsNull() {
		return []*yamlpos.Node{n}, true
	}
	if n.Kind != yamlpos.Sequence {
		want := "a list of strings"
		if single {
			want = "a string or a list of strings"
		}
		p.d.Errorf(n.Pos, "%s%s must be %s, got %s", prefix(ctx), what, want, yamlpos.Describe(n))
		return nil, false
	}
	var out []*yamlpos.Node
	ok := true
	var walk func(*yamlpos.Node)
	walk = func(list *yamlpos.Node) {
		for _, it := range list.Items {
			switch {
			case it.Kind == yamlpos.Sequence:
				walk(it)
			case it.Kind == yamlpos.Scalar && !it.IsNull():
				out = append(out, it)
			default:
				hint := ""
				if it.Kind == yamlpos.Mapping {
					hint = ` (a line containing ": " must be quoted)`
				}
				p.d.Errorf(it.Pos, "%s%s entries must be strings, got %s%s", prefix(ctx), what, yamlpos.Describe(it), hint)
				ok = false
			}
		}
	}
	walk(n)
	return out, ok
}

func texts(nodes []*yamlpos.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Value
	}
	return out
}

func (p *parser) script(ctx, what string, n *yamlpos.Node) []string {
	lines, _ := p.stringList(ctx, what, n, true)
	return texts(lines)
}

// image reads `image:`, a string or a mapping with a name.
func (p *parser) image(ctx string, n *yamlpos.Node) *Image {
	switch {
	case n.Kind == yamlpos.Scalar && !n.IsNull():
		if n.Value == "" {
			p.d.Errorf(n.Pos, "%simage name must not be empty", prefix(ctx))
		}
		return &Image{Name: n.Value}
	case n.Kind == yamlpos.Mapping:
		img := &Image{}
		ictx := prefix(ctx) + "image"
		img.Name = p.imageName(ictx, n)
		for _, kv := range n.Pairs {
			switch kv.Key.Value {
			case "name":
			case "entrypoint":
				img.Entrypoint, img.EntrypointSet = p.entrypoint(ictx, kv.Value), true
			default:
				p.otherKeyword(ictx, kv.Key, imageKeywords)
			}
		}
		return img
	}
	p.d.Errorf(n.Pos, `%simage must be a string or a mapping with "name", got %s`, prefix(ctx), yamlpos.Describe(n))
	return nil
}

// imageName reads the required `name` of an image or service mapping.
func (p *parser) imageName(ctx string, n *yamlpos.Node) string {
	kv, ok := n.Lookup("name")
	if !ok {
		p.d.Errorf(n.Pos, "%s: `name` is required", ctx)
		return ""
	}
	name, ok := p.scalar(ctx, "name", kv.Value)
	if ok && name == "" {
		p.d.Errorf(kv.Value.Pos, "%s: name must not be empty", ctx)
	}
	return name
}

func (p *parser) entrypoint(ctx string, n *yamlpos.Node) []string {
	parts, _ := p.stringList(ctx, "entrypoint", n, false)
	return texts(parts)
}

// services reads `services:`, a list of image names or mappings.
func (p *parser) services(ctx string, n *yamlpos.Node) []Service {
	switch {
	case n.IsNull():
		return []Service{}
	case n.Kind != yamlpos.Sequence:
		p.d.Errorf(n.Pos, "%sservices must be a list of images, got %s", prefix(ctx), yamlpos.Describe(n))
		return nil
	}
	sctx := prefix(ctx) + "service"
	out := make([]Service, 0, len(n.Items))
	for _, it := range n.Items {
		switch {
		case it.Kind == yamlpos.Scalar && !it.IsNull():
			if it.Value == "" {
				p.d.Errorf(it.Pos, "%s name must not be empty", sctx)
			}
			out = append(out, Service{Name: it.Value})
		case it.Kind == yamlpos.Mapping:
			out = append(out, p.service(sctx, it))
		default:
			p.d.Errorf(it.Pos, `%s must be a string or a mapping with "name", got %s`, sctx, yamlpos.Describe(it))
		}
	}
	return out
}

func (p *parser) service(ctx string, n *yamlpos.Node) Service {
	s := Service{Name: p.imageName(ctx, n)}
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "name":
		case "alias":
			s.Alias, _ = p.scalar(ctx, "alias", kv.Value)
		case "entrypoint":
			s.Entrypoint, s.EntrypointSet = p.entrypoint(ctx, kv.Value), true
		case "command":
			cmd, _ := p.stringList(ctx, "command", kv.Value, false)
			s.Command = texts(cmd)
		case "variables":
			s.Variables = p.variables(ctx, kv.Value, false)
		default:
			p.otherKeyword(ctx, kv.Key, serviceKeywords)
		}
	}
	return s
}

// variableName is GitLab's rule for CI/CD variable keys.
var variableName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// variables reads a `variables:` mapping. Only pipeline-level variables
// may have a description and options, as in GitLab.
func (p *parser) variables(ctx string, n *yamlpos.Node, pipelineLevel bool) []Variable {
	switch {
	case n.IsNull():
		return nil
	case n.Kind != yamlpos.Mapping:
		p.d.Errorf(n.Pos, "%svariables must be a mapping of names to values, got %s", prefix(ctx), yamlpos.Describe(n))
		return nil
	}
	vars := make([]Variable, 0, len(n.Pairs))
	for _, kv := range n.Pairs {
		name := kv.Key.Value
		if !variableName.MatchString(name) {
			p.d.Errorf(kv.Key.Pos, "%svariable name %q is invalid: use only letters, digits and \"_\"", prefix(ctx), name)
			continue
		}
		v := Variable{Key: name}
		if p.variableValue(fmt.Sprintf("%svariable %q", prefix(ctx), name), kv.Value, &v, pipelineLevel) {
			vars = append(vars, v)
		}
	}
	return vars
}

func (p *parser) variableValue(ctx string, n *yamlpos.Node, v *Variable, pipelineLevel bool) bool {
	switch n.Kind {
	case yamlpos.Scalar:
		if !n.IsNull() {
			v.Value = n.Value
		}
		return true
	case yamlpos.Mapping:
		return p.variableMapping(ctx, n, v, pipelineLevel)
	}
	p.d.Errorf(n.Pos, "%s: a value must be a string, a number, a boolean or a mapping with `value`, got %s", ctx, yamlpos.Describe(n))
	return false
}

func (p *parser) variableMapping(ctx string, n *yamlpos.Node, v *Variable, pipelineLevel bool) bool {
	ok := true
	var value *yamlpos.Node
	for _, kv := range n.Pairs {
		k := kv.Key.Value
		switch {
		case k == "value":
			value = kv.Value
			if kv.Value.IsNull() {
				continue
			}
			s, valid := p.scalar(ctx, "value", kv.Value)
			v.Value, ok = s, ok && valid
		case k == "expand":
			if kv.Value.Tag != "!!bool" {
				p.d.Errorf(kv.Value.Pos, "%s: expand must be true or false, got %s", ctx, yamlpos.Describe(kv.Value))
				ok = false
				continue
			}
			v.Raw = strings.EqualFold(kv.Value.Value, "false")
		case (k == "description" || k == "options") && !pipelineLevel:
			p.d.Errorf(kv.Key.Pos, "%s: `%s` is only allowed on pipeline-level variables", ctx, k)
			ok = false
		case k == "description":
			v.Description, _ = p.scalar(ctx, "description", kv.Value)
		case k == "options":
			opts, _ := p.stringList(ctx, "options", kv.Value, false)
			v.Options = texts(opts)
		default:
			want := "value and expand"
			if pipelineLevel {
				want = "value, description, expand and options"
			}
			p.d.Errorf(kv.Key.Pos, "%s: unknown key `%s`; a variable takes %s", ctx, k, want)
			ok = false
		}
	}
	if len(v.Options) > 0 && !slices.Contains(v.Options, v.Value) {
		pos := n.Pos
		if value != nil {
			pos = value.Pos
		}
		p.d.Errorf(pos, "%s: value %q must be one of its options", ctx, v.Value)
		ok = false
	}
	return ok
}

// boolean reads true or false. YAML 1.1 spellings (yes, no, on, off),
// which GitLab's loader reads as booleans, are accepted too.
func (p *parser) boolean(ctx, what string, n *yamlpos.Node) (bool, bool) {
	if n.Kind == yamlpos.Scalar && (n.Tag == "!!bool" || n.Tag == "!!str") {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	p.d.Errorf(n.Pos, "%s%s must be true or false, got %s", prefix(ctx), what, yamlpos.Describe(n))
	return false, false
}

// oneOf reads a string that must be one of allowed.
func (p *parser) oneOf(ctx, what string, n *yamlpos.Node, allowed ...string) (string, bool) {
	s, ok := p.scalar(ctx, what, n)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		p.d.Errorf(n.Pos, "%s%s must be one of %s, got %q", prefix(ctx), what, strings.Join(allowed, ", "), s)
		return "", false
	}
	return s, true
}

// integer reads a whole number from lo to hi.
func (p *parser) integer(ctx, what string, n *yamlpos.Node, lo, hi int) (int, bool) {
	if n.Kind == yamlpos.Scalar && !n.IsNull() {
		if v, err := strconv.Atoi(n.Value); err == nil && v >= lo && v <= hi {
			return v, true
		}
	}
	p.d.Errorf(n.Pos, "%s%s must be a whole number from %d to %d, got %s", prefix(ctx), what, lo, hi, shown(n))
	return 0, false
}

// shown is a node as quoted in messages: a scalar's text, or its type.
func shown(n *yamlpos.Node) string {
	if n.Kind == yamlpos.Scalar && !n.IsNull() {
		return strconv.Quote(n.Value)
	}
	return yamlpos.Describe(n)
}

// exitCodes reads an exit code or a list of them.
func (p *parser) exitCodes(ctx, what string, n *yamlpos.Node) ([]int, bool) {
	codes, ok := p.stringList(ctx, what, n, true)
	if !ok {
		return nil, false
	}
	out := make([]int, 0, len(codes))
	for _, c := range codes {
		code, err := strconv.Atoi(c.Value)
		if err != nil || code < 0 || code > 255 {
			p.d.Errorf(c.Pos, "%s%s entries must be exit codes (0 to 255), got %q", prefix(ctx), what, c.Value)
			return nil, false
		}
		out = append(out, code)
	}
	return out, true
}

// durationValue reads a GitLab duration ("1h 30m", "2 days", "3600") of at
// most limit; with never, "never" is accepted and reported as such.
func (p *parser) durationValue(ctx, what string, n *yamlpos.Node, limit time.Duration, never bool) (d time.Duration, isNever, ok bool) {
	s, ok := p.scalar(ctx, what, n)
	if !ok {
		return 0, false, false
	}
	if never && strings.EqualFold(strings.TrimSpace(s), "never") {
		return 0, true, true
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		p.d.Errorf(n.Pos, "%s%s: %v", prefix(ctx), what, err)
		return 0, false, false
	case d <= 0:
		p.d.Errorf(n.Pos, "%s%s must be longer than zero, got %q", prefix(ctx), what, s)
		return 0, false, false
	case limit > 0 && d > limit:
		p.d.Errorf(n.Pos, "%s%s must be at most %s, got %q", prefix(ctx), what, limitText(limit), s)
		return 0, false, false
	}
	return d, false, true
}

// items returns the entries of a list with nested lists (from anchors or
// `!reference`) spliced in, or records an error when n is not a list.
func (p *parser) items(ctx, what string, n *yamlpos.Node, want string) ([]*yamlpos.Node, bool) {
	if n.Kind != yamlpos.Sequence {
		p.d.Errorf(n.Pos, "%s%s must be %s, got %s", prefix(ctx), what, want, yamlpos.Describe(n))
		return nil, false
	}
	return flatten(n), true
}
