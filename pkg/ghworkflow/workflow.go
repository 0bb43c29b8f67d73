package ghworkflow

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Workflow is a parsed and validated GitHub Actions workflow. It is
// read-only: Plan may be called on it concurrently.
type Workflow struct {
	file string
	// name is `name:`, "" when absent.
	name     string
	runName  *tmpl
	on       *triggers
	env      []envVar
	defaults runDefaults
	jobs     []*job
	byID     map[string]*job
	warnings []pipeline.Warning
	src      *source
	// dyn holds the templates found inside values that are evaluated as
	// data (matrix vectors and entries), by node.
	dyn map[*yamlpos.Node]*tmpl
}

// Name returns the workflow's `name:`, or "" when it has none.
func (w *Workflow) Name() string { return w.name }

// JobCount returns the number of jobs the workflow defines (before
// matrices are expanded).
func (w *Workflow) JobCount() int { return len(w.jobs) }

// Warnings returns what the workflow does that Gantry accepts but ignores
// or approximates, sorted by position.
func (w *Workflow) Warnings() []pipeline.Warning { return slices.Clone(w.warnings) }

// envVar is one entry of an `env:` mapping.
type envVar struct {
	key   string
	pos   pipeline.Pos
	value *tmpl
}

// runDefaults is `defaults.run`.
type runDefaults struct {
	shell      *yamlpos.Node
	workingDir *tmpl
}

// gitlabOnlyKeys are top-level keys only a GitLab CI file has.
var gitlabOnlyKeys = []string{
	"stages", "variables", "default", "include", "workflow", "image", "services",
	"before_script", "after_script", "cache", "types", "pages",
}

// topKeys are the top-level keys of a workflow.
var topKeys = keys{"name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"}

// IsWorkflow reports whether a file is a GitHub Actions workflow rather
// than a GitLab CI file: its path is under .github/workflows/, or its top
// level has `jobs:` together with `on:` (or `true:`, which is how YAML 1.1
// tools write `on`) and no key that only a GitLab CI file has. It reads at
// most the top level of the file and never fails: unreadable content is
// not a workflow.
func IsWorkflow(file string, data []byte) bool {
	p := path.Clean("/" + strings.ReplaceAll(file, "\\", "/"))
	if strings.Contains(path.Dir(p)+"/", "/.github/workflows/") {
		return true
	}
	if len(data) > maxFileBytes {
		return false
	}
	top := topLevelKeys(data)
	if top == nil {
		return false
	}
	hasJobs, hasOn := false, false
	for _, k := range top {
		switch {
		case k == "jobs":
			hasJobs = true
		case k == "on" || k == "true":
			hasOn = true
		case slices.Contains(gitlabOnlyKeys, k):
			return false
		case !slices.Contains(topKeys, k):
			return false // a GitLab job
		}
	}
	return hasJobs && hasOn
}

// topLevelKeys returns the keys of the top-level mapping of data, or nil.
func topLevelKeys(data []byte) (out []string) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if l.Load(&doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, m.Content[i].Value)
	}
	return out
}

// Parse parses and validates a workflow file; file is used in positions
// and messages. On failure the error is a pipeline.ErrorList holding every
// problem found, sorted by position, each saying what to fix.
func Parse(file string, data []byte) (w *Workflow, err error) {
	p := &parser{d: &diagnostics{}, src: newSource(file, data), file: file}
	defer func() {
		// A bug must not take down a coordinator parsing what users send.
		if r := recover(); r != nil {
			w, err = nil, pipeline.ErrorList{{Pos: pipeline.Pos{File: file, Line: 1, Column: 1}, Msg: fmt.Sprintf("internal error: %v", r)}}
		}
	}()
	w = p.parse(data)
	if w == nil && !p.d.failed() {
		p.d.Errorf(pipeline.Pos{File: file, Line: 1, Column: 1}, "internal error: the workflow could not be read")
	}
	if p.d.failed() {
		return nil, p.d.sortedErrors()
	}
	w.warnings = p.d.sortedWarnings()
	return w, nil
}

// parser turns nodes into the model. It records problems and goes on, so
// that one Parse reports everything it can.
type parser struct {
	file string
	d    *diagnostics
	src  *source
	w    *Workflow
}

func (p *parser) parse(data []byte) *Workflow {
	start := pipeline.Pos{File: p.file, Line: 1, Column: 1}
	if len(data) > maxFileBytes {
		p.d.Errorf(start, "%s is too big: %d bytes, at most %d are allowed", p.file, len(data), maxFileBytes)
		return nil
	}
	root := loadYAML(p.file, data, p.d)
	switch {
	case root == nil || p.d.failed():
		return nil
	case root.IsNull():
		p.d.Errorf(start, "the workflow is empty: it needs `on:` and `jobs:`")
		return nil
	case root.Kind != yamlpos.Mapping:
		p.d.Errorf(root.Pos, "a workflow must be a mapping with `on:` and `jobs:`, got %s", yamlpos.Describe(root))
		return nil
	case !yamlpos.NewSizer(yamlLimits).Check(root, p.d, "workflow"):
		return nil
	}
	w := &Workflow{file: p.file, byID: map[string]*job{}, src: p.src, dyn: map[*yamlpos.Node]*tmpl{}}
	p.w = w
	var onNode, jobsNode *yamlpos.Node
	for _, kv := range root.Pairs {
		k, v := kv.Key, kv.Value
		switch k.Value {
		case "name":
			if v.Kind != yamlpos.Scalar {
				p.d.Errorf(v.Pos, "name must be a string, got %s", yamlpos.Describe(v))
			} else {
				w.name = scalarText(v)
			}
		case "run-name":
			w.runName = p.template("run-name", v, availRunName)
		case "on":
			onNode = v
		case "true":
			if k.Tag == "!!bool" {
				p.d.Warnf(k.Pos, "`true:` is read as `on:` (YAML 1.1 tools write `on` as true); write `on:`")
				onNode = v
			} else {
				topKeys.unknown(p.d, "the workflow", k)
			}
		case "env":
			w.env = p.env("env", v, availWorkflowEnv)
		case "defaults":
			w.defaults = p.defaults("defaults", v, 0)
		case "permissions":
			p.permissions("permissions", k, v)
		case "concurrency":
			p.template("concurrency", groupNode(v), availRunName)
			p.d.Warnf(k.Pos, "concurrency: workflow-level concurrency is ignored: Gantry does not limit or cancel whole runs; set `concurrency:` on jobs to serialise them")
		case "jobs":
			jobsNode = v
		default:
			if slices.Contains(gitlabOnlyKeys, k.Value) {
				p.d.Errorf(k.Pos, "the workflow: unknown key `%s`: this looks like a GitLab CI file, not a GitHub Actions workflow (valid keys: %s)", k.Value, strings.Join(topKeys, ", "))
				continue
			}
			topKeys.unknown(p.d, "the workflow", k)
		}
	}
	if onNode == nil {
		p.d.Errorf(root.Pos, "the workflow has no `on:`: say which events run it, for example `on: [push, pull_request]`")
	} else {
		w.on = p.triggers(onNode)
	}
	if jobsNode == nil {
		p.d.Errorf(root.Pos, "the workflow has no `jobs:`")
	} else {
		p.jobs(jobsNode)
	}
	if p.d.failed() {
		return nil
	}
	return w
}

// groupNode returns the node holding a concurrency group: the value
// itself, or its `group:`.
func groupNode(n *yamlpos.Node) *yamlpos.Node {
	if n.Kind == yamlpos.Mapping {
		return n.Get("group")
	}
	return n
}

// env reads an `env:` mapping.
func (p *parser) env(path string, n *yamlpos.Node, avail ctxSet) []envVar {
	if n.IsNull() {
		return nil
	}
	if n.Kind != yamlpos.Mapping {
		if n.Kind == yamlpos.Scalar && strings.Contains(n.Value, "${{") {
			p.d.Errorf(n.Pos, "%s: an expression that gives the whole env mapping is not supported; list the variables", path)
			return nil
		}
		p.d.Errorf(n.Pos, "%s must be a mapping of variable names to values, got %s", path, yamlpos.Describe(n))
		return nil
	}
	var out []envVar
	for _, kv := range n.Pairs {
		k, v := kv.Key, kv.Value
		vpath := path + "." + k.Value
		if v.Kind != yamlpos.Scalar {
			p.d.Errorf(v.Pos, "%s must be a string, a number or a boolean, got %s", vpath, yamlpos.Describe(v))
			continue
		}
		if k.Value == "" {
			p.d.Errorf(k.Pos, "%s: a variable name must not be empty", path)
			continue
		}
		if defaultVariables[k.Value] {
			p.d.Warnf(k.Pos, "%s: %s is a default variable, which GitHub does not let workflows set; it is ignored", path, k.Value)
			continue
		}
		if !validEnvName(k.Value) {
			p.d.Warnf(k.Pos, "%s: %q is not a valid shell variable name, so Gantry cannot set it in the environment; it is only in the env context", path, k.Value)
		}
		if t := p.template(vpath, v, avail); t != nil {
			out = append(out, envVar{key: k.Value, pos: k.Pos, value: t})
		}
	}
	return out
}

// validEnvName reports whether k can be exported by a POSIX shell.
func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

var defaultsKeys = keys{"run"}
var runDefaultsKeys = keys{"shell", "working-directory"}

// defaults reads `defaults:`; avail is 0 at the workflow level, where
// GitHub allows no expressions.
func (p *parser) defaults(path string, n *yamlpos.Node, avail ctxSet) runDefaults {
	var out runDefaults
	if n.IsNull() {
		return out
	}
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s must be a mapping with `run:`, got %s", path, yamlpos.Describe(n))
		return out
	}
	for _, kv := range n.Pairs {
		if kv.Key.Value != "run" {
			defaultsKeys.unknown(p.d, path, kv.Key)
			continue
		}
		run := kv.Value
		if run.Kind != yamlpos.Mapping {
			p.d.Errorf(run.Pos, "%s.run must be a mapping with `shell:` and `working-directory:`, got %s", path, yamlpos.Describe(run))
			continue
		}
		for _, rkv := range run.Pairs {
			switch rkv.Key.Value {
			case "shell":
				if p.shell(path+".run.shell", rkv.Value) != nil {
					out.shell = rkv.Value
				}
			case "working-directory":
				out.workingDir = p.plainOrTemplate(path+".run.working-directory", rkv.Value, avail)
			default:
				runDefaultsKeys.unknown(p.d, path+".run", rkv.Key)
			}
		}
	}
	return out
}

// plainOrTemplate parses a string that may use expressions only when
// avail is not 0.
func (p *parser) plainOrTemplate(path string, n *yamlpos.Node, avail ctxSet) *tmpl {
	if avail == 0 && n.Kind == yamlpos.Scalar && strings.Contains(n.Value, "${{") {
		p.d.Errorf(n.Pos, "%s: expressions are not allowed here", path)
		return nil
	}
	return p.template(path, n, avail)
}

// permissions accepts `permissions:` with a warning: Gantry issues no
// GITHUB_TOKEN, so there is nothing to restrict.
func (p *parser) permissions(path string, k, v *yamlpos.Node) {
	switch v.Kind {
	case yamlpos.Scalar:
		switch v.Value {
		case "read-all", "write-all", "":
		default:
			p.d.Errorf(v.Pos, "%s must be read-all, write-all or a mapping of scopes, got %q", path, v.Value)
			return
		}
	case yamlpos.Mapping:
		for _, kv := range v.Pairs {
			switch kv.Value.Value {
			case "read", "write", "none":
			default:
				p.d.Errorf(kv.Value.Pos, "%s.%s must be read, write or none, got %q", path, kv.Key.Value, kv.Value.Value)
				return
			}
		}
	default:
		p.d.Errorf(v.Pos, "%s must be read-all, write-all or a mapping of scopes, got %s", path, yamlpos.Describe(v))
		return
	}
	p.d.Warnf(k.Pos, "%s is ignored: Gantry issues no GITHUB_TOKEN whose permissions it would set", path)
}
