package pipeline

import (
	"fmt"
	"slices"
)

// inheritable holds the keywords `default:` can give to jobs, as read from
// `default:`, from the deprecated top-level globals, or from a job.
type inheritable struct {
	image        *Image
	services     []Service
	beforeScript []string
	afterScript  []string
	tags         []string
	retry        *Retry
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
	default:
		return false
	}
	if in.set == nil {
		in.set = map[string]Pos{}
	}
	in.set[kv.key.value] = kv.key.pos
	return true
}

// fill copies from d the keywords in does not set: a job's own value
// replaces the default entirely, nothing is merged.
func (in *inheritable) fill(d *inheritable) {
	for k, pos := range d.set {
		if _, ok := in.set[k]; ok {
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
	d.fill(&g)
	return d
}

// job normalises one visible job whose `extends` are resolved into body.
// It returns the node of its `stage:` value (nil when defaulted) to check
// the stage once all stages are known, and whether to check it (not when
// `stage:` itself is wrong).
func (p *parser) job(e *entry, body *node, defs *inheritable) (*Job, *node, bool) {
	ctx := fmt.Sprintf("job %q", e.name)
	j := &Job{Name: e.name, Stage: "test", Pos: e.key.pos}
	var (
		own       inheritable
		stage     *node
		script    *node
		scriptsOK bool
		stageOK   = true
	)
	for _, kv := range body.pairs {
		if p.inheritableKeyword(ctx, kv, &own) {
			continue
		}
		switch kv.key.value {
		case "stage":
			var s string
			if s, stageOK = p.scalar(ctx, "stage", kv.value); stageOK {
				j.Stage, stage = s, kv.value
			}
		case "script":
			var lines []*node
			script = kv.value
			lines, scriptsOK = p.stringList(ctx, "script", kv.value, true)
			j.Script = texts(lines)
		case "variables":
			j.Variables = p.variables(ctx, kv.value, false)
		case "extends":
			// Already applied by resolveExtends.
		default:
			p.otherKeyword(ctx, kv.key, jobKeywords)
		}
	}
	switch {
	case script == nil:
		p.d.errorf(e.key.pos, "%s: script is required", ctx)
	case scriptsOK && len(j.Script) == 0:
		p.d.errorf(script.pos, "%s: script must not be empty", ctx)
	}
	own.fill(defs)
	j.Image = own.image
	j.Services = own.services
	j.BeforeScript = own.beforeScript
	j.AfterScript = own.afterScript
	j.Tags = own.tags
	j.Retry = own.retry
	return j, stage, stageOK
}
