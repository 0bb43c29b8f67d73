package ghworkflow

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

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

// jobEnv evaluates the job's environment, lowest precedence first: the
// container's env, the workflow's, the job's; the workflow's and job's
// make the env context of the steps.
func (b *builder) jobEnv() {
	pl, j := b.pl, b.j
	b.env, b.envRT = map[string]any{}, map[string]bool{}
	wsc := &scope{ctx: pl.baseContext(), rt: &runtimeRefs{b: b, before: -1, envRT: map[string]bool{}}}
	wfEnv := b.evalEnv("env", pl.w.env, wsc, b.env, b.envRT)
	jsc := &scope{ctx: cloneContext(b.ctx), rt: &runtimeRefs{b: b, before: -1, envRT: map[string]bool{}}}
	jobEnv := b.evalEnv(j.path+".env", j.env, jsc, b.env, b.envRT)
	csc := &scope{ctx: cloneContext(b.ctx), rt: &runtimeRefs{b: b, before: -1, envRT: b.envRT}}
	csc.ctx.Contexts["env"] = b.envContextFor(nil)
	contEnv := b.evalEnv(j.path+".container.env", j.contEnv, csc, map[string]any{}, map[string]bool{})
	b.exported = slices.Concat(contEnv, wfEnv, jobEnv)
}

// script compiles the job's steps into the commands of its script.
func (b *builder) script() {
	pl, j := b.pl, b.j
	n := 0
	var envCmd strings.Builder
	envCmd.WriteString(b.exports(b.exported, &n))

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
func (b *builder) step(s *step, defaultShell *yamlpos.Node, defaultWD *string, n *int) (string, bool) {
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
				pl.d.Errorf(s.timeout.n.Pos, "%s.timeout-minutes must be more than 0", s.path)
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
	case cond.never:
		// Never runs: it uploads and downloads nothing.
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
	text := strings.TrimSpace(s.cond.n.Value)
	var vars []int // step indexes whose outcome the condition reads
	for _, r := range s.cond.refs {
		ref, isRT, err := rt.classify(r)
		if err != nil {
			pl.d.Errorf(s.cond.n.Pos, "%s: `%s`: %v", path, text, err)
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
			pl.d.Errorf(s.cond.n.Pos, "%s: `%s` reads %s, which Gantry knows only while the job runs; a step's if: may test the job's status (success(), failure(), always(), job.status) and earlier steps' outcome and conclusion: move the test into the script", path, text, r)
			return stepCond{}, false
		}
	}
	if len(vars) > maxCondSteps {
		pl.d.Errorf(s.cond.n.Pos, "%s: `%s` reads the outcome of %d steps; Gantry supports at most %d in one if:", path, text, len(vars), maxCondSteps)
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
			pl.d.Errorf(s.cond.n.Pos, "%s: `%s`: %v", path, text, unwrapEval(err))
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
func (b *builder) runStep(body *strings.Builder, s *step, sc *scope, envs []envValue, defaultShell *yamlpos.Node, defaultWD *string, timeout int, n *int) bool {
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
		if sh, err = parseShell(shellNode.Value); err != nil {
			pl.d.Errorf(shellNode.Pos, "%s: %v", s.path, err)
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
