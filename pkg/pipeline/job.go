package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
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
func (p *parser) inheritableKeyword(ctx string, kv yamlpos.Pair, in *inheritable) bool {
	switch kv.Key.Value {
	case "image":
		in.image = p.image(ctx, kv.Value)
	case "services":
		in.services = p.services(ctx, kv.Value)
	case "before_script":
		in.beforeScript = p.script(ctx, "before_script", kv.Value)
	case "after_script":
		in.afterScript = p.script(ctx, "after_script", kv.Value)
	case "tags":
		tags, _ := p.stringList(ctx, "tags", kv.Value, false)
		in.tags = texts(tags)
	case "retry":
		in.retry = p.retry(ctx, kv.Value)
	case "artifacts":
		in.artifacts = p.artifacts(ctx, kv.Value)
	case "cache":
		in.cache = p.caches(ctx, kv.Value)
	case "interruptible":
		if b, ok := p.boolean(ctx, "interruptible", kv.Value); ok {
			in.interruptible = &b
		}
	case "timeout":
		in.timeout, _, _ = p.durationValue(ctx, "timeout", kv.Value, maxTimeout, false)
	default:
		return false
	}
	if in.set == nil {
		in.set = map[string]Pos{}
	}
	in.set[kv.Key.Value] = kv.Key.Pos
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
func (p *parser) defaults(dflt *yamlpos.Node, globals []yamlpos.Pair) inheritable {
	var d, g inheritable
	for _, kv := range globals {
		p.d.Warnf(kv.Key.Pos, "top-level `%s` is deprecated; move it under `default:`", kv.Key.Value)
		p.inheritableKeyword("", kv, &g)
	}
	switch {
	case dflt == nil || dflt.IsNull():
	case dflt.Kind != yamlpos.Mapping:
		p.d.Errorf(dflt.Pos, "default must be a mapping of job keywords, got %s", yamlpos.Describe(dflt))
	default:
		for _, kv := range dflt.Pairs {
			if !defaultKeywords.isSupported(kv.Key.Value) || !p.inheritableKeyword("default", kv, &d) {
				p.otherKeyword("default", kv.Key, defaultKeywords)
			}
		}
	}
	for k, pos := range g.set {
		if _, ok := d.set[k]; ok {
			p.d.Warnf(pos, "`%s` is set both here and in `default:`; the `default:` value is used", k)
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
	stage *yamlpos.Node
	// checkStage is false when `stage:` itself is wrong; stageOK is false
	// when the stage is not usable (wrong or undefined).
	checkStage, stageOK bool
	deps                []*yamlpos.Node
	onStop              *yamlpos.Node
}

// job normalises one visible job whose `extends` and `!reference` are
// resolved into body.
func (p *parser) job(e *entry, body *yamlpos.Node, defs *inheritable) *jobInfo {
	ctx := fmt.Sprintf("job %q", e.name)
	j := &Job{Name: e.name, Stage: "test", Pos: e.key.Pos, When: "on_success"}
	info := &jobInfo{job: j, checkStage: true, stageOK: true}
	var (
		own                                     inheritable
		inheritDefault                          Inheritance
		script, when, startIn, only, except, ty *yamlpos.Pair
		rules                                   *yamlpos.Pair
		scriptsOK                               bool
	)
	if kv, ok := body.Lookup("inherit"); ok {
		inheritDefault, j.InheritVariables = p.inherit(ctx, kv.Value)
	}
	for _, kv := range body.Pairs {
		if p.inheritableKeyword(ctx, kv, &own) {
			continue
		}
		switch kv.Key.Value {
		case "stage":
			var s string
			if s, info.checkStage = p.scalar(ctx, "stage", kv.Value); info.checkStage {
				j.Stage, info.stage = s, kv.Value
			}
		case "type":
			ty = &kv
		case "script":
			var lines []*yamlpos.Node
			script = &kv
			lines, scriptsOK = p.stringList(ctx, "script", kv.Value, true)
			j.Script = texts(lines)
		case "variables":
			j.Variables = p.variables(ctx, kv.Value, false)
		case "rules":
			rules = &kv
			j.Rules, _ = p.rules(ctx, kv.Value, jobRule)
			j.UsesRules = true
		case "only":
			only = &kv
			j.Only = p.policy(ctx, "only", kv.Value)
		case "except":
			except = &kv
			j.Except = p.policy(ctx, "except", kv.Value)
		case "when":
			when = &kv
			if kv.Value.Kind == yamlpos.Scalar && kv.Value.Value == "never" {
				p.d.Errorf(kv.Value.Pos, "%s: when: never is only for rules; use `rules: [{when: never}]`", ctx)
			} else if w, ok := p.oneOf(ctx, "when", kv.Value, jobWhens...); ok {
				j.When = w
			}
		case "start_in":
			startIn = &kv
			j.StartIn, _, _ = p.durationValue(ctx, "start_in", kv.Value, maxStartIn, false)
		case "allow_failure":
			j.AllowFailure = p.allowFailure(ctx, kv.Value)
		case "manual_confirmation":
			j.ManualConfirmation, _ = p.scalar(ctx, "manual_confirmation", kv.Value)
		case "needs":
			j.Needs, _ = p.needs(ctx, kv.Value)
			if j.Needs == nil {
				j.Needs = []Need{}
			}
			j.UsesNeeds = true
		case "dependencies":
			info.deps, _ = p.stringList(ctx, "dependencies", kv.Value, false)
			j.Dependencies = texts(info.deps)
			j.UsesDependencies = true
		case "parallel":
			j.Parallel = p.parallel(ctx, kv.Value)
		case "coverage":
			j.Coverage = p.coverage(ctx, kv.Value)
		case "environment":
			j.Environment, info.onStop = p.environment(ctx, kv.Value)
		case "resource_group":
			j.ResourceGroup, _ = p.scalar(ctx, "resource_group", kv.Value)
		case "extends", "inherit":
			// Already applied.
		default:
			p.otherKeyword(ctx, kv.Key, jobKeywords)
		}
	}
	_, trigger := body.Lookup("trigger")
	switch {
	case script == nil && !trigger: // a trigger job has no script; `trigger` is refused
		p.d.Errorf(e.key.Pos, "%s: script is required", ctx)
	case scriptsOK && len(j.Script) == 0:
		p.d.Errorf(script.Value.Pos, "%s: script must not be empty", ctx)
	}
	if ty != nil {
		p.d.Warnf(ty.Key.Pos, "%s: `type` is deprecated; use `stage`", ctx)
		if info.stage == nil {
			var s string
			if s, info.checkStage = p.scalar(ctx, "type", ty.Value); info.checkStage {
				j.Stage, info.stage = s, ty.Value
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
func (p *parser) checkWhen(ctx string, j *Job, rules, when, startIn, only, except *yamlpos.Pair) {
	if rules != nil {
		for _, kv := range []*yamlpos.Pair{only, except, startIn} {
			if kv != nil {
				p.d.Errorf(kv.Key.Pos, "%s: `%s` may not be used with `rules`", ctx, kv.Key.Value)
			}
		}
		if j.When == "delayed" {
			p.d.Errorf(when.Value.Pos, "%s: when: delayed may not be used with `rules`; set `when: delayed` and `start_in` in a rule", ctx)
		}
		return
	}
	switch {
	case j.When == "delayed" && startIn == nil:
		p.d.Errorf(when.Value.Pos, "%s: when: delayed needs start_in", ctx)
	case startIn != nil && j.When != "delayed":
		p.d.Errorf(startIn.Key.Pos, "%s: start_in is only for when: delayed", ctx)
	}
}
