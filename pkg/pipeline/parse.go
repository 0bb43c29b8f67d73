package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/expr/gitlab"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// ParseOptions give Parse what it needs beyond the pipeline file itself.
// The zero value reads a self-contained file: `include:` is then an error.
type ParseOptions struct {
	// ReadFile reads a file of the submitted source tree, for
	// `include: local`. The path is slash-separated, relative to the root of
	// the tree, cleaned, never absolute and never above the root. A missing
	// file is reported with an error wrapping fs.ErrNotExist.
	ReadFile func(path string) ([]byte, error)
	// ListFiles lists the regular files of the source tree with paths as
	// ReadFile takes them, for `include: local` paths with wildcards and
	// `include:rules:exists` (when Facts.FileExists is nil).
	ListFiles func() ([]string, error)
	// Facts, when the ref is known, provide the variables `include` paths
	// may use and the facts `include:rules` test. Without them include
	// paths cannot use variables, `if:` sees no variables and `changes:`
	// is true.
	Facts *PlanInput
}

// Parse parses a self-contained pipeline file; path is used in positions
// and messages. It is ParseWith with zero options.
func Parse(path string, data []byte) (*Pipeline, error) {
	return ParseWith(path, data, ParseOptions{})
}

// ParseWith parses a pipeline file and the files it includes.
//
// On failure the error is an ErrorList holding every problem found, sorted
// by position.
func ParseWith(path string, data []byte, opts ParseOptions) (pl *Pipeline, err error) {
	p := &parser{file: path, opts: opts, sizer: yamlpos.NewSizer(yamlLimits)}
	defer func() {
		// A bug must not take down a coordinator parsing what users send.
		if r := recover(); r != nil {
			pl, err = nil, ErrorList{{Pos: Pos{File: path, Line: 1, Column: 1}, Msg: fmt.Sprintf("internal error: %v", r)}}
		}
	}()
	pl = p.parse(data)
	if pl == nil && len(p.d.errs) == 0 {
		p.d.Errorf(Pos{File: path, Line: 1, Column: 1}, "internal error: the pipeline could not be read")
	}
	if len(p.d.errs) > 0 {
		return nil, p.d.sortedErrors()
	}
	pl.Files = p.files
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
	opts  ParseOptions
	d     diagnostics
	sizer *yamlpos.Sizer
	files []string
	exprs map[string]*gitlab.Expr // parsed expressions by source
}

// entry is a top-level key that is not a keyword: a job, or a hidden job
// (template) when its name starts with a dot.
type entry struct {
	name   string
	key    *yamlpos.Node
	body   *yamlpos.Node
	hidden bool
}

// topLevel is the top-level mapping sorted by role.
type topLevel struct {
	stages    *yamlpos.Node
	variables *yamlpos.Node
	dflt      *yamlpos.Node
	workflow  *yamlpos.Node
	globals   []yamlpos.Pair
	entries   []*entry
}

func (p *parser) parse(data []byte) *Pipeline {
	root := p.loadPipeline(data)
	switch {
	case root == nil || len(p.d.errs) > 0:
		// The YAML itself is broken, or an include is; what was read
		// would only yield follow-on errors.
		return nil
	case root.IsNull():
		p.d.Errorf(root.Pos, "the pipeline is empty: it needs at least one job with a script")
		return nil
	case root.Kind != yamlpos.Mapping:
		p.d.Errorf(root.Pos, "a pipeline must be a mapping of keywords and jobs, got %s", yamlpos.Describe(root))
		return nil
	case !p.sizer.Check(root, &p.d, "pipeline"):
		return nil
	}
	top := p.sortTopLevel(root)
	resolved := p.resolveExtends(top.entries)
	if !p.resolveReferences(&top, resolved) || !p.checkExpanded(root, &top, resolved) {
		return nil
	}

	stages, stagesOK := p.stages(top.stages)
	pl := &Pipeline{Stages: stages}
	if top.variables != nil {
		pl.Variables = p.variables("", top.variables, true)
	}
	if top.workflow != nil {
		pl.Workflow = p.workflow(top.workflow)
	}
	defs := p.defaults(top.dflt, top.globals)

	var infos []*jobInfo
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
		info := p.job(e, body, &defs)
		if stagesOK && info.checkStage && !slices.Contains(pl.Stages, info.job.Stage) {
			p.undefinedStage(info.job, info.stage, pl.Stages)
			info.stageOK = false
		}
		pl.Jobs = append(pl.Jobs, info.job)
		infos = append(infos, info)
	}
	if visible == 0 {
		p.d.Errorf(root.Pos, "the pipeline has no visible jobs: define at least one job whose name does not start with \".\"")
	}
	if stagesOK {
		p.checkGraph(pl, infos)
	}
	return pl
}

// sortTopLevel sorts the top-level keys into keywords and jobs, recording
// problems with the ones that are neither.
func (p *parser) sortTopLevel(root *yamlpos.Node) topLevel {
	var top topLevel
	var types *yamlpos.Pair
	for _, kv := range root.Pairs {
		name := kv.Key.Value
		switch {
		case name == "stages":
			top.stages = kv.Value
		case name == "types":
			types = &kv
		case name == "variables":
			top.variables = kv.Value
		case name == "default":
			top.dflt = kv.Value
		case name == "workflow":
			top.workflow = kv.Value
		case name == "include":
			// Already applied by loadPipeline.
		case slices.Contains(deprecatedGlobals, name):
			top.globals = append(top.globals, kv)
		case strings.HasPrefix(name, "."):
			top.entries = append(top.entries, &entry{name: name, key: kv.Key, body: kv.Value, hidden: true})
		case kv.Value.Kind == yamlpos.Mapping:
			if p.checkJobName(kv.Key) {
				top.entries = append(top.entries, &entry{name: name, key: kv.Key, body: kv.Value})
			}
		default:
			msg := fmt.Sprintf("%q is neither a keyword nor a job: a job must be a mapping of keywords, got %s", name, yamlpos.Describe(kv.Value))
			if s := topLevelKeywords.suggest(name); s != "" {
				msg += fmt.Sprintf("; did you mean `%s`?", s)
			}
			p.d.Errorf(kv.Key.Pos, "%s", msg)
		}
	}
	if types != nil {
		if top.stages != nil {
			p.d.Warnf(types.Key.Pos, "`types` is a deprecated name of `stages` and is ignored, since `stages` is set")
		} else {
			p.d.Warnf(types.Key.Pos, "`types` is deprecated; rename it `stages`")
			top.stages = types.Value
		}
	}
	return top
}

func (p *parser) checkJobName(key *yamlpos.Node) bool {
	switch {
	case strings.TrimSpace(key.Value) == "":
		p.d.Errorf(key.Pos, "a job name must not be empty")
	case len(key.Value) > maxJobNameLen:
		p.d.Errorf(key.Pos, "job name %.20q... is too long: at most %d characters", key.Value, maxJobNameLen)
	default:
		return true
	}
	return false
}

// stages reads `stages:`; false means the list is unusable, so jobs are
// not checked against it.
func (p *parser) stages(n *yamlpos.Node) ([]string, bool) {
	names := []string{".pre"}
	ok := true
	var written []*yamlpos.Node
	switch {
	case n == nil || n.IsNull():
		for _, s := range defaultStages {
			written = append(written, &yamlpos.Node{Kind: yamlpos.Scalar, Value: s})
		}
	case n.Kind != yamlpos.Sequence:
		p.d.Errorf(n.Pos, "stages must be a list of stage names, got %s", yamlpos.Describe(n))
		ok = false
	default:
		written, ok = p.stringList("", "stages", n, false)
	}
	seen := map[string]bool{".pre": true, ".post": true}
	for _, s := range written {
		switch {
		case s.Value == "":
			p.d.Errorf(s.Pos, "a stage name must not be empty")
		case seen[s.Value]:
			if s.Value != ".pre" && s.Value != ".post" {
				p.d.Warnf(s.Pos, "stage %q is listed twice; the first place counts", s.Value)
			}
		default:
			seen[s.Value] = true
			names = append(names, s.Value)
		}
	}
	return append(names, ".post"), ok
}

func (p *parser) undefinedStage(j *Job, stage *yamlpos.Node, stages []string) {
	pos, hint := j.Pos, " (the default stage); set `stage:` or add it to `stages:`"
	if stage != nil {
		pos, hint = stage.Pos, ""
	}
	p.d.Errorf(pos, "job %q: stage %q is not defined%s; the defined stages are %s",
		j.Name, j.Stage, hint, strings.Join(stages, ", "))
}

// otherKeyword reports a key that is not supported at this place: a
// warning for keywords Gantry ignores, an error with the reason for those
// it refuses, an error for anything else.
func (p *parser) otherKeyword(ctx string, key *yamlpos.Node, kws keywords) {
	k := key.Value
	if kws.isIgnored(k) {
		p.d.Warnf(key.Pos, "%skeyword `%s` is not used by Gantry and was ignored", prefix(ctx), k)
		return
	}
	if reason, ok := kws.refused[k]; ok {
		p.d.Errorf(key.Pos, "%skeyword `%s` is not supported: %s", prefix(ctx), k, reason)
		return
	}
	msg := fmt.Sprintf("unknown keyword `%s`", k)
	if s := kws.suggest(k); s != "" {
		msg += fmt.Sprintf("; did you mean `%s`?", s)
	}
	p.d.Errorf(key.Pos, "%s%s", prefix(ctx), msg)
}

// prefix turns a message context such as `job "build"` into a prefix.
func prefix(ctx string) string {
	if ctx == "" {
		return ""
	}
	return ctx + ": "
}

// checkExpanded bounds the work left after `extends` and `!reference`,
// which can multiply a big template by the number of jobs using it.
func (p *parser) checkExpanded(root *yamlpos.Node, top *topLevel, resolved map[string]*yamlpos.Node) bool {
	total := 0
	for _, e := range top.entries {
		if body, ok := resolved[e.name]; ok && !e.hidden {
			total += p.sizer.Measure(body).Nodes
		}
	}
	for _, n := range []*yamlpos.Node{top.stages, top.variables, top.dflt, top.workflow} {
		if n != nil {
			total += p.sizer.Measure(n).Nodes
		}
	}
	for _, kv := range top.globals {
		total += p.sizer.Measure(kv.Value).Nodes
	}
	if total > maxNodes {
		p.d.Errorf(root.Pos, "the pipeline is too big: with `extends` and `!reference` applied its jobs have more than %d values", maxNodes)
		return false
	}
	return true
}
