package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// graph holds the jobs of a pipeline for the checks that span jobs: needs,
// dependencies, parallel names and environments.
type graph struct {
	p      *parser
	infos  []*jobInfo
	byName map[string]*jobInfo
	stage  map[string]int
	names  []string // sorted, for suggestions
}

// checkGraph checks what one job says about others, as GitLab does when it
// validates a file: needs and dependencies name jobs in the same or
// earlier stages and form no cycle, parallel jobs get unique names, and
// on_stop names a job stopping the same environment.
func (p *parser) checkGraph(pl *Pipeline, infos []*jobInfo) {
	g := &graph{p: p, infos: infos, byName: make(map[string]*jobInfo, len(infos)), stage: map[string]int{}}
	for i, s := range pl.Stages {
		g.stage[s] = i
	}
	for _, in := range infos {
		g.byName[in.job.Name] = in
		g.names = append(g.names, in.job.Name)
	}
	slices.Sort(g.names)
	g.checkInstanceNames()
	for _, in := range infos {
		ctx := fmt.Sprintf("job %q", in.job.Name)
		if in.job.UsesNeeds {
			g.checkNeeds(ctx, in, in.job.Needs)
		}
		for _, r := range in.job.Rules {
			if r.UsesNeeds {
				g.checkNeeds(ctx+": rules", in, r.Needs)
			}
		}
		g.checkDependencies(ctx, in)
		g.checkOnStop(ctx, in)
	}
	g.checkCycles()
}

// unknown reports a job name that names no visible job.
func (g *graph) unknown(pos Pos, ctx, what, name string) {
	msg := fmt.Sprintf("%s: %s %q, which is not a job", ctx, what, name)
	if strings.HasPrefix(name, ".") {
		msg += " (hidden jobs are templates and never run)"
	} else if s := (keywords{supported: g.names}).suggest(name); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	g.p.d.Errorf(pos, "%s", msg)
}

// later reports whether target's stage comes after in's; false when either
// stage is undefined (already reported).
func (g *graph) compareStages(in, target *jobInfo) (int, bool) {
	if !in.stageOK || !target.stageOK {
		return 0, false
	}
	return g.stage[target.job.Stage] - g.stage[in.job.Stage], true
}

func (g *graph) checkNeeds(ctx string, in *jobInfo, needs []Need) {
	for _, nd := range needs {
		t, ok := g.byName[nd.Job]
		if !ok {
			if !nd.Optional {
				g.unknown(nd.Pos, ctx, "needs", nd.Job)
			}
			continue
		}
		if c, ok := g.compareStages(in, t); ok && c > 0 {
			g.p.d.Errorf(nd.Pos, "%s: needs %q, which is in a later stage (%s comes after %s)", ctx, nd.Job, t.job.Stage, in.job.Stage)
		}
		if len(nd.Matrix) == 0 {
			continue
		}
		if t.job.Parallel == nil || len(t.job.Parallel.Matrix) == 0 {
			g.p.d.Errorf(nd.Pos, "%s: needs %q with parallel:matrix, but %q has no parallel:matrix", ctx, nd.Job, nd.Job)
			continue
		}
		have := map[string]bool{}
		for _, inst := range t.job.instances() {
			have[inst.name] = true
		}
		for _, name := range matrixNames(nd.Job, nd.Matrix) {
			if !have[name] {
				g.p.d.Errorf(nd.Pos, "%s: needs %q, which %q's parallel:matrix does not make", ctx, name, nd.Job)
			}
		}
	}
}

func (g *graph) checkDependencies(ctx string, in *jobInfo) {
	j := in.job
	if !j.UsesDependencies {
		return
	}
	needed := map[string]bool{}
	for _, nd := range j.Needs {
		needed[nd.Job] = true
	}
	for i, dep := range j.Dependencies {
		pos := j.Pos
		if i < len(in.deps) {
			pos = in.deps[i].Pos
		}
		t, ok := g.byName[dep]
		if !ok {
			g.unknown(pos, ctx, "dependencies lists", dep)
			continue
		}
		if c, ok := g.compareStages(in, t); ok && (c > 0 || c == 0 && !needed[dep]) {
			g.p.d.Errorf(pos, "%s: dependencies lists %q, which is not in an earlier stage", ctx, dep)
			continue
		}
		if j.UsesNeeds && !needed[dep] {
			g.p.d.Errorf(pos, "%s: dependencies lists %q, which must be in needs too", ctx, dep)
		}
	}
}

func (g *graph) checkOnStop(ctx string, in *jobInfo) {
	env := in.job.Environment
	if env == nil || env.OnStop == "" {
		return
	}
	pos := in.job.Pos
	if in.onStop != nil {
		pos = in.onStop.Pos
	}
	t, ok := g.byName[env.OnStop]
	switch {
	case !ok:
		g.unknown(pos, ctx, "environment:on_stop names", env.OnStop)
	case t.job.Environment == nil:
		g.p.d.Errorf(pos, "%s: environment:on_stop job %q has no environment", ctx, env.OnStop)
	case t.job.Environment.Name != env.Name:
		g.p.d.Errorf(pos, "%s: environment:on_stop job %q stops environment %q, not %q", ctx, env.OnStop, t.job.Environment.Name, env.Name)
	case t.job.Environment.Action != "stop":
		g.p.d.Errorf(pos, "%s: environment:on_stop job %q needs environment:action: stop", ctx, env.OnStop)
	}
}

// checkInstanceNames makes sure every job a parallel job makes has a name
// of its own.
func (g *graph) checkInstanceNames() {
	// owner is the job that makes each name; "" for a job without parallel.
	owner := map[string]string{}
	for _, in := range g.infos {
		if in.job.Parallel == nil {
			owner[in.job.Name] = ""
		}
	}
	for _, in := range g.infos {
		if in.job.Parallel == nil {
			continue
		}
		for _, inst := range in.job.instances() {
			other, ok := owner[inst.name]
			switch {
			case !ok:
				owner[inst.name] = in.job.Name
				continue
			case other == in.job.Name:
				g.p.d.Errorf(in.job.Pos, "job %q: parallel:matrix makes job %q twice", in.job.Name, inst.name)
			case other == "":
				g.p.d.Errorf(in.job.Pos, "job %q: parallel makes job %q, but a job of that name exists", in.job.Name, inst.name)
			default:
				g.p.d.Errorf(in.job.Pos, "job %q: parallel makes job %q, which job %q makes too", in.job.Name, inst.name, other)
			}
			break
		}
	}
}

// checkCycles reports needs that wait for themselves: jobs of one stage may
// need each other, so a cycle is possible.
func (g *graph) checkCycles() {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[string]int, len(g.infos))
	var stack []string
	var visit func(in *jobInfo)
	visit = func(in *jobInfo) {
		name := in.job.Name
		state[name] = active
		stack = append(stack, name)
		for _, nd := range in.job.Needs {
			t, ok := g.byName[nd.Job]
			if !ok {
				continue
			}
			switch state[nd.Job] {
			case active:
				cycle := append(slices.Clone(stack[slices.Index(stack, nd.Job):]), nd.Job)
				g.p.d.Errorf(nd.Pos, "job %q: needs form a cycle: %s", name, strings.Join(cycle, " -> "))
			case unvisited:
				visit(t)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, in := range g.infos {
		if state[in.job.Name] == unvisited {
			visit(in)
		}
	}
}
