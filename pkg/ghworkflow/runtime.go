package ghworkflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// rtKind is a value Gantry knows only while the job runs.
type rtKind uint8

const (
	rtSecret     rtKind = iota + 1 // secrets.NAME: $NAME of the job
	rtOutput                       // steps.<id>.outputs.<name>
	rtOutcome                      // steps.<id>.outcome
	rtConclusion                   // steps.<id>.conclusion
	rtStatus                       // job.status
	rtEnv                          // env.NAME whose value is itself known only at run time
	rtWorkspace                    // github.workspace
	rtTemp                         // runner.temp
	rtToolCache                    // runner.tool_cache
)

type rtRef struct {
	kind rtKind
	name string
	step int
}

// runtimeRefs classifies the context paths read at one place of a job's
// steps.
type runtimeRefs struct {
	b *builder
	// before is the index of the step the place belongs to: only earlier
	// steps are visible (-1 for job-level places).
	before int
	// envRT holds the env names whose values are known only at run time.
	envRT map[string]bool
}

// classify returns the run-time value a context path stands for (runtime
// true), nil and false for a path known before the run (possibly null),
// or an error for a path Gantry cannot provide.
func (rt *runtimeRefs) classify(r string) (*rtRef, bool, error) {
	segs := strings.Split(r, ".")
	lower := func(i int) string {
		if i < len(segs) {
			return strings.ToLower(segs[i])
		}
		return ""
	}
	switch segs[0] {
	case "secrets":
		if len(segs) != 2 || segs[1] == "*" || strings.Contains(segs[1], "[") {
			return nil, false, fmt.Errorf("only secrets.NAME is supported: Gantry reads each secret from the job's environment")
		}
		name := strings.ToUpper(segs[1])
		if !validEnvName(name) {
			return nil, false, fmt.Errorf("%q is not a valid secret name", segs[1])
		}
		if s := rt.b.pl.secrets; s != nil && !s[name] {
			return nil, false, nil // an undefined secret is empty
		}
		return &rtRef{kind: rtSecret, name: name}, true, nil
	case "steps":
		if len(segs) < 2 || segs[1] == "*" || strings.Contains(segs[0]+segs[1], "[") {
			return nil, false, fmt.Errorf("reading every step (steps.*) is not supported; read steps.<id>.outputs.<name>, steps.<id>.outcome or steps.<id>.conclusion")
		}
		st := rt.step(segs[1])
		if st == nil {
			return nil, false, nil // not an earlier step: null, as in GitHub
		}
		switch lower(2) {
		case "":
			return nil, false, fmt.Errorf("reading a whole step is not supported; read steps.%s.outputs.<name>, .outcome or .conclusion", segs[1])
		case "outputs":
			if st.noop {
				return nil, false, nil
			}
			if len(segs) != 4 || segs[3] == "*" {
				return nil, false, fmt.Errorf("read one output at a time: steps.%s.outputs.<name>", segs[1])
			}
			return &rtRef{kind: rtOutput, name: strings.ToLower(segs[3]), step: st.s.index}, true, nil
		case "outcome":
			return &rtRef{kind: rtOutcome, step: st.s.index}, true, nil
		case "conclusion":
			return &rtRef{kind: rtConclusion, step: st.s.index}, true, nil
		}
		return nil, false, nil
	case "job":
		if lower(1) == "status" {
			return &rtRef{kind: rtStatus}, true, nil
		}
	case "github":
		if lower(1) == "workspace" {
			return &rtRef{kind: rtWorkspace}, true, nil
		}
	case "runner":
		switch lower(1) {
		case "temp":
			return &rtRef{kind: rtTemp}, true, nil
		case "tool_cache":
			return &rtRef{kind: rtToolCache}, true, nil
		}
	case "env":
		if len(segs) >= 2 {
			if name, ok := rt.envName(segs[1]); ok {
				return &rtRef{kind: rtEnv, name: name}, true, nil
			}
		}
	case "needs":
		needs, _ := rt.b.ctx.Contexts["needs"].(map[string]any)
		if len(segs) >= 2 && segs[1] != "*" {
			if _, known := needs[segs[1]]; !known && rt.b.pl.w.byID[strings.ToLower(segs[1])] != nil {
				return nil, false, fmt.Errorf("the result of %s is not supported here: Gantry does not tell a job how the jobs it needs ended, and this one may run after one of them failed (its if: uses a status function)", segs[1])
			}
		} else if rt.b.when != "on_success" {
			return nil, false, fmt.Errorf("the needed jobs' results are not supported here: Gantry does not tell a job how the jobs it needs ended, and this one may run after one of them failed (its if: uses a status function)")
		}
	}
	return nil, false, nil
}

func (rt *runtimeRefs) envName(name string) (string, bool) {
	if rt.envRT[name] {
		return name, true
	}
	for k := range rt.envRT {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

// step returns the earlier step with the id, or nil.
func (rt *runtimeRefs) step(id string) *stepState {
	for i := range rt.b.steps {
		st := &rt.b.steps[i]
		if st.s.index < rt.before && strings.EqualFold(st.s.id, id) {
			return st
		}
	}
	return nil
}

// piece is a piece of a string: literal text, or a value read when the
// step runs.
type piece struct {
	lit  string
	ref  *rtRef
	text string // the expression, for ref
}

// pieces evaluates t into literal text and references to values known
// only while the job runs. Such a reference must be the whole expression
// (${{ secrets.TOKEN }}, ${{ steps.build.outputs.tag }}): Gantry puts
// the value in place when the step runs and cannot compute with it.
func (pl *planner) pieces(path string, t *tmpl, sc *scope) ([]piece, bool) {
	return pl.piecesReport(path, t, sc, true)
}

// piecesQuiet is pieces without reporting problems.
func (pl *planner) piecesQuiet(t *tmpl, sc *scope) ([]piece, bool) {
	return pl.piecesReport("", t, sc, false)
}

func (pl *planner) piecesReport(path string, t *tmpl, sc *scope, report bool) ([]piece, bool) {
	if t.constant() {
		return []piece{{lit: scalarText(t.n)}}, true
	}
	var out []piece
	// Literal text is gathered in a builder: appending to a string
	// piece by piece would copy it over and over.
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, piece{lit: text.String()})
			text.Reset()
		}
	}
	lit := func(s string) { text.WriteString(s) }
	for i := range t.parts {
		part := &t.parts[i]
		if part.x == nil {
			lit(part.lit)
			continue
		}
		// The position is computed only for an error: it costs a scan of
		// the string.
		pos := func() pipeline.Pos { return pl.w.src.posIn(t.n, part.off) }
		var runtime []*rtRef
		var culprit string
		for _, r := range part.refs {
			ref, isRT, err := sc.rt.classify(r)
			if err != nil {
				if report {
					pl.d.Errorf(pos(), "%s: `%s`: %v", path, part.text, err)
				}
				return nil, false
			}
			if isRT {
				runtime, culprit = append(runtime, ref), r
			}
		}
		if len(runtime) == 0 {
			v, err := part.x.Eval(sc.ctx)
			if err != nil {
				if report {
					pl.d.Errorf(pos(), "%s: `%s`: %v", path, part.text, unwrapEval(err))
				}
				return nil, false
			}
			if t.whole() != nil && (v.Kind() == actions.KindArray || v.Kind() == actions.KindObject) {
				if report {
					pl.d.Errorf(pos(), "%s: `%s` gives %s where text is expected; use toJSON() to turn it into text", path, part.text, strings.ToLower(v.Kind().String()))
				}
				return nil, false
			}
			lit(v.String())
			continue
		}
		if len(runtime) > 1 || !barePath.MatchString(part.text) {
			if report {
				pl.d.Errorf(pos(), "%s: `%s` computes with %s, which Gantry knows only while the job runs: such a value must be the whole expression, as in ${{ %s }}; move the rest into the script", path, part.text, culprit, culprit)
			}
			return nil, false
		}
		flush()
		out = append(out, piece{ref: runtime[0], text: part.text})
	}
	flush()
	if report {
		n := 0
		for _, p := range out {
			n += len(p.lit)
		}
		if pl.budget -= n; pl.budget < 0 {
			pl.d.Errorf(t.n.Pos, "%s: the plan is too big: its expressions give more than %d MiB of text", path, maxScriptBudget>>20)
			return nil, false
		}
	}
	return out, true
}

// literal returns the text of pieces known before the run.
func literal(ps []piece) (string, bool) {
	var b strings.Builder
	for _, p := range ps {
		if p.ref != nil {
			return "", false
		}
		b.WriteString(p.lit)
	}
	return b.String(), true
}

// shellValue renders a run-time reference as a shell expression for use
// inside double quotes; pre receives commands that must run first.
func (b *builder) shellValue(r *rtRef, pre *[]string, n *int) string {
	switch r.kind {
	case rtSecret:
		if !slices.Contains(b.secretsRead, r.name) {
			b.secretsRead = append(b.secretsRead, r.name)
		}
		return "${gh_secret_" + r.name + "-}"
	case rtOutput:
		*n++
		v := fmt.Sprintf("gh_v%d", *n)
		*pre = append(*pre, fmt.Sprintf("%s=$(gh_out %d %s; printf x); %s=${%s%%x}", v, r.step, sq(r.name), v, v))
		return "$" + v
	case rtOutcome:
		return fmt.Sprintf("${gh_o_%d-}", r.step)
	case rtConclusion:
		return fmt.Sprintf("${gh_c_%d-}", r.step)
	case rtStatus:
		return "$gh_status"
	case rtEnv:
		return "${" + r.name + "-}"
	case rtWorkspace:
		return "$GITHUB_WORKSPACE"
	case rtTemp:
		return "$RUNNER_TEMP"
	case rtToolCache:
		return "${RUNNER_TOOL_CACHE-}"
	}
	return ""
}

// word renders pieces as one shell word; pre receives commands that must
// run first.
func (b *builder) word(ps []piece, pre *[]string, n *int) string {
	var w strings.Builder
	for _, p := range ps {
		if p.ref == nil {
			if p.lit != "" {
				w.WriteString(sq(p.lit))
			}
			continue
		}
		w.WriteString(`"` + b.shellValue(p.ref, pre, n) + `"`)
	}
	if w.Len() == 0 {
		return "''"
	}
	return w.String()
}
