package pipeline

import (
	"fmt"
	"slices"
	"time"
)

// maxTimeout is GitLab's limit on a job's timeout.
const maxTimeout = month

// inheritable holds the keywords `default:` can give to jobs, as read from
// `default:`, from the deprecated top-level globals, or from a job.
type inheritable struct {
	image         *Image
	services      []Service
	beforeScript  []string
	afterScript   []string
	tags          []string
	retry         *Retry
	artifacts     *Artifacts
	cache         []Cache
	interruptible *bool
	timeout       time.Duration
	// set records which keywords were written, and where.
	set map[string]Pos
}

// inheritableKeyword reads kv into in if it is one of the inheritable
// keywords, and reports whether it was.
func (p *parser) inheritableKeyword(ctx string, kv pair, in *inheritable) bool {
	switch kv.key.value {
	case "image":
		in.image = p.image(ctx, kv.value)
	case "services":
		in.services = p.services(ctx, kv.value)
	case "before_script":
		in.beforeScript = p.script(ctx, "before_script", kv.value)
	case "after_script":
		in.afterScript = p.script(ctx, "after_script", kv.value)
	case "tags":
		tags, _ := p.stringList(ctx, "tags", kv.value, false)
		in.tags = texts(tags)
	case "retry":
		in.retry = p.retry(ctx, kv.value)
	case "artifacts":
		in.artifacts = p.artifacts(ctx, kv.value)
	case "cache":
		in.cache = p.caches(ctx, kv.value)
	case "interruptible":
		if b, ok := p.boolean(ctx, "interruptible", kv.value); ok {
			in.interruptible = &b
		}
	case "timeout":
		in.timeout, _, _ = p.durationValue(ctx, "timeout", kv.value, maxTimeout, false)
	default:
		return false
	}
	if in.set == nil {
		in.set = map[string]Pos{}
	}
	in.set[kv.key.value] = kv.key.pos
	return true
}

// fill copies from d the keywords in does not set and which inherit lets
// through: a job's own value replaces the default entirely, nothing is
// merged.
func (in *inheritable) fill(d *inheritable, inherit Inheritance) {
	for k, pos := range d.set {
		if _, ok := in.set[k]; ok || !inherit.Includes(k) {
			continue
		}
		// Copies, so jobs sharing a default never share memory.
		switch k {
		case "image":
			in.image = d.image.clone()
		case "services":
			in.services = cloneServices(d.services)
		case "before_script":
			in.beforeScript = slices.Clone(d.beforeScript)
		case "after_script":
			in.afterScript = slices.Clone(d.afterScript)
		case "tags":
			in.tags = slices.Clone(d.tags)
		case "retry":
			if d.retry != nil {
				r := *d.retry
				r.When, r.ExitCodes = slices.Clone(r.When), slices.Clone(r.ExitCodes)
				in.retry = &r
			}
		case "artifacts":
			in.artifacts = cloneArtifacts(d.artifacts)
		case "cache":
			in.cache = cloneCaches(d.cache)
		case "interruptible":
			if d.interruptible != nil {
				b := *d.interruptible
				in.interruptible = &b
			}
		case "timeout":
			in.timeout = d.timeout
		}
		if in.set == nil {
			in.set = map[string]Pos{}
		}
		in.set[k] = pos
	}
}

// defaults reads `default:` and the deprecated top-level globals, which
// GitLab applies as `default:` values.
func (p *parser) defaults(dflt *node, globals []pair) inheritable {
	var d, g inheritable
	for _, kv := range globals {
		p.d.warnf(kv.key.pos, "top-level `%s` is deprecated; move it under `default:`", kv.key.value)
		p.inheritableKeyword("", kv, &g)
	}
	switch {
	case dflt == nil || dflt.isNull():
	case dflt.kind != mapNode:
		p.d.errorf(dflt.pos, "default must be a mapping of job keywords, got %s", describe(dflt))
	default:
		for _, kv := range dflt.pairs {
			if !defaultKeywords.isSupported(kv.key.value) || !p.inheritableKeyword("default", kv, &d) {
				p.otherKeyword("default", kv.key, defaultKeywords)
			}
		}
	}
	for k, pos := range g.set {
		if _, ok := d.set[k]; ok {
			p.d.warnf(pos, "`%s` is set both here and in `default:`; the `default:` value is used", k)
		}
	}
	d.fill(&g, Inheritance{})
	return d
}

// jobInfo is a normalised job and what the checks spanning jobs need to
// point at.
type jobInfo struct {
	job *Job
	// stage is the node of the job's `stage:`, nil when defaulted.
	stage *node
	// checkStage is false when `stage:` itself is wrong; stageOK is false
	// when the stage is not usable (wrong or undefined).
	checkStage, stageOK bool
	deps                []*node
	onStop              *node
}

// job normalises one visible job whose `extends` and `!reference` are
// resolved into body.
func (p *parser) job(e *entry, body *node, defs *inheritable) *jobInfo {
	ctx := fmt.Sprintf("job %q", e.name)
	j := &Job{Name: e.name, Stage: "test", Pos: e.key.pos, When: "on_success"}
	info := &jobInfo{job: j, checkStage: true, stageOK: true}
	var (
		own                                     inheritable
		inheritDefault                          Inheritance
		script, when, startIn, only, except, ty *pair
		rules                                   *pair
		scriptsOK                               bool
	)
	if kv, ok := body.lookup("inherit"); ok {
		inheritDefault, j.InheritVariables = p.inherit(ctx, kv.value)
	}
	for _, kv := range body.pairs {
		if p.inheritableKeyword(ctx, kv, &own) {
			continue
		}
		switch kv.key.value {
		case "stage":
			var s string
			if s, info.checkStage = p.scalar(ctx, "stage", kv.value); info.checkStage {
				j.Stage, info.stage = s, kv.value
			}
		case "type":
			ty = &kv
		case "script":
			var lines []*node
			script = &kv
			lines, scriptsOK = p.stringList(ctx, "script", kv.value, true)
			j.Script = texts(lines)
		case "variables":
			j.Variables = p.variables(ctx, kv.value, false)
		case "rules":
			rules = &kv
			j.Rules, _ = p.rules(ctx, kv.value, jobRule)
			j.UsesRules = true
		case "only":
			only = &kv
			j.Only = p.policy(ctx, "only", kv.value)
		case "except":
			except = &kv
			j.Except = p.policy(ctx, "except", kv.value)
		case "when":
			when = &kv
			if kv.value.kind == scalarNode && kv.value.value == "never" {
				p.d.errorf(kv.value.pos, "%s: when: never is only for rules; use `rules: [{when: never}]`", ctx)
			} else if w, ok := p.oneOf(ctx, "when", kv.value, jobWhens...); ok {
				j.When = w
			}
		case "start_in":
			startIn = &kv
			j.StartIn, _, _ = p.durationValue(ctx, "start_in", kv.value, maxStartIn, false)
		case "allow_failure":
			j.AllowFailure = p.allowFailure(ctx, kv.value)
		case "manual_confirmation":
			j.ManualConfirmation, _ = p.scalar(ctx, "manual_confirmation", kv.value)
		case "needs":
			j.Needs, _ = p.needs(ctx, kv.value)
			if j.Needs == nil {
				j.Needs = []Need{}
			}
			j.UsesNeeds = true
		case "dependencies":
			info.deps, _ = p.stringList(ctx, "dependencies", kv.value, false)
			j.Dependencies = texts(info.deps)
			j.UsesDependencies = true
		case "parallel":
			j.Parallel = p.parallel(ctx, kv.value)
		case "coverage":
			j.Coverage = p.coverage(ctx, kv.value)
		case "environment":
			j.Environment, info.onStop = p.environment(ctx, kv.value)
		case "resource_group":
			j.ResourceGroup, _ = p.scalar(ctx, "resource_group", kv.value)
		case "extends", "inherit":
			// Already applied.
		default:
			p.otherKeyword(ctx, kv.key, jobKeywords)
		}
	}
	_, trigger := body.lookup("trigger")
	switch {
	case script == nil && !trigger: // a trigger job has no script; `trigger` is refused
		p.d.errorf(e.key.pos, "%s: script is required", ctx)
	case scriptsOK && len(j.Script) == 0:
		p.d.errorf(script.value.pos, "%s: script must not be empty", ctx)
	}
	if ty != nil {
		p.d.warnf(ty.key.pos, "%s: `type` is deprecated; use `stage`", ctx)
		if info.stage == nil {
			var s string
			if s, info.checkStage = p.scalar(ctx, "type", ty.value); info.checkStage {
				j.Stage, info.stage = s, ty.value
			}
		}
	}
	p.checkWhen(ctx, j, rules, when, startIn, only, except)
	info.stageOK = info.checkStage

	own.fill(defs, inheritDefault)
	j.Image = own.image
	j.Services = own.services
	j.BeforeScript = own.beforeScript
	j.AfterScript = own.afterScript
	j.Tags = own.tags
	j.Retry = own.retry
	j.Artifacts = own.artifacts
	j.Cache = own.cache
	j.Interruptible = own.interruptible
	j.Timeout = own.timeout
	return info
}

// checkWhen checks the keywords that decide whether and when a job runs
// against each other, as GitLab does.
func (p *parser) checkWhen(ctx string, j *Job, rules, when, startIn, only, except *pair) {
	if rules != nil {
		for _, kv := range []*pair{only, except, startIn} {
			if kv != nil {
				p.d.errorf(kv.key.pos, "%s: `%s` may not be used with `rules`", ctx, kv.key.value)
			}
		}
		if j.When == "delayed" {
			p.d.errorf(when.value.pos, "%s: when: delayed may not be used with `rules`; set `when: delayed` and `start_in` in a rule", ctx)
		}
		return
	}
	switch {
	case j.When == "delayed" && startIn == nil:
		p.d.errorf(when.value.pos, "%s: when: delayed needs start_in", ctx)
	case startIn != nil && j.When != "delayed":
		p.d.errorf(startIn.key.pos, "%s: start_in is only for when: delayed", ctx)
	}
}
