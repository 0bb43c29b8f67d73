package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PlanInput are the facts about a ref that decide which jobs run.
type PlanInput struct {
	// Ref is the branch or tag name (the source branch for a merge
	// request pipeline).
	Ref   string
	IsTag bool
	SHA   string
	// Source is GitLab's pipeline source: push (the default), web,
	// merge_request_event, schedule, api, trigger, pipeline...
	Source        string
	DefaultBranch string
	// ChangedFiles are the files the push or merge request changes,
	// slash-separated and relative to the root. nil means unknown (a new
	// branch): `changes:` is then true, as in GitLab. For sources other
	// than push and merge requests, `changes:` is always true.
	ChangedFiles []string
	// ChangedFilesSince answers `changes:compare_to`: the files changed
	// since a ref. nil, or false returned, means unknown.
	ChangedFilesSince func(ref string) ([]string, bool)
	// FileExists answers `exists:`: whether a file of the source matches
	// a glob, as MatchGlob matches. nil means no file is known to exist.
	FileExists func(glob string) bool
	// Predefined are predefined variables beyond those the fields above
	// give (CI_PROJECT_PATH, CI_MERGE_REQUEST_IID...): they have the lowest
	// precedence and override the derived ones (CI_COMMIT_BRANCH...).
	Predefined []Variable
	// Variables are those passed to the run: they override everything the
	// file sets, as variables of a manual or triggered pipeline do in
	// GitLab.
	Variables []Variable
}

// Plan is what runs for a ref: the jobs of a created pipeline with
// everything the scheduler needs to run them.
type Plan struct {
	// Created is false when `workflow:rules` (or the jobs' rules) keep the
	// pipeline from being created; Reason says why.
	Created bool
	Reason  string
	// Name is `workflow:name` with variables expanded.
	Name string
	// Stages are the pipeline's stages; PlanJob.StageIndex indexes them.
	Stages     []string
	AutoCancel *AutoCancel
	// Jobs are ordered by stage, then as written in the file.
	Jobs []*PlanJob
}

// PlanJob is one job to run: a job of the file, or one copy of a
// parallel job. Job, Retry, Artifacts and Cache are shared with the
// Pipeline and between the copies of a parallel job: read them, never
// change them.
type PlanJob struct {
	// Name is unique in the plan: "test", "test 1/3", "deploy: [aws]".
	Name string
	// Job is the definition the job comes from, shared by the copies of a
	// parallel job: read it (image, services, scripts...), never change it.
	Job        *Job
	Stage      string
	StageIndex int
	// When is on_success, on_failure, always, manual or delayed, with
	// StartIn for delayed.
	When    string
	StartIn time.Duration
	// AllowFailure, with AllowFailureExitCodes set, only for those codes.
	AllowFailure          bool
	AllowFailureExitCodes []int
	// UsesNeeds: the job waits for Needs only (none for `needs: []`)
	// rather than for every job of the earlier stages.
	UsesNeeds bool
	Needs     []PlanNeed
	// Dependencies are the jobs whose artifacts the job downloads.
	Dependencies []string
	Retry        *Retry
	// Timeout is 0 for the default.
	Timeout time.Duration
	// ResourceGroup, with variables expanded: at most one job of a group
	// runs at a time across pipelines.
	ResourceGroup string
	// Interruptible jobs may be canceled when a newer pipeline starts.
	Interruptible bool
	// Environment has its name and URL expanded.
	Environment *Environment
	Artifacts   *Artifacts
	Cache       []Cache
	Coverage    string
	// Tags have variables expanded.
	Tags []string
	// Variables are every variable of the job, by precedence (lowest
	// first) with repeats resolved: predefined, pipeline, workflow rules,
	// job, matrix, rules, then the run's. Values are not expanded: the
	// runner expands them, except Raw ones.
	Variables []Variable
	// NodeIndex and NodeTotal are CI_NODE_INDEX and CI_NODE_TOTAL of a
	// parallel job, 0 otherwise.
	NodeIndex, NodeTotal int
	// MatrixGroup names the GitHub Actions matrix job this job is one
	// combination of ("" for GitLab jobs): FailFast and MaxParallel apply
	// to the jobs of the group of one run.
	MatrixGroup string
	// FailFast: when a job of MatrixGroup fails (and may not fail), the
	// group's jobs that have not ended are canceled.
	FailFast bool
	// MaxParallel > 0 caps how many jobs of MatrixGroup run at once.
	MaxParallel int

	rule *Rule // the rule that put the job in the plan
}

// PlanNeed is a job a PlanJob waits for.
type PlanNeed struct {
	Job       string
	Artifacts bool
}

// Plan decides what runs for a ref: `workflow:rules`, then each job's
// rules (or only/except), with parallel jobs expanded and needs resolved
// to the jobs of the plan. A pipeline that is not created is a Plan with
// Created false, not an error; the error, an ErrorList, is for needs that
// cannot be met, as GitLab refuses to create such a pipeline.
//
// Plan does not change p and may be called concurrently.
func (p *Pipeline) Plan(in PlanInput) (plan *Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			plan, err = nil, ErrorList{{Pos: p.pos(), Msg: fmt.Sprintf("internal error planning the pipeline: %v", r)}}
		}
	}()
	pl := &planner{p: p, in: &in, ev: &evaluator{in: &in, exists: in.FileExists}, byDef: map[string][]*PlanJob{}}
	return pl.run()
}

func (p *Pipeline) pos() Pos {
	if len(p.Jobs) > 0 {
		return Pos{File: p.Jobs[0].Pos.File, Line: 1, Column: 1}
	}
	return Pos{Line: 1, Column: 1}
}

type planner struct {
	p      *Pipeline
	in     *PlanInput
	ev     *evaluator
	d      diagnostics
	plan   *Plan
	base   *varSet    // facts and predefined
	wfVars []Variable // from the matching workflow rule
	byDef  map[string][]*PlanJob
}

func (pl *planner) run() (*Plan, error) {
	p := pl.p
	pl.plan = &Plan{Created: true, Stages: p.Stages}
	pl.base = newVarSet(32)
	pl.base.add(pl.in.factVariables()...)
	pl.base.add(pl.in.Predefined...)

	if !pl.workflow() {
		return pl.plan, nil
	}
	for _, j := range p.Jobs {
		pl.job(j)
	}
	jobs := pl.plan.Jobs
	slices.SortStableFunc(jobs, func(a, b *PlanJob) int { return cmp.Compare(a.StageIndex, b.StageIndex) })
	switch {
	case len(jobs) == 0:
		return pl.notCreated("no job runs for this ref: every job's rules, only or except exclude it"), nil
	case !slices.ContainsFunc(jobs, func(j *PlanJob) bool { return j.Stage != ".pre" && j.Stage != ".post" }):
		return pl.notCreated("only jobs of the .pre and .post stages would run, and GitLab creates no such pipeline"), nil
	}
	for _, j := range jobs {
		pl.needs(j)
		pl.dependencies(j)
	}
	pl.checkCycles()
	if len(pl.d.errs) > 0 {
		return nil, pl.d.sortedErrors()
	}
	return pl.plan, nil
}

func (pl *planner) notCreated(reason string) *Plan {
	pl.plan.Created, pl.plan.Reason, pl.plan.Jobs = false, reason, nil
	return pl.plan
}

// workflow applies `workflow:`; false means no pipeline is created.
func (pl *planner) workflow() bool {
	w := pl.p.Workflow
	if w == nil {
		return true
	}
	pl.plan.AutoCancel = w.AutoCancel
	if w.UsesRules {
		vars := pl.base.extend(len(pl.p.Variables) + len(pl.in.Variables))
		vars.add(pl.p.Variables...)
		vars.add(pl.in.Variables...)
		r := pl.ev.firstMatch(w.Rules, newExpander(vars).lookup)
		switch {
		case r == nil:
			pl.notCreated("no workflow:rules match")
			return false
		case r.When == "never":
			pl.notCreated(fmt.Sprintf("workflow:rules at %s: when: never", r.Pos))
			return false
		}
		pl.wfVars = r.Variables
		if r.AutoCancel != nil {
			ac := AutoCancel{}
			if w.AutoCancel != nil {
				ac = *w.AutoCancel
			}
			ac.OnNewCommit = cmp.Or(r.AutoCancel.OnNewCommit, ac.OnNewCommit)
			ac.OnJobFailure = cmp.Or(r.AutoCancel.OnJobFailure, ac.OnJobFailure)
			pl.plan.AutoCancel = &ac
		}
	}
	if w.Name != "" {
		vars := pl.base.extend(16)
		vars.add(pl.p.Variables...)
		vars.add(pl.wfVars...)
		vars.add(pl.in.Variables...)
		pl.plan.Name = newExpander(vars).expand(w.Name)
	}
	return true
}

// job plans every instance of one job definition.
func (pl *planner) job(j *Job) {
	if j.Parallel.total() > maxParallel {
		pl.d.Errorf(j.Pos, "job %q: parallel makes more than %d jobs", j.Name, maxParallel)
		return
	}
	stage := slices.Index(pl.p.Stages, j.Stage)
	if stage < 0 { // only in a pipeline built by hand: Parse checks stages
		pl.d.Errorf(j.Pos, "job %q: stage %q is not defined", j.Name, j.Stage)
		return
	}
	for _, inst := range j.instances() {
		vars := pl.base.extend(8 + len(pl.p.Variables) + len(j.Variables))
		vars.add(Variable{Key: "CI_JOB_NAME", Value: inst.name}, Variable{Key: "CI_JOB_NAME_SLUG", Value: slug(inst.name)}, Variable{Key: "CI_JOB_STAGE", Value: j.Stage})
		vars.add(inst.nodeVariables()...)
		for _, v := range pl.p.Variables {
			if j.InheritVariables.Includes(v.Key) {
				vars.set(v)
			}
		}
		for _, v := range pl.wfVars {
			if j.InheritVariables.Includes(v.Key) {
				vars.set(v)
			}
		}
		vars.add(j.Variables...)
		vars.add(inst.vars...)
		vars.add(pl.in.Variables...)

		pj := &PlanJob{
			Name: inst.name, Job: j, Stage: j.Stage, StageIndex: stage,
			When: cmp.Or(j.When, "on_success"), StartIn: j.StartIn, UsesNeeds: j.UsesNeeds,
			Retry: j.Retry, Timeout: j.Timeout, Artifacts: j.Artifacts, Cache: j.Cache,
			Coverage: j.Coverage, NodeIndex: inst.index, NodeTotal: inst.total,
		}
		if j.AllowFailure != nil {
			pj.AllowFailure, pj.AllowFailureExitCodes = j.AllowFailure.Allowed, j.AllowFailure.ExitCodes
		} else {
			// GitLab: a job whose own `when:` is manual may fail; one made
			// manual by its rules may not.
			pj.AllowFailure = j.When == "manual"
		}
		if j.Interruptible != nil {
			pj.Interruptible = *j.Interruptible
		}
		x := newExpander(vars)
		if j.UsesRules {
			r := pl.ev.firstMatch(j.Rules, x.lookup)
			if r == nil {
				continue
			}
			pj.rule = r
			pl.applyRule(pj, r)
			if len(r.Variables) > 0 {
				vars.add(r.Variables...)
				vars.add(pl.in.Variables...) // still the highest
				x = newExpander(vars)
			}
		} else if !pl.ev.included(j, pl.p.Workflow != nil && pl.p.Workflow.UsesRules, x.lookup) {
			continue
		}
		if pj.When == "never" {
			continue
		}
		pl.finish(pj, vars, x)
		pl.plan.Jobs = append(pl.plan.Jobs, pj)
		pl.byDef[j.Name] = append(pl.byDef[j.Name], pj)
	}
}

// applyRule applies what the first matching rule sets.
func (pl *planner) applyRule(pj *PlanJob, r *Rule) {
	if r.When != "" {
		pj.When, pj.StartIn = r.When, r.StartIn
	}
	if r.AllowFailure != nil {
		pj.AllowFailure, pj.AllowFailureExitCodes = *r.AllowFailure, nil
	}
	if r.Interruptible != nil {
		pj.Interruptible = *r.Interruptible
	}
	if r.UsesNeeds {
		pj.UsesNeeds = true
	}
}

// finish expands what the scheduler reads with the job's variables.
func (pl *planner) finish(pj *PlanJob, vars *varSet, x *expander) {
	j := pj.Job
	if len(j.Tags) > 0 {
		pj.Tags = make([]string, len(j.Tags))
		for i, t := range j.Tags {
			pj.Tags[i] = x.expand(t)
		}
	}
	pj.ResourceGroup = x.expand(j.ResourceGroup)
	if env := j.Environment; env != nil {
		e := *env
		e.Name = x.expand(env.Name)
		vars.add(Variable{Key: "CI_ENVIRONMENT_NAME", Value: e.Name}, Variable{Key: "CI_ENVIRONMENT_SLUG", Value: slug(e.Name)},
			Variable{Key: "CI_ENVIRONMENT_ACTION", Value: e.Action})
		if e.DeploymentTier != "" {
			vars.add(Variable{Key: "CI_ENVIRONMENT_TIER", Value: e.DeploymentTier})
		}
		x = newExpander(vars)
		e.URL = x.expand(env.URL)
		if e.URL != "" {
			vars.add(Variable{Key: "CI_ENVIRONMENT_URL", Value: e.URL})
		}
		pj.Environment = &e
	}
	pj.Variables = vars.list()
}

// needs resolves a job's needs to the jobs of the plan.
func (pl *planner) needs(pj *PlanJob) {
	if !pj.UsesNeeds {
		return
	}
	needs := pj.Job.Needs
	if pj.rule != nil && pj.rule.UsesNeeds {
		needs = pj.rule.Needs
	}
	pj.Needs = []PlanNeed{}
	for _, nd := range needs {
		targets := pl.byDef[nd.Job]
		if len(nd.Matrix) > 0 {
			names := matrixNames(nd.Job, nd.Matrix)
			targets = slices.DeleteFunc(slices.Clone(targets), func(t *PlanJob) bool { return !slices.Contains(names, t.Name) })
		}
		if len(targets) == 0 {
			if !nd.Optional {
				pl.d.Errorf(nd.Pos, "job %q needs %q, which is not in the pipeline for this ref (its rules, only or except exclude it); make the need optional with `needs: [{job: %s, optional: true}]`", pj.Name, nd.Job, nd.Job)
			}
			continue
		}
		for _, t := range targets {
			if !slices.ContainsFunc(pj.Needs, func(n PlanNeed) bool { return n.Job == t.Name }) {
				pj.Needs = append(pj.Needs, PlanNeed{Job: t.Name, Artifacts: nd.Artifacts})
			}
		}
	}
}

// dependencies resolves whose artifacts a job downloads.
func (pl *planner) dependencies(pj *PlanJob) {
	j := pj.Job
	switch {
	case j.UsesDependencies:
		// Jobs not in the plan are left out, as GitLab does.
		pj.Dependencies = []string{}
		for _, dep := range j.Dependencies {
			for _, t := range pl.byDef[dep] {
				pj.Dependencies = append(pj.Dependencies, t.Name)
			}
		}
	case pj.UsesNeeds:
		pj.Dependencies = []string{}
		for _, nd := range pj.Needs {
			if nd.Artifacts {
				pj.Dependencies = append(pj.Dependencies, nd.Job)
			}
		}
	default:
		pj.Dependencies = []string{}
		for _, t := range pl.plan.Jobs {
			if t.StageIndex < pj.StageIndex {
				pj.Dependencies = append(pj.Dependencies, t.Name)
			}
		}
	}
}

// checkCycles reports needs that wait for themselves once rules:needs are
// applied (the file's own needs were checked by Parse).
func (pl *planner) checkCycles() {
	byName := make(map[string]*PlanJob, len(pl.plan.Jobs))
	for _, j := range pl.plan.Jobs {
		byName[j.Name] = j
	}
	state := map[string]int{}
	var stack []string
	var visit func(j *PlanJob) bool
	visit = func(j *PlanJob) bool {
		state[j.Name] = 1
		stack = append(stack, j.Name)
		for _, nd := range j.Needs {
			switch state[nd.Job] {
			case 1:
				cycle := append(slices.Clone(stack[slices.Index(stack, nd.Job):]), nd.Job)
				pl.d.Errorf(j.Job.Pos, "job %q: needs form a cycle: %s", j.Name, strings.Join(cycle, " -> "))
				return false
			case 0:
				if !visit(byName[nd.Job]) {
					return false
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[j.Name] = 2
		return true
	}
	for _, j := range pl.plan.Jobs {
		if state[j.Name] == 0 && !visit(j) {
			return
		}
	}
}
