package ghworkflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// job is one entry of `jobs:`.
type job struct {
	id   string
	pos  pipeline.Pos
	path string // "jobs.<id>"
	// name is the display name, nil when not written.
	name     *tmpl
	needs    []need
	cond     *condition
	runsOn   runsOn
	image    *tmpl
	contEnv  []envVar
	services []*service
	env      []envVar
	defaults runDefaults
	steps    []*step
	timeout  *tmpl
	// continueOnError is nil when not written.
	continueOnError *tmpl
	strategy        *strategy
	environment     *environment
	concurrency     *tmpl
}

type need struct {
	id  string
	pos pipeline.Pos
}

// runsOn is `runs-on:`: labels, each a string that may be an expression
// (one that gives a list adds every item). A runner group is ignored.
type runsOn struct {
	labels []*tmpl
}

type service struct {
	id    string
	pos   pipeline.Pos
	image *tmpl
	env   []envVar
	// ports are the container ports listed, for job.services.<id>.ports.
	ports []string
}

type environment struct {
	name, url *tmpl
}

// strategy is `strategy:`.
type strategy struct {
	pos         pipeline.Pos
	matrix      *yamlpos.Node
	failFast    *tmpl
	maxParallel *tmpl
}

var jobKeys = keys{
	"name", "permissions", "needs", "if", "runs-on", "snapshot", "environment", "concurrency",
	"outputs", "env", "defaults", "steps", "timeout-minutes", "strategy", "continue-on-error",
	"container", "services", "uses", "with", "secrets",
}

// jobID is the syntax GitHub allows for job ids.
var jobID = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

const maxJobs = 1000

func (p *parser) jobs(n *yamlpos.Node) {
	if n.Kind != yamlpos.Mapping || len(n.Pairs) == 0 {
		p.d.Errorf(n.Pos, "jobs must be a mapping of job ids to jobs, with at least one job, got %s", yamlpos.Describe(n))
		return
	}
	if len(n.Pairs) > maxJobs {
		p.d.Errorf(n.Pos, "jobs: %d jobs are more than the %d a workflow may have", len(n.Pairs), maxJobs)
		return
	}
	for _, kv := range n.Pairs {
		id := kv.Key.Value
		if !jobID.MatchString(id) {
			p.d.Errorf(kv.Key.Pos, "jobs: invalid job id %q: an id starts with a letter or _ and holds only letters, digits, - and _", id)
			continue
		}
		if kv.Value.Kind != yamlpos.Mapping {
			p.d.Errorf(kv.Value.Pos, "jobs.%s must be a mapping, got %s", id, yamlpos.Describe(kv.Value))
			continue
		}
		if other := p.w.byID[strings.ToLower(id)]; other != nil {
			p.d.Errorf(kv.Key.Pos, "jobs: job id %q differs from %q (%s) only in case, which GitHub treats as the same id", id, other.id, other.pos)
			continue
		}
		j := p.job(id, kv.Key, kv.Value)
		p.w.jobs = append(p.w.jobs, j)
		p.w.byID[strings.ToLower(id)] = j
	}
	p.checkNeeds()
}

func (p *parser) job(id string, key, n *yamlpos.Node) *job {
	j := &job{id: id, pos: key.Pos, path: "jobs." + id}
	path := j.path
	if uses := n.Get("uses"); uses != nil {
		p.d.Errorf(uses.Pos, "%s.uses: reusable workflows (%s) are not supported: Gantry runs the jobs of one workflow file; copy the called workflow's jobs into this one", path, uses.Value)
		return j
	}
	for _, kv := range n.Pairs {
		k, v := kv.Key, kv.Value
		kpath := path + "." + k.Value
		switch k.Value {
		case "name":
			j.name = p.template(kpath, v, availJobField)
		case "needs":
			for _, item := range p.stringList(kpath, v) {
				j.needs = append(j.needs, need{id: item.Value, pos: item.Pos})
			}
		case "if":
			j.cond = p.condition(kpath, v, availJobIf)
		case "runs-on":
			j.runsOn = p.runsOn(kpath, v)
		case "container":
			p.container(j, kpath, v)
		case "services":
			p.services(j, kpath, v)
		case "env":
			j.env = p.env(kpath, v, availJobEnv)
		case "defaults":
			j.defaults = p.defaults(kpath, v, availDefaults)
		case "steps":
			p.steps(j, kpath, v)
		case "timeout-minutes":
			j.timeout = p.template(kpath, v, availJobField)
		case "continue-on-error":
			j.continueOnError = p.template(kpath, v, availJobField)
		case "strategy":
			j.strategy = p.strategy(kpath, v)
		case "environment":
			j.environment = p.environment(kpath, v)
		case "concurrency":
			j.concurrency = p.concurrency(kpath, k, v)
		case "permissions":
			p.permissions(kpath, k, v)
		case "outputs":
			if v.Kind != yamlpos.Mapping {
				p.d.Errorf(v.Pos, "%s must be a mapping of output names to values, got %s", kpath, yamlpos.Describe(v))
				continue
			}
			p.d.Warnf(k.Pos, "%s is ignored: Gantry does not pass job outputs to other jobs yet", kpath)
		case "snapshot":
			p.d.Errorf(k.Pos, "%s is not supported: Gantry does not build runner images", kpath)
		case "with", "secrets":
			p.d.Errorf(k.Pos, "%s is only for jobs that call a reusable workflow with `uses:`", kpath)
		default:
			jobKeys.unknown(p.d, path, k)
		}
	}
	// On a GitHub runner without a container, steps reach services at
	// localhost through their mapped ports. Gantry always runs the job in
	// a container next to the services, as GitHub does with container:.
	if j.image == nil {
		for _, s := range j.services {
			if len(s.ports) > 0 {
				p.d.Warnf(s.pos, "%s.services.%s.ports is ignored: steps reach the service at host %q on its container port, not at localhost: Gantry runs every job in a container next to its services, as GitHub does for jobs with `container:`", path, s.id, s.id)
			}
		}
	}
	if n.Get("runs-on") == nil {
		p.d.Errorf(key.Pos, "%s has no runs-on: say which runner it runs on, for example `runs-on: ubuntu-latest`", path)
	}
	if n.Get("steps") == nil {
		p.d.Errorf(key.Pos, "%s has no steps", path)
	}
	return j
}

// checkNeeds checks that needs name jobs and form no cycle.
func (p *parser) checkNeeds() {
	for _, j := range p.w.jobs {
		seen := map[string]bool{}
		kept := j.needs[:0]
		for _, nd := range j.needs {
			t := p.w.byID[strings.ToLower(nd.id)]
			switch {
			case t == nil:
				p.d.Errorf(nd.pos, "%s.needs: job %q is not defined; the jobs are %s", j.path, nd.id, strings.Join(p.jobIDs(), ", "))
				continue
			case t == j:
				p.d.Errorf(nd.pos, "%s.needs: a job cannot need itself", j.path)
				continue
			case seen[t.id]:
				p.d.Warnf(nd.pos, "%s.needs: %s is listed twice", j.path, nd.id)
				continue
			}
			seen[t.id] = true
			kept = append(kept, need{id: t.id, pos: nd.pos})
		}
		j.needs = kept
	}
	// Depth-first search for cycles.
	state := map[*job]int{}
	var stack []string
	var visit func(j *job) bool
	visit = func(j *job) bool {
		state[j] = 1
		stack = append(stack, j.id)
		for _, nd := range j.needs {
			t := p.w.byID[strings.ToLower(nd.id)]
			switch state[t] {
			case 1:
				cycle := append(slices.Clone(stack[slices.Index(stack, t.id):]), t.id)
				p.d.Errorf(nd.pos, "%s.needs: the needs form a cycle: %s", j.path, strings.Join(cycle, " -> "))
				return false
			case 0:
				if !visit(t) {
					return false
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[j] = 2
		return true
	}
	for _, j := range p.w.jobs {
		if state[j] == 0 && !visit(j) {
			return
		}
	}
}

func (p *parser) jobIDs() []string {
	ids := make([]string, len(p.w.jobs))
	for i, j := range p.w.jobs {
		ids[i] = j.id
	}
	return ids
}

var runsOnKeys = keys{"group", "labels"}

func (p *parser) runsOn(path string, n *yamlpos.Node) runsOn {
	var r runsOn
	labels := func(lpath string, v *yamlpos.Node) {
		for _, item := range p.stringList(lpath, v) {
			if t := p.template(lpath, item, availJobField); t != nil {
				r.labels = append(r.labels, t)
			}
		}
	}
	if n.Kind == yamlpos.Mapping {
		for _, kv := range n.Pairs {
			switch kv.Key.Value {
			case "group":
				p.template(path+".group", kv.Value, availJobField)
				p.d.Warnf(kv.Key.Pos, "%s.group is ignored: Gantry has no runner groups; the labels alone choose the runner", path)
			case "labels":
				labels(path+".labels", kv.Value)
			default:
				runsOnKeys.unknown(p.d, path, kv.Key)
			}
		}
		return r
	}
	labels(path, n)
	if len(r.labels) == 0 && n.Kind == yamlpos.Sequence {
		p.d.Errorf(n.Pos, "%s: the list of runner labels is empty", path)
	}
	return r
}

var containerKeys = keys{"image", "credentials", "env", "ports", "volumes", "options"}

func (p *parser) container(j *job, path string, n *yamlpos.Node) {
	if n.Kind == yamlpos.Scalar {
		j.image = p.template(path, n, availJobField)
		return
	}
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s must be an image name or a mapping with `image:`, got %s", path, yamlpos.Describe(n))
		return
	}
	for _, kv := range n.Pairs {
		k, v := kv.Key, kv.Value
		kpath := path + "." + k.Value
		switch k.Value {
		case "image":
			j.image = p.template(kpath, v, availJobField)
		case "env":
			j.contEnv = p.env(kpath, v, availContEnv)
		case "credentials":
			p.d.Warnf(k.Pos, "%s is ignored: the runner pulls images with its own registry credentials", kpath)
		case "ports":
			p.d.Warnf(k.Pos, "%s is ignored: Gantry publishes no container ports", kpath)
		case "volumes":
			p.d.Warnf(k.Pos, "%s is ignored: Gantry mounts no volumes into job containers", kpath)
		case "options":
			p.d.Warnf(k.Pos, "%s is ignored: Gantry passes no extra options to docker create", kpath)
		default:
			containerKeys.unknown(p.d, path, k)
		}
	}
	if j.image == nil && n.Get("image") == nil {
		p.d.Errorf(n.Pos, "%s has no image", path)
	}
}

// serviceID is what a service id must look like to be a network alias.
var serviceID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (p *parser) services(j *job, path string, n *yamlpos.Node) {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s must be a mapping of service ids to services, got %s", path, yamlpos.Describe(n))
		return
	}
	for _, kv := range n.Pairs {
		id, v := kv.Key.Value, kv.Value
		spath := path + "." + id
		if !serviceID.MatchString(id) {
			p.d.Errorf(kv.Key.Pos, "%s: service id %q cannot be a host name; use letters, digits, -, _ and .", path, id)
			continue
		}
		s := &service{id: id, pos: kv.Key.Pos}
		switch v.Kind {
		case yamlpos.Scalar:
			s.image = p.template(spath, v, availJobField)
		case yamlpos.Mapping:
			for _, skv := range v.Pairs {
				k, sv := skv.Key, skv.Value
				kpath := spath + "." + k.Value
				switch k.Value {
				case "image":
					s.image = p.template(kpath, sv, availJobField)
				case "env":
					s.env = p.env(kpath, sv, availContEnv)
					for _, e := range s.env {
						p.noRuntime(kpath+"."+e.key, e.value, "services are started before the job's script, with values known beforehand")
					}
				case "ports":
					for _, port := range p.stringList(kpath, sv) {
						s.ports = append(s.ports, containerPort(port.Value))
					}
				case "credentials":
					p.d.Warnf(k.Pos, "%s is ignored: the runner pulls images with its own registry credentials", kpath)
				case "volumes":
					p.d.Warnf(k.Pos, "%s is ignored: Gantry mounts no volumes into service containers", kpath)
				case "options":
					p.d.Warnf(k.Pos, "%s is ignored: Gantry passes no extra options to service containers, and does not wait for a --health-cmd to pass; make the first step wait for the service if it needs to", kpath)
				default:
					containerKeys.unknown(p.d, spath, k)
				}
			}
		default:
			p.d.Errorf(v.Pos, "%s must be an image name or a mapping with `image:`, got %s", spath, yamlpos.Describe(v))
			continue
		}
		if s.image == nil && v.Kind == yamlpos.Mapping && v.Get("image") == nil {
			p.d.Errorf(v.Pos, "%s has no image", spath)
			continue
		}
		j.services = append(j.services, s)
	}
}

// containerPort returns the container side of a port mapping such as
// "8080:80/tcp" (80) or "5432" (5432).
func containerPort(spec string) string {
	spec, _, _ = strings.Cut(spec, "/")
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		spec = spec[i+1:]
	}
	return spec
}

// noRuntime reports a template that reads values known only while the job
// runs, where Gantry needs them before.
func (p *parser) noRuntime(path string, t *tmpl, why string) {
	if t == nil {
		return
	}
	for _, part := range t.parts {
		for _, r := range part.refs {
			if strings.HasPrefix(r, "secrets") || strings.HasPrefix(r, "steps") || strings.HasPrefix(r, "job.") || strings.HasPrefix(r, "runner.temp") || r == "github.workspace" {
				p.d.Errorf(p.src.posIn(t.n, part.off), "%s: `%s` reads %s, which is not supported here: %s", path, part.text, r, why)
				return
			}
		}
	}
}

var strategyKeys = keys{"matrix", "fail-fast", "max-parallel"}

func (p *parser) strategy(path string, n *yamlpos.Node) *strategy {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s must be a mapping (matrix, fail-fast, max-parallel), got %s", path, yamlpos.Describe(n))
		return nil
	}
	s := &strategy{pos: n.Pos}
	for _, kv := range n.Pairs {
		k, v := kv.Key, kv.Value
		kpath := path + "." + k.Value
		switch k.Value {
		case "matrix":
			s.matrix = v
			p.matrixTemplates(kpath, v)
		case "fail-fast":
			s.failFast = p.template(kpath, v, availStrategy)
		case "max-parallel":
			s.maxParallel = p.template(kpath, v, availStrategy)
		default:
			strategyKeys.unknown(p.d, path, k)
		}
	}
	if s.matrix == nil {
		p.d.Errorf(n.Pos, "%s has no matrix", path)
		return nil
	}
	return s
}

// matrixTemplates parses the expressions inside a matrix, which are
// evaluated when planning.
func (p *parser) matrixTemplates(path string, n *yamlpos.Node) {
	switch n.Kind {
	case yamlpos.Scalar:
		if strings.Contains(n.Value, "${{") {
			if t := p.template(path, n, availStrategy); t != nil {
				p.w.dyn[n] = t
			}
		}
	case yamlpos.Sequence:
		for i, item := range n.Items {
			p.matrixTemplates(fmt.Sprintf("%s[%d]", path, i), item)
		}
	case yamlpos.Mapping:
		for _, kv := range n.Pairs {
			p.matrixTemplates(path+"."+kv.Key.Value, kv.Value)
		}
	}
}

var environmentKeys = keys{"name", "url", "deployment"}

func (p *parser) environment(path string, n *yamlpos.Node) *environment {
	switch n.Kind {
	case yamlpos.Scalar:
		return &environment{name: p.template(path, n, availJobField)}
	case yamlpos.Mapping:
		e := &environment{}
		for _, kv := range n.Pairs {
			switch kv.Key.Value {
			case "name":
				e.name = p.template(path+".name", kv.Value, availJobField)
			case "url":
				e.url = p.template(path+".url", kv.Value, availEnvURL)
				if e.url != nil && slices.ContainsFunc(e.url.refs(), func(r string) bool { return strings.HasPrefix(r, "steps") || strings.HasPrefix(r, "job.") }) {
					p.d.Warnf(kv.Key.Pos, "%s reads values of the job's steps, which Gantry knows only when the job runs; the environment gets no URL", path+".url")
					e.url = nil
				}
			case "deployment":
			default:
				environmentKeys.unknown(p.d, path, kv.Key)
			}
		}
		if e.name == nil {
			p.d.Errorf(n.Pos, "%s has no name", path)
			return nil
		}
		return e
	}
	p.d.Errorf(n.Pos, "%s must be an environment name or a mapping with name and url, got %s", path, yamlpos.Describe(n))
	return nil
}

var concurrencyKeys = keys{"group", "cancel-in-progress"}

// concurrency maps a job's concurrency group to a resource group: at most
// one job of the group runs at a time, across runs.
func (p *parser) concurrency(path string, k, n *yamlpos.Node) *tmpl {
	group := n
	if n.Kind == yamlpos.Mapping {
		group = nil
		for _, kv := range n.Pairs {
			switch kv.Key.Value {
			case "group":
				group = kv.Value
			case "cancel-in-progress":
				p.d.Warnf(kv.Key.Pos, "%s.cancel-in-progress is ignored: jobs of a concurrency group wait for one another, none is canceled", path)
			default:
				concurrencyKeys.unknown(p.d, path, kv.Key)
			}
		}
		if group == nil {
			p.d.Errorf(n.Pos, "%s has no group", path)
			return nil
		}
	}
	p.d.Warnf(k.Pos, "%s: Gantry runs the jobs of the group one at a time, queued in order; GitHub instead keeps one pending job and cancels older pending ones", path)
	return p.template(path, group, availJobField)
}
