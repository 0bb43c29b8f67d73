package ghworkflow

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
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
		if rt.b.when != "on_success" {
			return nil, false, fmt.Errorf("the needed jobs' results are known only while the run goes on, and this job may run after a failure (its if: uses a status function)")
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
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].ref == nil {
			out[n-1].lit += s
			return
		}
		out = append(out, piece{lit: s})
	}
	for i := range t.parts {
		part := &t.parts[i]
		if part.x == nil {
			lit(part.lit)
			continue
		}
		pos := pl.w.src.posIn(t.n, part.off)
		var runtime []*rtRef
		var culprit string
		for _, r := range part.refs {
			ref, isRT, err := sc.rt.classify(r)
			if err != nil {
				if report {
					pl.d.errorf(pos, "%s: `%s`: %v", path, part.text, err)
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
					pl.d.errorf(pos, "%s: `%s`: %v", path, part.text, unwrapEval(err))
				}
				return nil, false
			}
			if t.whole() != nil && (v.Kind() == actions.KindArray || v.Kind() == actions.KindObject) {
				if report {
					pl.d.errorf(pos, "%s: `%s` gives %s where text is expected; use toJSON() to turn it into text", path, part.text, strings.ToLower(v.Kind().String()))
				}
				return nil, false
			}
			lit(v.String())
			continue
		}
		if len(runtime) > 1 || !barePath.MatchString(part.text) {
			if report {
				pl.d.errorf(pos, "%s: `%s` computes with %s, which Gantry knows only while the job runs: such a value must be the whole expression, as in ${{ %s }}; move the rest into the script", path, part.text, culprit, culprit)
			}
			return nil, false
		}
		out = append(out, piece{ref: runtime[0], text: part.text})
	}
	if report {
		n := 0
		for _, p := range out {
			n += len(p.lit)
		}
		if pl.budget -= n; pl.budget < 0 {
			pl.d.errorf(t.n.pos, "%s: the plan is too big: its expressions give more than %d MiB of text", path, maxScriptBudget>>20)
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

// envValue is an env entry evaluated for a job.
type envValue struct {
	key    string
	pieces []piece
}

// exports renders env entries as export commands.
func (b *builder) exports(vars []envValue, n *int) string {
	var out strings.Builder
	for _, v := range vars {
		if !validEnvName(v.key) {
			continue
		}
		var pre []string
		w := b.word(v.pieces, &pre, n)
		for _, p := range pre {
			out.WriteString(p + "\n")
		}
		fmt.Fprintf(&out, "export %s=%s\n", v.key, w)
	}
	return out.String()
}

// evalEnv evaluates env entries at a place, adding their values to env
// and the names of those known only at run time to envRT.
func (b *builder) evalEnv(path string, vars []envVar, sc *scope, env map[string]any, envRT map[string]bool) []envValue {
	var out []envValue
	for _, e := range vars {
		ps, ok := b.pl.pieces(path+"."+e.key, e.value, sc)
		if !ok {
			b.ok = false
			continue
		}
		out = append(out, envValue{key: e.key, pieces: ps})
		if s, known := literal(ps); known {
			env[e.key] = s
			delete(envRT, e.key)
		} else {
			delete(env, e.key)
			envRT[e.key] = true
		}
	}
	return out
}

// script compiles the job's steps into the commands of its script.
func (b *builder) script() {
	pl, j := b.pl, b.j
	b.env, b.envRT = map[string]any{}, map[string]bool{}
	n := 0

	// The job's environment, lowest precedence first: the container's
	// env, the workflow's, the job's.
	wsc := &scope{ctx: pl.baseContext(), rt: &runtimeRefs{b: b, before: -1, envRT: map[string]bool{}}}
	wfEnv := b.evalEnv("env", pl.w.env, wsc, b.env, b.envRT)
	jsc := &scope{ctx: cloneContext(b.ctx), rt: &runtimeRefs{b: b, before: -1, envRT: map[string]bool{}}}
	jobEnv := b.evalEnv(j.path+".env", j.env, jsc, b.env, b.envRT)
	csc := &scope{ctx: cloneContext(b.ctx), rt: &runtimeRefs{b: b, before: -1, envRT: b.envRT}}
	csc.ctx.Contexts["env"] = b.envContextFor(nil)
	contEnv := b.evalEnv(j.path+".container.env", j.contEnv, csc, map[string]any{}, map[string]bool{})
	var envCmd strings.Builder
	envCmd.WriteString(b.exports(contEnv, &n))
	envCmd.WriteString(b.exports(wfEnv, &n))
	envCmd.WriteString(b.exports(jobEnv, &n))

	// Defaults: the job's over the workflow's.
	shellNode := j.defaults.shell
	if shellNode == nil {
		shellNode = pl.w.defaults.shell
	}
	var defaultWD *string
	if t := j.defaults.workingDir; t != nil {
		dsc := &scope{ctx: cloneContext(b.ctx)}
		dsc.ctx.Contexts["env"] = b.envContextFor(nil)
		if s, ok := pl.text(j.path+".defaults.run.working-directory", t, dsc); ok {
			defaultWD = &s
		}
	} else if t := pl.w.defaults.workingDir; t != nil {
		s := scalarText(t.n)
		defaultWD = &s
	}

	var steps []string
	for _, s := range j.steps {
		cmd, ok := b.step(s, shellNode, defaultWD, &n)
		if !ok {
			b.ok = false
			continue
		}
		steps = append(steps, cmd)
	}
	if !b.ok {
		return
	}

	var prelude strings.Builder
	fmt.Fprintf(&prelude, "# GitHub Actions job %s (%s), run by Gantry: each step below runs in its own shell, as on a GitHub runner\n", quoteLabel(b.display), j.path)
	prelude.WriteString(scriptLibrary + "\n")
	heredoc(&prelude, `cat > "$GITHUB_EVENT_PATH"`, b.eventJSON()+"\n", "GH_EVENT")
	// Secrets are read from the job's variables once, before the env
	// (which may reuse their names) is exported; the known ones are then
	// removed from the environment, as GitHub gives a step only the
	// secrets its workflow maps into env.
	for _, name := range b.secretsRead {
		fmt.Fprintf(&prelude, "gh_secret_%s=${%s-}\n", name, name)
	}
	if pl.secrets != nil {
		names := make([]string, 0, len(pl.secrets))
		for s := range pl.secrets {
			if validEnvName(s) {
				names = append(names, s)
			}
		}
		slices.Sort(names)
		for _, s := range names {
			fmt.Fprintf(&prelude, "unset %s\n", s)
		}
	}
	prelude.WriteString(envCmd.String())
	b.cmds = append(b.cmds, strings.TrimSuffix(prelude.String(), "\n"))
	b.cmds = append(b.cmds, steps...)
	b.cmds = append(b.cmds, "# end of the job: it fails when a step failed without continue-on-error\n"+
		"if [ \"$gh_status\" = success ]; then exit 0; fi\n"+
		"echo \"gantry: the job failed\" >&2\n"+
		"exit 1")
}

// step compiles one step into a command of the script.
func (b *builder) step(s *step, defaultShell *node, defaultWD *string, n *int) (string, bool) {
	pl := b.pl
	st := stepState{s: s, noop: s.act != nil}

	// The step's contexts: env with the step's own env on top, the
	// earlier steps, and the values known only at run time.
	rt := &runtimeRefs{b: b, before: s.index, envRT: maps.Clone(b.envRT)}
	ctx := cloneContext(b.ctx)
	ctx.Contexts["env"] = b.envContextFor(nil)
	ctx.Contexts["steps"] = b.stepsContext(s.index)
	ctx.Contexts["job"] = b.jobCtx
	sc := &scope{ctx: ctx, rt: rt}
	stepEnv := map[string]any{}
	envs := b.evalEnv(s.path+".env", s.env, sc, stepEnv, rt.envRT)
	ctx.Contexts["env"] = b.envContextFor(stepEnv)
	for k := range stepEnv {
		delete(rt.envRT, k)
	}

	if s.continueOnError != nil {
		if v, ok := pl.boolean(s.path+".continue-on-error", s.continueOnError, sc); ok {
			st.coe = v
		}
	}
	timeout := 0
	if s.timeout != nil {
		if m, ok := pl.number(s.path+".timeout-minutes", s.timeout, sc); ok {
			if m <= 0 {
				pl.d.errorf(s.timeout.n.pos, "%s.timeout-minutes must be more than 0", s.path)
			}
			timeout = int(math.Ceil(m * 60))
		}
	}
	cond, ok := b.stepCondition(s, sc, rt, st.coe)
	b.steps = append(b.steps, st)
	if !ok {
		return "", false
	}

	var body strings.Builder
	ok = true
	switch {
	case s.run != nil:
		ok = b.runStep(&body, s, sc, envs, defaultShell, defaultWD, timeout, n)
	case s.act.kind == actCheckout:
		ok = b.checkout(s, sc)
		fmt.Fprintf(&body, "echo %s\n", sq("gantry: "+s.act.uses+": the source is already in the workspace"))
	case s.act.kind == actCache:
		fmt.Fprintf(&body, "echo %s\n", sq("gantry: "+s.act.uses+": skipped, Gantry has no cache service"))
	case s.act.kind == actUpload:
		ok = b.upload(&body, s, sc)
	case s.act.kind == actDownload:
		ok = b.download(&body, s, sc)
	}
	if !ok {
		return "", false
	}

	var c strings.Builder
	fmt.Fprintf(&c, "# step %d: %s\n", s.index, quoteLabel(b.stepDisplay(s, sc)))
	if cond.never {
		fmt.Fprintf(&c, "gh_skip %d", s.index)
		return c.String(), true
	}
	inner := fmt.Sprintf("gh_start %d\n%s\ngh_end %d $? %s", s.index, strings.TrimSuffix(body.String(), "\n"), s.index, fmtBool(st.coe))
	if cond.always {
		c.WriteString(inner)
		return c.String(), true
	}
	if cond.key == `"$gh_status"` && len(cond.cases) == 1 {
		fmt.Fprintf(&c, "if [ \"$gh_status\" = %s ]; then\n%s\nelse gh_skip %d; fi", cond.cases[0], inner, s.index)
		return c.String(), true
	}
	fmt.Fprintf(&c, "case %s in\n%s) gh_run=1 ;;\n*) gh_run= ;;\nesac\n", cond.key, strings.Join(cond.cases, "|"))
	fmt.Fprintf(&c, "if [ -n \"$gh_run\" ]; then\n%s\nelse gh_skip %d; fi", inner, s.index)
	return c.String(), true
}

// stepsContext is the steps context known before the run: the earlier
// steps Gantry does itself, which have no outputs.
func (b *builder) stepsContext(before int) map[string]any {
	out := map[string]any{}
	for _, st := range b.steps {
		if st.s.index < before && st.s.id != "" && st.noop {
			out[st.s.id] = map[string]any{"outputs": map[string]any{}}
		}
	}
	return out
}

// stepCond is when a step runs: always, never, or when the key (made of
// the job status and earlier steps' outcomes) is one of cases.
type stepCond struct {
	always, never bool
	key           string
	cases         []string
}

// stepOutcomes are the outcomes a step can have in a Gantry job: a
// canceled job's container is stopped, so no step sees "cancelled".
var stepOutcomes = []string{"success", "failure", "skipped"}

const maxCondSteps = 4

// stepCondition evaluates a step's if: for every job status and every
// outcome of the earlier steps it reads, so that the script decides with
// a case statement.
func (b *builder) stepCondition(s *step, sc *scope, rt *runtimeRefs, coe bool) (stepCond, bool) {
	pl := b.pl
	if s.cond == nil {
		return stepCond{key: `"$gh_status"`, cases: []string{"success"}}, true
	}
	path := s.path + ".if"
	text := strings.TrimSpace(s.cond.n.value)
	var vars []int // step indexes whose outcome the condition reads
	for _, r := range s.cond.refs {
		ref, isRT, err := rt.classify(r)
		if err != nil {
			pl.d.errorf(s.cond.n.pos, "%s: `%s`: %v", path, text, err)
			return stepCond{}, false
		}
		if !isRT {
			continue
		}
		switch ref.kind {
		case rtStatus:
		case rtOutcome, rtConclusion:
			if !slices.Contains(vars, ref.step) {
				vars = append(vars, ref.step)
			}
		default:
			pl.d.errorf(s.cond.n.pos, "%s: `%s` reads %s, which Gantry knows only while the job runs; a step's if: may test the job's status (success(), failure(), always(), job.status) and earlier steps' outcome and conclusion: move the test into the script", path, text, r)
			return stepCond{}, false
		}
	}
	if len(vars) > maxCondSteps {
		pl.d.errorf(s.cond.n.pos, "%s: `%s` reads the outcome of %d steps; Gantry supports at most %d in one if:", path, text, len(vars), maxCondSteps)
		return stepCond{}, false
	}
	coes := map[int]bool{}
	for _, st := range b.steps {
		coes[st.s.index] = st.coe
	}
	key := []string{"$gh_status"}
	for _, v := range vars {
		key = append(key, fmt.Sprintf("${gh_o_%d-}", v))
	}
	var cases []string
	total := 0
	assign := make([]string, len(vars))
	var walk func(i int, status string) bool
	walk = func(i int, status string) bool {
		if i < len(vars) {
			for _, o := range stepOutcomes {
				assign[i] = o
				if !walk(i+1, status) {
					return false
				}
			}
			return true
		}
		total++
		ctx := cloneContext(sc.ctx)
		ctx.Status = actions.StatusSuccess
		if status == "failure" {
			ctx.Status = actions.StatusFailure
		}
		jobCtx := maps.Clone(b.jobCtx)
		jobCtx["status"] = status
		ctx.Contexts["job"] = jobCtx
		steps := maps.Clone(ctx.Contexts["steps"].(map[string]any))
		for k, idx := range vars {
			st := b.steps[slices.IndexFunc(b.steps, func(st stepState) bool { return st.s.index == idx })]
			conclusion := assign[k]
			if conclusion == "failure" && coes[idx] {
				conclusion = "success"
			}
			steps[st.s.id] = map[string]any{"outcome": assign[k], "conclusion": conclusion, "outputs": map[string]any{}}
		}
		ctx.Contexts["steps"] = steps
		v, err := s.cond.x.Eval(ctx)
		if err != nil {
			pl.d.errorf(s.cond.n.pos, "%s: `%s`: %v", path, text, unwrapEval(err))
			return false
		}
		if actions.Truthy(v) {
			cases = append(cases, strings.Join(append([]string{status}, assign...), ":"))
		}
		return true
	}
	for _, status := range []string{"success", "failure"} {
		if !walk(0, status) {
			return stepCond{}, false
		}
	}
	switch len(cases) {
	case 0:
		return stepCond{never: true}, true
	case total:
		return stepCond{always: true}, true
	}
	return stepCond{key: `"` + strings.Join(key, ":") + `"`, cases: cases}, true
}

// runStep writes the commands of a run: step: the script file, then a
// subshell with the step's env, directory and shell.
func (b *builder) runStep(body *strings.Builder, s *step, sc *scope, envs []envValue, defaultShell *node, defaultWD *string, timeout int, n *int) bool {
	pl := b.pl
	ps, ok := pl.pieces(s.path+".run", s.run, sc)
	if !ok {
		return false
	}
	shellNode := s.shell
	if shellNode == nil {
		shellNode = defaultShell
	}
	var sh *shellSpec
	if shellNode != nil {
		var err error
		if sh, err = parseShell(shellNode.value); err != nil {
			pl.d.errorf(shellNode.pos, "%s: %v", s.path, err)
			return false
		}
	}
	file := fmt.Sprintf(`"$gh_dir/step%d%s"`, s.index, scriptExt(sh))
	body.WriteString("(\n")
	body.WriteString(b.exports(envs, n))
	b.writeFile(body, file, ps, fmt.Sprintf("GH_STEP_%d", s.index))

	wd := defaultWD
	if s.workingDir != nil {
		if v, ok := pl.text(s.path+".working-directory", s.workingDir, sc); ok {
			wd = &v
		} else {
			return false
		}
	}
	body.WriteString(`cd "$GITHUB_WORKSPACE" || exit 1` + "\n")
	if wd != nil && *wd != "" && *wd != "." {
		fmt.Fprintf(body, "cd -- %s || exit 1\n", pathWord(*wd))
	}
	body.WriteString(shellCommand(sh, file) + "\n")
	if timeout > 0 {
		fmt.Fprintf(body, "if command -v timeout >/dev/null 2>&1; then set -- timeout %d \"$@\"; else echo \"gantry: no timeout command in the image: the step runs without its timeout-minutes\" >&2; fi\n", timeout)
	}
	body.WriteString("exec \"$@\"\n)")
	return true
}

// writeFile writes pieces to file: a quoted here-document for literal
// text, the value itself for a run-time reference, so that nothing is
// expanded twice and no secret appears in the script.
func (b *builder) writeFile(body *strings.Builder, file string, ps []piece, delim string) {
	if text, ok := literal(ps); ok {
		heredoc(body, "cat > "+file, text, delim)
		return
	}
	body.WriteString("{\n")
	for i, p := range ps {
		if p.ref == nil {
			heredoc(body, "gh_lit", p.lit+"\n", fmt.Sprintf("%s_%d", delim, i))
			continue
		}
		switch p.ref.kind {
		case rtOutput:
			fmt.Fprintf(body, "gh_out %d %s\n", p.ref.step, sq(p.ref.name))
		default:
			var pre []string
			var n int
			v := b.shellValue(p.ref, &pre, &n)
			fmt.Fprintf(body, "printf '%%s' \"%s\"\n", v)
		}
	}
	fmt.Fprintf(body, "} > %s\n", file)
}

// scriptExt is the extension GitHub gives the script file of a shell.
func scriptExt(sh *shellSpec) string {
	name := ""
	if sh != nil {
		name = sh.name
		if name == "" && len(sh.argv) > 0 {
			name = path.Base(sh.argv[0])
		}
	}
	switch {
	case strings.HasPrefix(name, "python"):
		return ".py"
	case name == "pwsh" || name == "powershell":
		return ".ps1"
	}
	return ".sh"
}

// shellCommand sets the positional parameters to the command that runs
// the script file, GitHub's for each shell.
func shellCommand(sh *shellSpec, file string) string {
	if sh == nil {
		// GitHub's default on Linux: bash -e {0}, or sh -e {0} where
		// bash is not installed.
		return "if command -v bash >/dev/null 2>&1; then set -- bash -e " + file + "; else set -- sh -e " + file + "; fi"
	}
	switch sh.name {
	case "bash":
		return "set -- bash --noprofile --norc -eo pipefail " + file
	case "sh":
		return "set -- sh -e " + file
	case "python":
		return "set -- python " + file
	case "pwsh":
		return `set -- pwsh -command ". '$gh_dir/` + strings.Trim(strings.TrimPrefix(file, `"$gh_dir/`), `"`) + `'"`
	}
	words := make([]string, len(sh.argv))
	for i, w := range sh.argv {
		parts := strings.Split(w, "{0}")
		for k, p := range parts {
			if p != "" {
				parts[k] = sq(p)
			}
		}
		words[i] = strings.Join(parts, file)
	}
	return "set -- " + strings.Join(words, " ")
}

// checkout checks what actions/checkout is asked for: this repository.
func (b *builder) checkout(s *step, sc *scope) bool {
	t := s.act.input("repository")
	if t == nil {
		return true
	}
	repo, ok := b.pl.text(s.path+".with.repository", t, sc)
	if !ok {
		return false
	}
	own, _ := b.pl.github["repository"].(string)
	if repo != "" && !strings.EqualFold(repo, own) {
		b.pl.d.errorf(t.n.pos, "%s.with.repository: checking out another repository (%s) is not supported: Gantry runs the job on the submitted source only", s.path, repo)
		return false
	}
	return true
}

// upload records the artifact an upload-artifact step makes and writes
// the commands that copy its files into the artifact's directory.
func (b *builder) upload(body *strings.Builder, s *step, sc *scope) bool {
	pl, a := b.pl, s.act
	in := func(name, def string) (string, bool) {
		t := a.input(name)
		if t == nil {
			return def, true
		}
		return pl.text(s.path+".with."+name, t, sc)
	}
	name, ok1 := in("name", "artifact")
	paths, ok2 := in("path", "")
	mode, ok3 := in("if-no-files-found", "warn")
	hidden, ok4 := in("include-hidden-files", "false")
	days, ok5 := in("retention-days", "")
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return false
	}
	pos := s.pos
	if t := a.input("name"); t != nil {
		pos = t.n.pos
	}
	if err := validArtifactName(name); err != nil {
		pl.d.errorf(pos, "%s.with.name: %v", s.path, err)
		return false
	}
	if slices.Contains(b.uploads, name) {
		pl.d.errorf(pos, "%s.with.name: the job already uploads an artifact named %q; GitHub refuses to upload the same name twice", s.path, name)
		return false
	}
	if !slices.Contains([]string{"warn", "error", "ignore"}, mode) {
		pl.d.errorf(s.pos, "%s.with.if-no-files-found must be warn, error or ignore, got %q", s.path, mode)
		return false
	}
	up, err := planUpload(strings.Split(paths, "\n"), hidden == "true")
	if err != nil {
		pl.d.errorf(a.input("path").n.pos, "%s.with.path: %v", s.path, err)
		return false
	}
	if days != "" {
		var d int
		if _, err := fmt.Sscan(days, &d); err != nil || d < 1 {
			pl.d.errorf(s.pos, "%s.with.retention-days must be a number of days, got %q", s.path, days)
			return false
		}
		b.retention = max(b.retention, d)
	}
	b.uploads = append(b.uploads, name)
	body.WriteString("{ : > \"$gh_dir/files\"\n")
	for _, sr := range up.searches {
		fmt.Fprintf(body, "gh_find %s %s %s >> \"$gh_dir/files\"\n", sq(sr.dir), sq(sr.re), sq(up.exclude))
	}
	fmt.Fprintf(body, "gh_stage %s %s %s %s; }", sq(name), sq(mode), sq(up.root), fmtBool(up.single))
	return true
}

// download records what a download-artifact step takes and writes the
// commands that copy it where the step puts it.
func (b *builder) download(body *strings.Builder, s *step, sc *scope) bool {
	pl, a := b.pl, s.act
	in := func(name, def string) (string, bool) {
		t := a.input(name)
		if t == nil {
			return def, true
		}
		return pl.text(s.path+".with."+name, t, sc)
	}
	name, ok1 := in("name", "")
	dest, ok2 := in("path", "")
	pattern, ok3 := in("pattern", "")
	merge, ok4 := in("merge-multiple", "false")
	if !(ok1 && ok2 && ok3 && ok4) {
		return false
	}
	d := download{name: name}
	if name == "" && pattern != "" {
		fp, err := compileFilter(pattern)
		if err != nil {
			pl.d.errorf(a.input("pattern").n.pos, "%s.with.pattern: invalid pattern %q: %v", s.path, pattern, err)
			return false
		}
		d.pattern = fp
	}
	b.downloads = append(b.downloads, d)
	if name != "" {
		fmt.Fprintf(body, "gh_fetch %s %s", sq(name), pathWord(dest))
		return true
	}
	// Every artifact of the jobs this one needs, each in a directory of
	// its own name unless merge-multiple.
	var names []string
	for _, inst := range pl.ancestors(b.j) {
		for _, u := range inst.uploads {
			if (d.pattern == nil || d.pattern.re.MatchString(u)) && !slices.Contains(names, u) {
				names = append(names, u)
			}
		}
	}
	if len(names) == 0 {
		body.WriteString("echo 'gantry: no job this one needs uploads artifacts: nothing to download'")
		return true
	}
	cmds := make([]string, len(names))
	for i, u := range names {
		target := pathWord(dest)
		if merge != "true" {
			target = pathWord(path.Join(cmpOr(dest, "."), u))
		}
		cmds[i] = fmt.Sprintf("gh_fetch %s %s optional", sq(u), target)
	}
	body.WriteString(strings.Join(cmds, " &&\n"))
	return true
}
