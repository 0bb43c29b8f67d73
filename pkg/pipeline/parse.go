package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// Parse parses a pipeline file. path is used in positions and messages.
//
// On failure the error is an ErrorList holding every problem found, sorted
// by position.
func Parse(path string, data []byte) (*Pipeline, error) {
	p := &parser{file: path, sizer: newSizer()}
	pl := p.parse(data)
	if pl == nil && len(p.d.errs) == 0 {
		p.d.errorf(Pos{File: path, Line: 1, Column: 1}, "internal error: the pipeline could not be read")
	}
	if len(p.d.errs) > 0 {
		return nil, p.d.sortedErrors()
	}
	pl.Warnings = p.d.sortedWarnings()
	return pl, nil
}

// defaultStages are the stages of a pipeline without `stages:`.
var defaultStages = []string{"build", "test", "deploy"}

const maxJobNameLen = 255

// parser normalises raw nodes into the model. It records problems and goes
// on, so one Parse reports everything it can.
type parser struct {
	file  string
	d     diagnostics
	sizer *sizer
}

// entry is a top-level key that is not a keyword: a job, or a hidden job
// (template) when its name starts with a dot.
type entry struct {
	name   string
	key    *node
	body   *node
	hidden bool
}

// topLevel is the top-level mapping sorted by role.
type topLevel struct {
	stages    *node
	variables *node
	dflt      *node
	globals   []pair
	entries   []*entry
}

func (p *parser) parse(data []byte) *Pipeline {
	root := loadYAML(p.file, data, &p.d)
	switch {
	case root == nil || len(p.d.errs) > 0:
		// The YAML itself is broken; what was read of it would only
		// yield follow-on errors.
		return nil
	case root.isNull():
		p.d.errorf(root.pos, "the pipeline is empty: it needs at least one job with a script")
		return nil
	case root.kind != mapNode:
		p.d.errorf(root.pos, "a pipeline must be a mapping of keywords and jobs, got %s", describe(root))
		return nil
	case !p.checkSize(root):
		return nil
	}
	top := p.sortTopLevel(root)

	stages, stagesOK := p.stages(top.stages)
	pl := &Pipeline{Stages: stages}
	if top.variables != nil {
		pl.Variables = p.variables("", top.variables, true)
	}
	defs := p.defaults(top.dflt, top.globals)

	resolved := p.resolveExtends(top.entries)
	if !p.checkExpanded(root, top.entries, resolved) {
		return nil
	}
	visible := 0
	for _, e := range top.entries {
		if e.hidden {
			continue
		}
		visible++
		body, ok := resolved[e.name]
		if !ok {
			continue // extends failed; its error is recorded
		}
		j, stage, checkStage := p.job(e, body, &defs)
		if stagesOK && checkStage && !slices.Contains(pl.Stages, j.Stage) {
			p.undefinedStage(j, stage, pl.Stages)
		}
		pl.Jobs = append(pl.Jobs, j)
	}
	if visible == 0 {
		p.d.errorf(root.pos, "the pipeline has no visible jobs: define at least one job whose name does not start with \".\"")
	}
	return pl
}

// sortTopLevel sorts the top-level keys into keywords and jobs, recording
// problems with the ones that are neither.
func (p *parser) sortTopLevel(root *node) topLevel {
	var top topLevel
	for _, kv := range root.pairs {
		name := kv.key.value
		switch {
		case name == "stages":
			top.stages = kv.value
		case name == "variables":
			top.variables = kv.value
		case name == "default":
			top.dflt = kv.value
		case slices.Contains(deprecatedGlobals, name):
			top.globals = append(top.globals, kv)
		case topLevelKeywords.isUnsupported(name):
			p.d.warnf(kv.key.pos, "keyword `%s` is not supported yet and was ignored", name)
		case strings.HasPrefix(name, "."):
			top.entries = append(top.entries, &entry{name: name, key: kv.key, body: kv.value, hidden: true})
		case kv.value.kind == mapNode:
			if p.checkJobName(kv.key) {
				top.entries = append(top.entries, &entry{name: name, key: kv.key, body: kv.value})
			}
		default:
			msg := fmt.Sprintf("%q is neither a keyword nor a job: a job must be a mapping of keywords, got %s", name, describe(kv.value))
			if s := topLevelKeywords.suggest(name); s != "" {
				msg += fmt.Sprintf("; did you mean `%s`?", s)
			}
			p.d.errorf(kv.key.pos, "%s", msg)
		}
	}
	return top
}

func (p *parser) checkJobName(key *node) bool {
	switch {
	case strings.TrimSpace(key.value) == "":
		p.d.errorf(key.pos, "a job name must not be empty")
	case len(key.value) > maxJobNameLen:
		p.d.errorf(key.pos, "job name %.20q... is too long: at most %d characters", key.value, maxJobNameLen)
	default:
		return true
	}
	return false
}

// stages reads `stages:`; false means the list is unusable, so jobs are
// not checked against it.
func (p *parser) stages(n *node) ([]string, bool) {
	names := []string{".pre"}
	ok := true
	var written []*node
	switch {
	case n == nil || n.isNull():
		for _, s := range defaultStages {
			written = append(written, &node{kind: scalarNode, value: s})
		}
	case n.kind != seqNode:
		p.d.errorf(n.pos, "stages must be a list of stage names, got %s", describe(n))
		ok = false
	default:
		written, ok = p.stringList("", "stages", n, false)
	}
	seen := map[string]bool{".pre": true, ".post": true}
	for _, s := range written {
		switch {
		case s.value == "":
			p.d.errorf(s.pos, "a stage name must not be empty")
		case seen[s.value]:
			if s.value != ".pre" && s.value != ".post" {
				p.d.warnf(s.pos, "stage %q is listed twice; the first place counts", s.value)
			}
		default:
			seen[s.value] = true
			names = append(names, s.value)
		}
	}
	return append(names, ".post"), ok
}

func (p *parser) undefinedStage(j *Job, stage *node, stages []string) {
	pos, hint := j.Pos, " (the default stage); set `stage:` or add it to `stages:`"
	if stage != nil {
		pos, hint = stage.pos, ""
	}
	p.d.errorf(pos, "job %q: stage %q is not defined%s; the defined stages are %s",
		j.Name, j.Stage, hint, strings.Join(stages, ", "))
}

// otherKeyword reports a key that is not implemented at this place: a
// warning for GitLab keywords to come, an error for anything else.
func (p *parser) otherKeyword(ctx string, key *node, kws keywords) {
	k := key.value
	if kws.isUnsupported(k) {
		p.d.warnf(key.pos, "%skeyword `%s` is not supported yet and was ignored", prefix(ctx), k)
		return
	}
	msg := fmt.Sprintf("unknown keyword `%s`", k)
	if s := kws.suggest(k); s != "" {
		msg += fmt.Sprintf("; did you mean `%s`?", s)
	}
	p.d.errorf(key.pos, "%s%s", prefix(ctx), msg)
}

// prefix turns a message context such as `job "build"` into a prefix.
func prefix(ctx string) string {
	if ctx == "" {
		return ""
	}
	return ctx + ": "
}

// checkExpanded bounds the work left after `extends`, which can multiply a
// big template by the number of jobs using it.
func (p *parser) checkExpanded(root *node, entries []*entry, resolved map[string]*node) bool {
	total := 0
	for _, e := range entries {
		if body, ok := resolved[e.name]; ok && !e.hidden {
			total += p.sizer.measure(body).size
		}
	}
	if total > maxNodes {
		p.d.errorf(root.pos, "the pipeline is too big: with `extends` applied its jobs have more than %d values", maxNodes)
		return false
	}
	return true
}
