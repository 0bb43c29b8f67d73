package pipeline

import (
	"github.com/gantry-ci/gantry/pkg/expr/gitlab"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// expression is a parsed CI/CD variable expression (`rules:if`,
// `only:variables`).
type expression struct {
	src string
	x   *gitlab.Expr
}

// expression parses the expression n holds, recording a syntax error at
// its position.
func (p *parser) expression(ctx, what string, n *yamlpos.Node) (expression, bool) {
	s, ok := p.scalar(ctx, what, n)
	if !ok {
		return expression{}, false
	}
	// Templates repeat the same expressions across many jobs; a parsed
	// expression is immutable, so one parse serves them all.
	x, ok := p.exprs[s]
	if !ok {
		var err error
		if x, err = gitlab.Parse(s); err != nil {
			p.d.Errorf(n.Pos, "%s%s: invalid expression %q: %v", prefix(ctx), what, s, err)
			return expression{}, false
		}
		if p.exprs == nil {
			p.exprs = map[string]*gitlab.Expr{}
		}
		p.exprs[s] = x
	}
	return expression{src: s, x: x}, true
}

// compiled returns the parsed expression, parsing src when the value was
// built by hand rather than by Parse. A zero expression is nil.
func (e expression) compiled() (*gitlab.Expr, error) {
	if e.x != nil || e.src == "" {
		return e.x, nil
	}
	return gitlab.Parse(e.src)
}

// condition returns the rule's parsed `if:`, nil when it has none.
func (r *Rule) condition() (*gitlab.Expr, error) {
	if r.ifx.x != nil {
		return r.ifx.x, nil
	}
	return expression{src: r.If}.compiled()
}

// expandVariables expands $VAR and ${VAR} in s as GitLab does.
func expandVariables(s string, lookup func(string) (string, bool)) string {
	return gitlab.ExpandVariables(s, lookup)
}
