package ghworkflow

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// ctxSet is a set of expression contexts: the ones GitHub makes available
// under a key (its "context availability" table).
type ctxSet uint16

const (
	cGithub ctxSet = 1 << iota
	cEnv
	cVars
	cJob
	cJobs
	cMatrix
	cNeeds
	cRunner
	cSecrets
	cSteps
	cStrategy
	cInputs
)

var ctxNames = []struct {
	set  ctxSet
	name string
}{
	{cEnv, "env"}, {cGithub, "github"}, {cInputs, "inputs"}, {cJob, "job"}, {cJobs, "jobs"},
	{cMatrix, "matrix"}, {cNeeds, "needs"}, {cRunner, "runner"}, {cSecrets, "secrets"},
	{cSteps, "steps"}, {cStrategy, "strategy"}, {cVars, "vars"},
}

func ctxOf(name string) ctxSet {
	for _, c := range ctxNames {
		if c.name == name {
			return c.set
		}
	}
	return 0
}

func (s ctxSet) String() string {
	var names []string
	for _, c := range ctxNames {
		if s&c.set != 0 {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ", ")
}

// The contexts of each place, from GitHub's context availability table.
const (
	availRunName     = cGithub | cInputs | cVars
	availWorkflowEnv = cGithub | cSecrets | cInputs | cVars
	availJobIf       = cGithub | cNeeds | cVars | cInputs
	availStrategy    = cGithub | cNeeds | cVars | cInputs
	availJobField    = cGithub | cNeeds | cStrategy | cMatrix | cVars | cInputs
	availJobEnv      = availJobField | cSecrets
	availDefaults    = availJobField | cEnv
	availContEnv     = availJobField | cJob | cRunner | cEnv | cSecrets
	availEnvURL      = availJobField | cJob | cRunner | cEnv | cSteps
	availStepIf      = availJobField | cJob | cRunner | cEnv | cSteps
	availStep        = availStepIf | cSecrets
)

// tmpl is a workflow string that may hold ${{ }} expressions, parsed once.
type tmpl struct {
	n *yamlpos.Node
	// parts are the literal text and expressions in order; nil when the
	// string holds no expression.
	parts []tpart
}

type tpart struct {
	lit string
	x   *actions.Expr // nil for literal text
	// text is the expression without ${{ }}; off is where its ${{ starts
	// in the string.
	text string
	off  int
	refs []string
}

// constant reports whether t holds no expression.
func (t *tmpl) constant() bool { return t.parts == nil }

// whole returns the expression when t is exactly one ${{ }} (which then
// gives the field its value's kind: a number, a list...).
func (t *tmpl) whole() *tpart {
	if len(t.parts) == 1 && t.parts[0].x != nil {
		return &t.parts[0]
	}
	return nil
}

// refs lists the context paths t reads.
func (t *tmpl) refs() []string {
	var out []string
	for _, p := range t.parts {
		out = append(out, p.refs...)
	}
	return out
}

// template parses scalar n, at path, as a string that may hold ${{ }}
// expressions using the contexts of avail. Problems are recorded; the
// result is nil when n is not a scalar.
func (p *parser) template(path string, n *yamlpos.Node, avail ctxSet) *tmpl {
	if n == nil {
		return nil
	}
	if n.Kind != yamlpos.Scalar {
		p.d.Errorf(n.Pos, "%s must be a string, got %s", path, yamlpos.Describe(n))
		return nil
	}
	t := &tmpl{n: n}
	s := n.Value
	if !strings.Contains(s, "${{") {
		return t
	}
	if len(s) > actions.MaxTemplateLength {
		p.d.Errorf(n.Pos, "%s is %d bytes long, more than the %d an expression string may have", path, len(s), actions.MaxTemplateLength)
		return nil
	}
	t.parts = []tpart{}
	for i := 0; i < len(s); {
		start := strings.Index(s[i:], "${{")
		if start < 0 {
			t.parts = append(t.parts, tpart{lit: s[i:]})
			break
		}
		start += i
		if start > i {
			t.parts = append(t.parts, tpart{lit: s[i:start]})
		}
		end := closingBraces(s, start+3)
		if end < 0 {
			p.d.Errorf(p.src.posIn(n, start), "%s: the expression is not closed: found '${{' without a matching '}}'", path)
			return nil
		}
		text := strings.TrimSpace(s[start+3 : end-1])
		if text == "" {
			p.d.Errorf(p.src.posIn(n, start), "%s: expected an expression between '${{' and '}}'", path)
			return nil
		}
		x, err := actions.Parse(text)
		if err != nil {
			p.exprError(path, n, start, text, err)
			return nil
		}
		part := tpart{x: x, text: text, off: start, refs: actions.References(x)}
		if !p.checkContexts(path, n, start, text, part.refs, avail) {
			return nil
		}
		t.parts = append(t.parts, part)
		i = end + 1
	}
	return t
}

// closingBraces returns the offset of the second brace of the first "}}"
// at or after i that is not inside a string literal, or -1.
func closingBraces(s string, i int) int {
	inString := false
	for ; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inString = !inString
		case !inString && s[i] == '}' && s[i-1] == '}':
			return i
		}
	}
	return -1
}

// exprError records a syntax error of the expression whose ${{ is at off.
func (p *parser) exprError(path string, n *yamlpos.Node, off int, text string, err error) {
	// The error's own column counts from the start of the expression.
	p.d.Errorf(p.src.posIn(n, off), "%s: invalid expression `%s`: %v", path, text, err)
}

// checkContexts reports the contexts an expression reads that GitHub does
// not make available at this place, and the ones Gantry cannot provide.
func (p *parser) checkContexts(path string, n *yamlpos.Node, off int, text string, refs []string, avail ctxSet) bool {
	ok := true
	for _, r := range refs {
		if lr := strings.ToLower(r); lr == "secrets.github_token" || lr == "github.token" {
			p.d.Warnf(p.src.posIn(n, off), "%s: `%s`: GITHUB_TOKEN is not available: Gantry issues no token for the GitHub API, so %s is empty unless the run is given a secret named GITHUB_TOKEN", path, text, r)
		}
		name, rest, _ := strings.Cut(r, ".")
		name, _, _ = strings.Cut(name, "[")
		c := ctxOf(name)
		switch {
		case c == 0:
			continue
		case avail&c == 0:
			msg := fmt.Sprintf("%s: `%s` reads the %s context, which GitHub does not provide here (available: %s)", path, text, name, avail)
			if c == cMatrix && avail == availJobIf {
				msg += "; GitHub evaluates a job's if: before expanding its matrix: test matrix values in the steps' if: instead"
			}
			p.d.Errorf(p.src.posIn(n, off), "%s", msg)
			ok = false
		case c == cNeeds && strings.Contains(rest, ".outputs") || c == cNeeds && strings.HasSuffix(rest, "outputs"):
			p.d.Errorf(p.src.posIn(n, off), "%s: `%s` reads needs.*.outputs, which is not supported: Gantry does not pass job outputs between jobs yet; share values through artifacts (actions/upload-artifact and actions/download-artifact)", path, text)
			ok = false
		case c == cJobs:
			p.d.Errorf(p.src.posIn(n, off), "%s: `%s` reads the jobs context, which only reusable workflows have; Gantry does not run reusable workflows", path, text)
			ok = false
		}
	}
	return ok
}

// condition is a parsed if: key.
type condition struct {
	n    *yamlpos.Node
	x    *actions.Expr
	refs []string
}

// condition parses an if: value using the contexts of avail.
func (p *parser) condition(path string, n *yamlpos.Node, avail ctxSet) *condition {
	if n == nil {
		return nil
	}
	if n.Kind != yamlpos.Scalar {
		p.d.Errorf(n.Pos, "%s must be an expression, got %s", path, yamlpos.Describe(n))
		return nil
	}
	src := n.Value
	if n.Tag == "!!bool" || n.Tag == "!!int" || n.Tag == "!!float" {
		src = scalarText(n)
	}
	x, err := actions.ParseIf(src)
	if err != nil {
		p.d.Errorf(n.Pos, "%s: invalid expression `%s`: %v", path, strings.TrimSpace(n.Value), err)
		return nil
	}
	refs := actions.References(x)
	if !p.checkContexts(path, n, 0, strings.TrimSpace(n.Value), refs, avail) {
		return nil
	}
	return &condition{n: n, x: x, refs: refs}
}

// scalarText is a scalar as GitHub reads it as text: numbers are parsed
// and printed back (1.20 is "1.2", as in GitHub), null is "".
func scalarText(n *yamlpos.Node) string {
	switch n.Tag {
	case "!!null":
		return ""
	case "!!int", "!!float":
		if f, ok := parseYAMLNumber(n); ok {
			return formatNumber(f)
		}
	}
	return n.Value
}

// parseYAMLNumber reads a YAML 1.2 number.
func parseYAMLNumber(n *yamlpos.Node) (float64, bool) {
	v := strings.ReplaceAll(n.Value, "_", "")
	if n.Tag == "!!int" {
		if i, err := strconv.ParseInt(v, 0, 64); err == nil {
			return float64(i), true
		}
		if u, err := strconv.ParseUint(v, 0, 64); err == nil {
			return float64(u), true
		}
	}
	switch strings.ToLower(strings.TrimLeft(v, "+-")) {
	case ".inf":
		if strings.HasPrefix(v, "-") {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case ".nan":
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

var numberExpr = mustParseExpr("matrix.n")

func mustParseExpr(s string) *actions.Expr {
	x, err := actions.Parse(s)
	if err != nil {
		panic(err)
	}
	return x
}

// formatNumber prints a number as GitHub does (at most 15 significant
// digits), through the expression package so that both always agree.
func formatNumber(f float64) string {
	v, err := numberExpr.Eval(&actions.Context{Contexts: map[string]any{"matrix": map[string]any{"n": f}}})
	if err != nil {
		return strconv.FormatFloat(f, 'g', 15, 64)
	}
	return v.String()
}

// nodeValue converts YAML to the plain Go data an expression context
// holds: nil, bool, float64, string, []any and map[string]any.
func nodeValue(n *yamlpos.Node) any {
	switch n.Kind {
	case yamlpos.Sequence:
		out := make([]any, len(n.Items))
		for i, c := range n.Items {
			out[i] = nodeValue(c)
		}
		return out
	case yamlpos.Mapping:
		out := make(map[string]any, len(n.Pairs))
		for _, p := range n.Pairs {
			out[p.Key.Value] = nodeValue(p.Value)
		}
		return out
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
	case "!!int", "!!float":
		if f, ok := parseYAMLNumber(n); ok {
			return f
		}
	}
	return n.Value
}

// barePath matches an expression that is only a context path, such as
// secrets.NPM_TOKEN or steps.build.outputs['image-tag'].
var barePath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_-]*|\s*\[\s*'[^']*'\s*\])*$`)
