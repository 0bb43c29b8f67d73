package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scalar returns the text of a non-null scalar.
func (p *parser) scalar(ctx, what string, n *node) (string, bool) {
	if n.kind != scalarNode || n.isNull() {
		p.d.errorf(n.pos, "%s%s must be a string, got %s", prefix(ctx), what, describe(n))
		return "", false
	}
	return n.value, true
}

// stringList reads a list of strings. Nested lists are flattened, as GitLab
// allows them so lists from anchors can be spliced in; numbers and booleans
// are taken as written. With single, a lone string stands for a list of
// one. It returns the scalar nodes so callers can point at an entry.
func (p *parser) stringList(ctx, what string, n *node, single bool) ([]*node, bool) {
	if single && n.kind == scalarNode && !n.isNull() {
		return []*node{n}, true
	}
	if n.kind != seqNode {
		want := "a list of strings"
		if single {
			want = "a string or a list of strings"
		}
		p.d.errorf(n.pos, "%s%s must be %s, got %s", prefix(ctx), what, want, describe(n))
		return nil, false
	}
	var out []*node
	ok := true
	var walk func(*node)
	walk = func(list *node) {
		for _, it := range list.items {
			switch {
			case it.kind == seqNode:
				walk(it)
			case it.kind == scalarNode && !it.isNull():
				out = append(out, it)
			default:
				hint := ""
				if it.kind == mapNode {
					hint = ` (a line containing ": " must be quoted)`
				}
				p.d.errorf(it.pos, "%s%s entries must be strings, got %s%s", prefix(ctx), what, describe(it), hint)
				ok = false
			}
		}
	}
	walk(n)
	return out, ok
}

func texts(nodes []*node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.value
	}
	return out
}

func (p *parser) script(ctx, what string, n *node) []string {
	lines, _ := p.stringList(ctx, what, n, true)
	return texts(lines)
}

// image reads `image:`, a string or a mapping with a name.
func (p *parser) image(ctx string, n *node) *Image {
	switch {
	case n.kind == scalarNode && !n.isNull():
		if n.value == "" {
			p.d.errorf(n.pos, "%simage name must not be empty", prefix(ctx))
		}
		return &Image{Name: n.value}
	case n.kind == mapNode:
		img := &Image{}
		ictx := prefix(ctx) + "image"
		img.Name = p.imageName(ictx, n)
		for _, kv := range n.pairs {
			switch kv.key.value {
			case "name":
			case "entrypoint":
				img.Entrypoint, img.EntrypointSet = p.entrypoint(ictx, kv.value), true
			default:
				p.otherKeyword(ictx, kv.key, imageKeywords)
			}
		}
		return img
	}
	p.d.errorf(n.pos, `%simage must be a string or a mapping with "name", got %s`, prefix(ctx), describe(n))
	return nil
}

// imageName reads the required `name` of an image or service mapping.
func (p *parser) imageName(ctx string, n *node) string {
	kv, ok := n.lookup("name")
	if !ok {
		p.d.errorf(n.pos, "%s: `name` is required", ctx)
		return ""
	}
	name, ok := p.scalar(ctx, "name", kv.value)
	if ok && name == "" {
		p.d.errorf(kv.value.pos, "%s: name must not be empty", ctx)
	}
	return name
}

func (p *parser) entrypoint(ctx string, n *node) []string {
	parts, _ := p.stringList(ctx, "entrypoint", n, false)
	return texts(parts)
}

// services reads `services:`, a list of image names or mappings.
func (p *parser) services(ctx string, n *node) []Service {
	switch {
	case n.isNull():
		return []Service{}
	case n.kind != seqNode:
		p.d.errorf(n.pos, "%sservices must be a list of images, got %s", prefix(ctx), describe(n))
		return nil
	}
	sctx := prefix(ctx) + "service"
	out := make([]Service, 0, len(n.items))
	for _, it := range n.items {
		switch {
		case it.kind == scalarNode && !it.isNull():
			if it.value == "" {
				p.d.errorf(it.pos, "%s name must not be empty", sctx)
			}
			out = append(out, Service{Name: it.value})
		case it.kind == mapNode:
			out = append(out, p.service(sctx, it))
		default:
			p.d.errorf(it.pos, `%s must be a string or a mapping with "name", got %s`, sctx, describe(it))
		}
	}
	return out
}

func (p *parser) service(ctx string, n *node) Service {
	s := Service{Name: p.imageName(ctx, n)}
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "name":
		case "alias":
			s.Alias, _ = p.scalar(ctx, "alias", kv.value)
		case "entrypoint":
			s.Entrypoint, s.EntrypointSet = p.entrypoint(ctx, kv.value), true
		case "command":
			cmd, _ := p.stringList(ctx, "command", kv.value, false)
			s.Command = texts(cmd)
		case "variables":
			s.Variables = p.variables(ctx, kv.value, false)
		default:
			p.otherKeyword(ctx, kv.key, serviceKeywords)
		}
	}
	return s
}

// variableName is GitLab's rule for CI/CD variable keys.
var variableName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// variables reads a `variables:` mapping. Only pipeline-level variables
// may have a description and options, as in GitLab.
func (p *parser) variables(ctx string, n *node, pipelineLevel bool) []Variable {
	switch {
	case n.isNull():
		return nil
	case n.kind != mapNode:
		p.d.errorf(n.pos, "%svariables must be a mapping of names to values, got %s", prefix(ctx), describe(n))
		return nil
	}
	vars := make([]Variable, 0, len(n.pairs))
	for _, kv := range n.pairs {
		name := kv.key.value
		if !variableName.MatchString(name) {
			p.d.errorf(kv.key.pos, "%svariable name %q is invalid: use only letters, digits and \"_\"", prefix(ctx), name)
			continue
		}
		v := Variable{Key: name}
		if p.variableValue(fmt.Sprintf("%svariable %q", prefix(ctx), name), kv.value, &v, pipelineLevel) {
			vars = append(vars, v)
		}
	}
	return vars
}

func (p *parser) variableValue(ctx string, n *node, v *Variable, pipelineLevel bool) bool {
	switch n.kind {
	case scalarNode:
		if !n.isNull() {
			v.Value = n.value
		}
		return true
	case mapNode:
		return p.variableMapping(ctx, n, v, pipelineLevel)
	}
	p.d.errorf(n.pos, "%s: a value must be a string, a number, a boolean or a mapping with `value`, got %s", ctx, describe(n))
	return false
}

func (p *parser) variableMapping(ctx string, n *node, v *Variable, pipelineLevel bool) bool {
	ok := true
	var value *node
	for _, kv := range n.pairs {
		k := kv.key.value
		switch {
		case k == "value":
			value = kv.value
			if kv.value.isNull() {
				continue
			}
			s, valid := p.scalar(ctx, "value", kv.value)
			v.Value, ok = s, ok && valid
		case k == "expand":
			if kv.value.tag != "!!bool" {
				p.d.errorf(kv.value.pos, "%s: expand must be true or false, got %s", ctx, describe(kv.value))
				ok = false
				continue
			}
			v.Raw = strings.EqualFold(kv.value.value, "false")
		case (k == "description" || k == "options") && !pipelineLevel:
			p.d.errorf(kv.key.pos, "%s: `%s` is only allowed on pipeline-level variables", ctx, k)
			ok = false
		case k == "description":
			v.Description, _ = p.scalar(ctx, "description", kv.value)
		case k == "options":
			opts, _ := p.stringList(ctx, "options", kv.value, false)
			v.Options = texts(opts)
		default:
			want := "value and expand"
			if pipelineLevel {
				want = "value, description, expand and options"
			}
			p.d.errorf(kv.key.pos, "%s: unknown key `%s`; a variable takes %s", ctx, k, want)
			ok = false
		}
	}
	if len(v.Options) > 0 && !slices.Contains(v.Options, v.Value) {
		pos := n.pos
		if value != nil {
			pos = value.pos
		}
		p.d.errorf(pos, "%s: value %q must be one of its options", ctx, v.Value)
		ok = false
	}
	return ok
}

// boolean reads true or false. YAML 1.1 spellings (yes, no, on, off),
// which GitLab's loader reads as booleans, are accepted too.
func (p *parser) boolean(ctx, what string, n *node) (bool, bool) {
	if n.kind == scalarNode && (n.tag == "!!bool" || n.tag == "!!str") {
		switch strings.ToLower(n.value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	p.d.errorf(n.pos, "%s%s must be true or false, got %s", prefix(ctx), what, describe(n))
	return false, false
}

// oneOf reads a string that must be one of allowed.
func (p *parser) oneOf(ctx, what string, n *node, allowed ...string) (string, bool) {
	s, ok := p.scalar(ctx, what, n)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		p.d.errorf(n.pos, "%s%s must be one of %s, got %q", prefix(ctx), what, strings.Join(allowed, ", "), s)
		return "", false
	}
	return s, true
}

// integer reads a whole number from lo to hi.
func (p *parser) integer(ctx, what string, n *node, lo, hi int) (int, bool) {
	if n.kind == scalarNode && !n.isNull() {
		if v, err := strconv.Atoi(n.value); err == nil && v >= lo && v <= hi {
			return v, true
		}
	}
	p.d.errorf(n.pos, "%s%s must be a whole number from %d to %d, got %s", prefix(ctx), what, lo, hi, shown(n))
	return 0, false
}

// shown is a node as quoted in messages: a scalar's text, or its type.
func shown(n *node) string {
	if n.kind == scalarNode && !n.isNull() {
		return strconv.Quote(n.value)
	}
	return describe(n)
}

// exitCodes reads an exit code or a list of them.
func (p *parser) exitCodes(ctx, what string, n *node) ([]int, bool) {
	codes, ok := p.stringList(ctx, what, n, true)
	if !ok {
		return nil, false
	}
	out := make([]int, 0, len(codes))
	for _, c := range codes {
		code, err := strconv.Atoi(c.value)
		if err != nil || code < 0 || code > 255 {
			p.d.errorf(c.pos, "%s%s entries must be exit codes (0 to 255), got %q", prefix(ctx), what, c.value)
			return nil, false
		}
		out = append(out, code)
	}
	return out, true
}

// durationValue reads a GitLab duration ("1h 30m", "2 days", "3600") of at
// most limit; with never, "never" is accepted and reported as such.
func (p *parser) durationValue(ctx, what string, n *node, limit time.Duration, never bool) (d time.Duration, isNever, ok bool) {
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
		p.d.errorf(n.pos, "%s%s: %v", prefix(ctx), what, err)
		return 0, false, false
	case d <= 0:
		p.d.errorf(n.pos, "%s%s must be longer than zero, got %q", prefix(ctx), what, s)
		return 0, false, false
	case limit > 0 && d > limit:
		p.d.errorf(n.pos, "%s%s must be at most %s, got %q", prefix(ctx), what, limitText(limit), s)
		return 0, false, false
	}
	return d, false, true
}

// items returns the entries of a list with nested lists (from anchors or
// `!reference`) spliced in, or records an error when n is not a list.
func (p *parser) items(ctx, what string, n *node, want string) ([]*node, bool) {
	if n.kind != seqNode {
		p.d.errorf(n.pos, "%s%s must be %s, got %s", prefix(ctx), what, want, describe(n))
		return nil, false
	}
	return flatten(n), true
}
