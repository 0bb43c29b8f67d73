package ghworkflow

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// stage is the one stage of a workflow's plan: GitHub has no stages, every
// job waits only for its needs.
const stage = "test"

// planStages are the stages of every plan, shaped as a GitLab pipeline's.
var planStages = []string{".pre", stage, ".post"}

// Bounds on a plan: jobs across all matrices, and the bytes of the scripts
// generated for them.
const (
	maxPlanJobs     = 5000
	maxScriptBudget = 64 << 20
)

// Plan decides what runs for a ref: whether `on:` triggers the workflow
// for the input, then which jobs run (their `if:`), with matrices
// expanded, expressions known before the run evaluated, and each job's
// steps compiled into a POSIX sh script (see the package documentation).
//
// secrets are the names of the secrets the coordinator gives the jobs as
// variables. `${{ secrets.NAME }}` reads NAME from the job's environment
// when the step runs (its value never appears in the plan); a name not in
// secrets is an empty string, as an undefined secret is on GitHub. A nil
// secrets means the names are unknown: every secrets.NAME then reads NAME.
//
// A workflow that `on:` does not trigger is a Plan with Created false and
// the Reason, not an error; the error, a pipeline.ErrorList, is for what
// Gantry cannot run (an expression that cannot be evaluated, an
// unsupported context...). Plan does not change w and may be called
// concurrently.
func (w *Workflow) Plan(in pipeline.PlanInput, secrets []string) (plan *pipeline.Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			plan, err = nil, pipeline.ErrorList{{Pos: pipeline.Pos{File: w.file, Line: 1, Column: 1}, Msg: fmt.Sprintf("internal error planning the workflow: %v", r)}}
		}
	}()
	pl := &planner{w: w, in: &in, d: &diagnostics{}, budget: maxScriptBudget, jobs: map[string]*jobPlan{}, names: map[string]bool{}}
	if secrets != nil {
		pl.secrets = map[string]bool{}
		for _, s := range secrets {
			pl.secrets[strings.ToUpper(s)] = true
		}
	}
	plan = pl.run()
	if pl.d.failed() {
		return nil, pl.d.sortedErrors()
	}
	return plan, nil
}

type planner struct {
	w       *Workflow
	in      *pipeline.PlanInput
	d       *diagnostics
	secrets map[string]bool
	facts   refFacts
	// Contexts shared by every job.
	github map[string]any
	vars   map[string]any
	inputs map[string]any
	// jobs are the decisions taken so far, by job id.
	jobs   map[string]*jobPlan
	names  map[string]bool // plan job names taken
	budget int             // script bytes left
	count  int             // plan jobs made
}

// jobPlan is what the plan holds for one job of the file.
type jobPlan struct {
	included bool
	when     string
	// instances are the plan jobs of the job: one, or one per matrix
	// combination.
	instances []*instance
}

// instance is one plan job with what other jobs need to know about it.
type instance struct {
	pj *pipeline.PlanJob
	// uploads are the artifacts the job's steps upload, by name.
	uploads []string
}

func (pl *planner) run() *pipeline.Plan {
	w, in := pl.w, pl.in
	plan := &pipeline.Plan{Created: true, Stages: slices.Clone(planStages)}
	pl.facts = pl.refFacts()
	event, reason := w.on.match(in.Source, &pl.facts)
	if event == "" {
		return &pipeline.Plan{Reason: reason, Stages: plan.Stages}
	}
	pl.facts.event = event
	pl.contexts()

	plan.Name = w.name
	if w.runName != nil {
		sc := &scope{ctx: pl.baseContext()}
		if s, ok := pl.text("run-name", w.runName, sc); ok {
			plan.Name = s
		}
	}
	for _, j := range pl.order() {
		pl.plan(j)
		if pl.d.failed() && pl.d.errorCount() > maxKeptDiagnostics {
			break
		}
	}
	for _, j := range w.jobs {
		jp := pl.jobs[j.id]
		if jp == nil {
			continue
		}
		for _, inst := range jp.instances {
			plan.Jobs = append(plan.Jobs, inst.pj)
		}
	}
	if len(plan.Jobs) == 0 && !pl.d.failed() {
		return &pipeline.Plan{Reason: fmt.Sprintf("no job runs for %s: every job's if: is false", event), Stages: plan.Stages}
	}
	return plan
}

func (d *diagnostics) errorCount() int { return len(d.errs) + d.droppedErrs }

// order returns the jobs with every job after the jobs it needs, in file
// order otherwise (Parse refused cycles).
func (pl *planner) order() []*job {
	var out []*job
	done := map[*job]bool{}
	var visit func(j *job)
	visit = func(j *job) {
		if done[j] {
			return
		}
		done[j] = true
		for _, nd := range j.needs {
			visit(pl.w.byID[strings.ToLower(nd.id)])
		}
		out = append(out, j)
	}
	for _, j := range pl.w.jobs {
		visit(j)
	}
	return out
}

// refFacts derives what the triggers and the github context need from
// the plan input.
func (pl *planner) refFacts() refFacts {
	in := pl.in
	f := refFacts{isTag: in.IsTag, name: in.Ref, changed: in.ChangedFiles}
	f.base = cmp.Or(pl.predefined("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"), in.DefaultBranch, in.Ref)
	return f
}

// predefined returns a predefined variable of the input, or "".
func (pl *planner) predefined(key string) string {
	v := ""
	for _, p := range pl.in.Predefined {
		if p.Key == key {
			v = p.Value
		}
	}
	return v
}

// contexts builds the github, vars and inputs contexts of the run.
func (pl *planner) contexts() {
	in, f := pl.in, pl.facts
	ref, refType, refName := "refs/heads/"+in.Ref, "branch", in.Ref
	if in.IsTag {
		ref, refType = "refs/tags/"+in.Ref, "tag"
	}
	repo := pl.predefined("CI_PROJECT_PATH")
	owner, repoName, _ := strings.Cut(repo, "/")
	if i := strings.LastIndexByte(repo, '/'); i >= 0 {
		owner, repoName = repo[:i], repo[i+1:]
	}
	workflow := cmp.Or(pl.w.name, pl.w.file)
	g := map[string]any{
		"event_name": f.event, "sha": in.SHA, "repository": repo, "repository_owner": owner,
		"actor": "", "triggering_actor": "", "workflow": workflow, "run_id": pl.predefined("CI_PIPELINE_ID"),
		"run_number": pl.predefined("CI_PIPELINE_IID"), "run_attempt": "1", "head_ref": "", "base_ref": "",
		"server_url": "", "api_url": "", "graphql_url": "", "token": "", "action": "", "action_path": "",
		"ref_protected": false, "retention_days": "", "secret_source": "None",
	}
	repository := map[string]any{"full_name": repo, "name": repoName, "owner": map[string]any{"login": owner}, "default_branch": in.DefaultBranch}
	var payload map[string]any
	switch f.event {
	case "pull_request", "pull_request_target":
		iid := pl.predefined("CI_MERGE_REQUEST_IID")
		if iid != "" {
			ref, refName = "refs/pull/"+iid+"/merge", iid+"/merge"
		}
		if f.event == "pull_request_target" {
			ref, refName = "refs/heads/"+f.base, f.base
		}
		refType = "branch"
		g["head_ref"], g["base_ref"] = in.Ref, f.base
		number, _ := strconv.Atoi(iid)
		pr := map[string]any{
			"number": float64(number), "draft": false, "labels": []any{},
			"head": map[string]any{"ref": in.Ref, "sha": in.SHA},
			"base": map[string]any{"ref": f.base},
		}
		payload = map[string]any{"action": "synchronize", "number": float64(number), "pull_request": pr, "repository": repository}
	case "workflow_dispatch":
		inputs := map[string]any{}
		for k, v := range pl.dispatchInputs() {
			inputs[k] = fmt.Sprint(v)
		}
		payload = map[string]any{"ref": ref, "inputs": inputs, "repository": repository}
	case "schedule":
		payload = map[string]any{"schedule": "", "repository": repository}
	default:
		payload = map[string]any{
			"ref": ref, "after": in.SHA, "before": "", "created": false, "deleted": false, "forced": false,
			"head_commit": map[string]any{"id": in.SHA}, "repository": repository,
		}
	}
	g["ref"], g["ref_name"], g["ref_type"], g["event"] = ref, refName, refType, payload
	pl.github = g

	pl.vars = map[string]any{}
	for _, v := range in.Variables {
		pl.vars[v.Key] = v.Value
	}
	pl.inputs = map[string]any{}
	if f.event == "workflow_dispatch" {
		pl.inputs = pl.dispatchInputs()
	}
}

// dispatchInputs are workflow_dispatch's inputs: their defaults, or the
// run's variables of the same names.
func (pl *planner) dispatchInputs() map[string]any {
	out := map[string]any{}
	e := pl.w.on.event("workflow_dispatch")
	if e == nil {
		return out
	}
	for _, in := range e.inputs {
		text, set := "", false
		if in.def != nil {
			text, set = scalarText(in.def), !in.def.IsNull()
		}
		for _, v := range pl.in.Variables {
			if v.Key == in.name {
				text, set = v.Value, true
			}
		}
		switch {
		case in.typ == "boolean":
			out[in.name] = text == "true"
		case in.typ == "number" && set:
			if f, err := strconv.ParseFloat(text, 64); err == nil {
				out[in.name] = f
			} else {
				out[in.name] = text
			}
		default:
			out[in.name] = text
		}
	}
	return out
}

// baseContext is the contexts every place may read.
func (pl *planner) baseContext() *actions.Context {
	return &actions.Context{Contexts: map[string]any{"github": pl.github, "vars": pl.vars, "inputs": pl.inputs}}
}

// githubFor returns the github context of one job.
func (pl *planner) githubFor(j *job) map[string]any {
	g := make(map[string]any, len(pl.github)+1)
	for k, v := range pl.github {
		g[k] = v
	}
	g["job"] = j.id
	return g
}

// plan decides whether and when job j runs, then builds its plan jobs.
func (pl *planner) plan(j *job) {
	jp := &jobPlan{}
	pl.jobs[j.id] = jp
	when, ok := pl.decide(j)
	if !ok || when == "" {
		return
	}
	jp.included, jp.when = true, when
	ctx := pl.baseContext()
	ctx.Contexts["github"] = pl.githubFor(j)
	ctx.Contexts["needs"] = pl.needsContext(j, when)
	combos := []combination{nil}
	var failFast bool
	maxParallel := 0
	if s := j.strategy; s != nil {
		var merr *matrixError
		combos, merr = pl.w.expandMatrix(j.path+".strategy.matrix", s.matrix, ctx)
		if merr != nil {
			pl.d.Errorf(merr.pos, "%s", merr.msg)
			return
		}
		sc := &scope{ctx: ctx}
		failFast = true
		if s.failFast != nil {
			if v, ok := pl.boolean(j.path+".strategy.fail-fast", s.failFast, sc); ok {
				failFast = v
			}
		}
		if s.maxParallel != nil {
			if n, ok := pl.number(j.path+".strategy.max-parallel", s.maxParallel, sc); ok {
				if n < 1 {
					pl.d.Errorf(s.maxParallel.n.Pos, "%s.strategy.max-parallel must be at least 1", j.path)
				}
				maxParallel = int(n)
			}
		}
	}
	if pl.count += len(combos); pl.count > maxPlanJobs {
		pl.d.Errorf(j.pos, "%s: the plan has more than %d jobs", j.path, maxPlanJobs)
		return
	}
	for i, c := range combos {
		b := &builder{pl: pl, j: j, when: when, combo: c, index: i, total: len(combos), matrix: j.strategy != nil}
		b.failFast, b.maxParallel = failFast, maxParallel
		inst := b.build()
		if inst == nil {
			continue
		}
		jp.instances = append(jp.instances, inst)
	}
}

// needsContext is the needs context of a job's fields and steps: a
// needed job that is not in the plan was skipped; the others succeeded
// when the job runs on success, and are unknown (left out) otherwise.
// Outputs are refused by Parse.
func (pl *planner) needsContext(j *job, when string) map[string]any {
	out := map[string]any{}
	for _, nd := range j.needs {
		var result any
		switch jp := pl.jobs[nd.id]; {
		case jp == nil || !jp.included:
			result = "skipped"
		case when == "on_success":
			result = "success"
		default:
			continue
		}
		out[nd.id] = map[string]any{"result": result, "outputs": map[string]any{}}
	}
	return out
}

// decide evaluates a job's if: and the state of its needs into when it
// runs: "on_success", "on_failure", "always", or "" for not at all.
//
// The condition is evaluated as if every needed job succeeded, then as if
// some of them failed; a job whose needs are not in the plan sees them
// skipped. GitLab's when: can only express conditions that do not depend
// on which need failed, so the others are refused.
func (pl *planner) decide(j *job) (string, bool) {
	var inPlan, skipped []string
	for _, nd := range j.needs {
		if jp := pl.jobs[nd.id]; jp != nil && jp.included {
			inPlan = append(inPlan, nd.id)
		} else {
			skipped = append(skipped, nd.id)
		}
	}
	ancestorSkipped := len(skipped) > 0 || pl.ancestorSkipped(j)
	cond := j.cond
	eval := func(failed []string) (bool, bool) {
		results := map[string]any{}
		for _, id := range inPlan {
			results[id] = "success"
		}
		for _, id := range failed {
			results[id] = "failure"
		}
		for _, id := range skipped {
			results[id] = "skipped"
		}
		needs := map[string]any{}
		for _, nd := range j.needs {
			needs[nd.id] = map[string]any{"result": results[nd.id], "outputs": map[string]any{}}
		}
		ctx := pl.baseContext()
		ctx.Contexts["github"] = pl.githubFor(j)
		ctx.Contexts["needs"] = needs
		switch {
		case len(failed) > 0:
			ctx.Status = actions.StatusFailure
		case ancestorSkipped:
			// Neither success() nor failure(): only conditions such as
			// always() or !cancelled() hold.
			ctx.Status = actions.StatusCancelled
		}
		if cond == nil {
			return len(failed) == 0 && !ancestorSkipped, true
		}
		x := cond.x
		if ancestorSkipped && len(failed) == 0 {
			x = skippedCondition(cond)
		}
		v, err := x.Eval(ctx)
		if err != nil {
			pl.d.Errorf(cond.n.Pos, "%s.if: `%s`: %v", j.path, strings.TrimSpace(cond.n.Value), unwrapEval(err))
			return false, false
		}
		return actions.Truthy(v), true
	}
	ok := true
	onSuccess, good := eval(nil)
	ok = ok && good
	// The failure scenarios: every subset of the needs for a few needs,
	// each one alone and all together beyond.
	var subsets [][]string
	if n := len(inPlan); n > 0 && n <= 4 {
		for mask := 1; mask < 1<<n; mask++ {
			var s []string
			for i, id := range inPlan {
				if mask&(1<<i) != 0 {
					s = append(s, id)
				}
			}
			subsets = append(subsets, s)
		}
	} else if n > 4 {
		for _, id := range inPlan {
			subsets = append(subsets, []string{id})
		}
		subsets = append(subsets, inPlan)
	}
	var onFailure, first = false, true
	for _, s := range subsets {
		v, good := eval(s)
		ok = ok && good
		if !good {
			break
		}
		if first {
			onFailure, first = v, false
			continue
		}
		if v != onFailure {
			pl.d.Errorf(cond.n.Pos, "%s.if: `%s` depends on which needed job fails (it is %t when %s fail and %t when %s fail); Gantry decides before the run whether a job runs when all its needs succeed or when one fails: simplify the condition, for example with failure() or always()",
				j.path, strings.TrimSpace(cond.n.Value), onFailure, strings.Join(subsets[0], ", "), v, strings.Join(s, ", "))
			return "", false
		}
	}
	if !ok {
		return "", false
	}
	switch {
	case onSuccess && onFailure:
		return "always", true
	case onSuccess:
		return "on_success", true
	case onFailure:
		return "on_failure", true
	}
	return "", true
}

// ancestorSkipped reports whether a job j needs, directly or not, is not
// in the plan: GitHub's success() is then false for j.
func (pl *planner) ancestorSkipped(j *job) bool {
	seen := map[string]bool{}
	var walk func(j *job) bool
	walk = func(j *job) bool {
		for _, nd := range j.needs {
			if seen[nd.id] {
				continue
			}
			seen[nd.id] = true
			jp := pl.jobs[nd.id]
			if jp == nil || !jp.included || walk(pl.w.byID[strings.ToLower(nd.id)]) {
				return true
			}
		}
		return false
	}
	return walk(j)
}

// skippedCondition is the condition evaluated when a needed job was
// skipped: the status is then neither success nor failure nor cancelled,
// which the expression package cannot express, so the cancelled status
// stands in with cancelled() read as false.
func skippedCondition(c *condition) *actions.Expr {
	src := c.n.Value
	if c.n.Tag != "!!str" {
		return c.x
	}
	x, err := actions.ParseIf(cancelledCall.ReplaceAllString(src, "false"))
	if err != nil {
		return c.x
	}
	return x
}

// cancelledCall matches a call of cancelled().
var cancelledCall = regexp.MustCompile(`(?i)\bcancelled\s*\(\s*\)`)

// scope is what expressions at one place may read: the contexts known
// before the run, and how the values known only while the job runs are
// reached (nil where none may be read).
type scope struct {
	ctx *actions.Context
	rt  *runtimeRefs
}

// text evaluates t into a string known before the run.
func (pl *planner) text(path string, t *tmpl, sc *scope) (string, bool) {
	if t.constant() {
		return scalarText(t.n), true
	}
	var b strings.Builder
	for _, part := range t.parts {
		if part.x == nil {
			b.WriteString(part.lit)
			continue
		}
		v, ok := pl.eval(path, t, &part, sc)
		if !ok {
			return "", false
		}
		if t.whole() != nil && (v.Kind() == actions.KindArray || v.Kind() == actions.KindObject) {
			pl.d.Errorf(pl.w.src.posIn(t.n, part.off), "%s: `%s` gives %s where text is expected; use toJSON() to turn it into text", path, part.text, strings.ToLower(v.Kind().String()))
			return "", false
		}
		b.WriteString(v.String())
	}
	if pl.budget -= b.Len(); pl.budget < 0 {
		pl.d.Errorf(t.n.Pos, "%s: the plan is too big: its expressions give more than %d MiB of text", path, maxScriptBudget>>20)
		return "", false
	}
	return b.String(), true
}

// value evaluates t keeping its kind when it is a whole ${{ }}.
func (pl *planner) value(path string, t *tmpl, sc *scope) (any, bool) {
	if t.constant() {
		return nodeValue(t.n), true
	}
	if part := t.whole(); part != nil {
		v, ok := pl.eval(path, t, part, sc)
		if !ok {
			return nil, false
		}
		return normalise(v.Interface()), true
	}
	s, ok := pl.text(path, t, sc)
	return s, ok
}

func (pl *planner) boolean(path string, t *tmpl, sc *scope) (bool, bool) {
	v, ok := pl.value(path, t, sc)
	if !ok {
		return false, false
	}
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch x {
		case "true":
			return true, true
		case "false", "":
			return false, true
		}
	}
	pl.d.Errorf(t.n.Pos, "%s must be true or false, got %s", path, displayValue(v))
	return false, false
}

func (pl *planner) number(path string, t *tmpl, sc *scope) (float64, bool) {
	v, ok := pl.value(path, t, sc)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, true
		}
	}
	pl.d.Errorf(t.n.Pos, "%s must be a number, got %q", path, displayValue(v))
	return 0, false
}

// eval evaluates one expression of t known before the run.
func (pl *planner) eval(path string, t *tmpl, part *tpart, sc *scope) (actions.Value, bool) {
	pos := func() pipeline.Pos { return pl.w.src.posIn(t.n, part.off) }
	for _, r := range part.refs {
		if id, ok := unknownNeed(sc.ctx, r, pl.w); ok {
			pl.d.Errorf(pos(), "%s: `%s`: the result of %s is not supported here: Gantry does not tell a job how the jobs it needs ended, and this one may run after one of them failed (its if: uses a status function)", path, part.text, id)
			return actions.Value{}, false
		}
		if sc.rt != nil {
			if _, runtime, err := sc.rt.classify(r); err != nil {
				pl.d.Errorf(pos(), "%s: `%s`: %v", path, part.text, err)
				return actions.Value{}, false
			} else if runtime {
				pl.d.Errorf(pos(), "%s: `%s` reads %s, which Gantry knows only while the job runs; it is not supported here", path, part.text, r)
				return actions.Value{}, false
			}
		}
	}
	v, err := part.x.Eval(sc.ctx)
	if err != nil {
		pl.d.Errorf(pos(), "%s: `%s`: %v", path, part.text, unwrapEval(err))
		return actions.Value{}, false
	}
	return v, true
}

// unknownNeed reports a reference to a needed job whose result the
// needs context leaves out because it is not known before the run.
func unknownNeed(ctx *actions.Context, r string, w *Workflow) (string, bool) {
	rest, ok := strings.CutPrefix(r, "needs.")
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, ".")
	needs, _ := ctx.Contexts["needs"].(map[string]any)
	if _, known := needs[id]; known || id == "*" || w.byID[strings.ToLower(id)] == nil {
		return "", false
	}
	return id, true
}

// uniqueName returns name, or name with a number added when a plan job
// already has it.
func (pl *planner) uniqueName(name string) string {
	out := name
	for i := 2; pl.names[out]; i++ {
		out = fmt.Sprintf("%s %d", name, i)
	}
	pl.names[out] = true
	return out
}
