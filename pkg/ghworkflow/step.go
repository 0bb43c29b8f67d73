package ghworkflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// step is one entry of a job's `steps:`: a run: step or a uses: step of an
// action Gantry understands.
type step struct {
	index int
	pos   pipeline.Pos
	path  string // "jobs.<id>.steps[i]"
	id    string
	name  *tmpl
	cond  *condition
	run   *tmpl
	// shell is the step's own `shell:`, nil when not written.
	shell      *yamlpos.Node
	workingDir *tmpl
	env        []envVar
	// continueOnError and timeout are nil when not written.
	continueOnError *tmpl
	timeout         *tmpl
	act             *action
}

type actionKind uint8

const (
	actCheckout actionKind = iota + 1
	actUpload
	actDownload
	actCache
)

// action is a uses: step Gantry runs itself.
type action struct {
	uses string
	kind actionKind
	with map[string]*tmpl
}

func (a *action) input(name string) *tmpl {
	if a.with == nil {
		return nil
	}
	return a.with[name]
}

var stepKeys = keys{"id", "if", "name", "uses", "run", "shell", "with", "env", "continue-on-error", "timeout-minutes", "working-directory"}

var stepID = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

const maxSteps = 1000

func (p *parser) steps(j *job, path string, n *yamlpos.Node) {
	if n.Kind != yamlpos.Sequence || len(n.Items) == 0 {
		p.d.Errorf(n.Pos, "%s must be a list of steps, with at least one, got %s", path, yamlpos.Describe(n))
		return
	}
	if len(n.Items) > maxSteps {
		p.d.Errorf(n.Pos, "%s: %d steps are more than the %d a job may have", path, len(n.Items), maxSteps)
		return
	}
	ids := map[string]pipeline.Pos{}
	for i, item := range n.Items {
		s := p.step(fmt.Sprintf("%s[%d]", path, i), i, item)
		if s == nil {
			continue
		}
		if s.id != "" {
			if prev, ok := ids[strings.ToLower(s.id)]; ok {
				p.d.Errorf(item.Get("id").Pos, "%s.id: step id %q is already used by the step at %d:%d", s.path, s.id, prev.Line, prev.Column)
			}
			ids[strings.ToLower(s.id)] = item.Get("id").Pos
		}
		j.steps = append(j.steps, s)
	}
}

func (p *parser) step(path string, index int, n *yamlpos.Node) *step {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s must be a mapping with run: or uses:, got %s", path, yamlpos.Describe(n))
		return nil
	}
	s := &step{index: index, pos: n.Pos, path: path}
	run, uses := n.Get("run"), n.Get("uses")
	switch {
	case run != nil && uses != nil:
		p.d.Errorf(uses.Pos, "%s has both run: and uses:; a step does one or the other", path)
		return nil
	case run == nil && uses == nil:
		p.d.Errorf(n.Pos, "%s has neither run: nor uses:", path)
		return nil
	}
	for _, kv := range n.Pairs {
		k, v := kv.Key, kv.Value
		kpath := path + "." + k.Value
		switch k.Value {
		case "id":
			if v.Kind != yamlpos.Scalar || !stepID.MatchString(v.Value) {
				p.d.Errorf(v.Pos, "%s: invalid step id %q: an id starts with a letter or _ and holds only letters, digits, - and _", kpath, v.Value)
				continue
			}
			s.id = v.Value
		case "if":
			s.cond = p.condition(kpath, v, availStepIf)
		case "name":
			s.name = p.template(kpath, v, availStep)
		case "run":
			s.run = p.template(kpath, v, availStep)
		case "uses":
			s.act = p.uses(kpath, v)
		case "shell":
			if run == nil {
				p.d.Errorf(k.Pos, "%s: shell is only for run: steps", path)
			} else if p.shell(kpath, v) != nil {
				s.shell = v
			}
		case "working-directory":
			if run == nil {
				p.d.Errorf(k.Pos, "%s: working-directory is only for run: steps", path)
				continue
			}
			s.workingDir = p.template(kpath, v, availStep)
			p.noRuntime(kpath, s.workingDir, "Gantry resolves the working directory before the job runs")
		case "env":
			s.env = p.env(kpath, v, availStep)
		case "continue-on-error":
			s.continueOnError = p.template(kpath, v, availStep)
			p.noRuntime(kpath, s.continueOnError, "Gantry resolves continue-on-error before the job runs")
		case "timeout-minutes":
			s.timeout = p.template(kpath, v, availStep)
			p.noRuntime(kpath, s.timeout, "Gantry resolves timeouts before the job runs")
		case "with":
			if uses == nil {
				p.d.Errorf(k.Pos, "%s: with is only for uses: steps", path)
			}
		default:
			stepKeys.unknown(p.d, path, k)
		}
	}
	if s.act != nil {
		p.with(s, n.Get("with"))
	}
	if (run != nil && s.run == nil) || (uses != nil && s.act == nil) {
		return nil
	}
	return s
}

// supportedActions is the end of the message for unsupported uses:.
const supportedActions = "Gantry runs only run: steps and the actions actions/checkout, actions/upload-artifact and actions/download-artifact (actions/cache is skipped)"

func (p *parser) uses(path string, n *yamlpos.Node) *action {
	if n.Kind != yamlpos.Scalar || n.Value == "" {
		p.d.Errorf(n.Pos, "%s must name an action, got %s", path, yamlpos.Describe(n))
		return nil
	}
	uses := n.Value
	switch {
	case strings.Contains(uses, "${{"):
		p.d.Errorf(n.Pos, "%s: %s: expressions are not allowed in uses:", path, uses)
		return nil
	case strings.HasPrefix(uses, "docker://"):
		p.d.Errorf(n.Pos, "%s: %s is not supported: %s; to run a command in an image, set the job's container: or run docker in a run: step", path, uses, supportedActions)
		return nil
	case strings.HasPrefix(uses, "./") || strings.HasPrefix(uses, "../"):
		p.d.Errorf(n.Pos, "%s: the local action %s is not supported: %s", path, uses, supportedActions)
		return nil
	}
	name, ref, ok := strings.Cut(uses, "@")
	if !ok || ref == "" || strings.Count(name, "/") < 1 {
		p.d.Errorf(n.Pos, "%s: %q is not an action reference; write {owner}/{repo}[/{path}]@{ref}, such as actions/checkout@v4", path, uses)
		return nil
	}
	a := &action{uses: uses}
	switch strings.ToLower(name) {
	case "actions/checkout":
		a.kind = actCheckout
	case "actions/upload-artifact":
		a.kind = actUpload
	case "actions/download-artifact":
		a.kind = actDownload
	case "actions/cache", "actions/cache/restore", "actions/cache/save":
		a.kind = actCache
		p.d.Warnf(n.Pos, "%s: %s is skipped: Gantry has no GitHub cache service; the step succeeds without restoring or saving anything, and its outputs (cache-hit) are empty", path, uses)
	default:
		msg := fmt.Sprintf("%s: %s is not supported: %s", path, uses, supportedActions)
		if strings.HasPrefix(strings.ToLower(name), "actions/setup-") {
			msg += "; install the tool in the job's image (container:) or with a run: step"
		}
		p.d.Errorf(n.Pos, "%s", msg)
		return nil
	}
	return a
}

// actionInputs are the inputs each action takes; used are those Gantry
// reads, the others are accepted and ignored.
var actionInputs = map[actionKind]struct {
	used, ignored, refused []string
}{
	actCheckout: {
		used: []string{"repository", "path"},
		ignored: []string{"ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user", "persist-credentials",
			"clean", "filter", "sparse-checkout", "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress",
			"lfs", "submodules", "set-safe-directory", "github-server-url"},
	},
	actUpload: {
		used:    []string{"name", "path", "if-no-files-found", "retention-days", "include-hidden-files"},
		ignored: []string{"compression-level", "overwrite"},
	},
	actDownload: {
		used:    []string{"name", "path", "pattern", "merge-multiple"},
		refused: []string{"github-token", "repository", "run-id", "artifact-ids"},
	},
}

func (p *parser) with(s *step, n *yamlpos.Node) {
	a := s.act
	spec, known := actionInputs[a.kind]
	if n == nil || n.IsNull() || !known {
		if a.kind == actUpload {
			p.d.Errorf(s.pos, "%s: %s needs with.path: the files to upload", s.path, a.uses)
		}
		return
	}
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s.with must be a mapping of inputs, got %s", s.path, yamlpos.Describe(n))
		return
	}
	a.with = map[string]*tmpl{}
	for _, kv := range n.Pairs {
		k, v := kv.Key, kv.Value
		kpath := s.path + ".with." + k.Value
		switch {
		case slices.Contains(spec.used, k.Value):
			t := p.template(kpath, v, availStep)
			p.noRuntime(kpath, t, "Gantry resolves action inputs before the job runs")
			if t != nil {
				a.with[k.Value] = t
			}
		case slices.Contains(spec.ignored, k.Value):
			if k.Value == "submodules" || k.Value == "lfs" {
				p.d.Warnf(k.Pos, "%s is ignored: the job uses the submitted source as it is", kpath)
			}
		case slices.Contains(spec.refused, k.Value):
			p.d.Errorf(k.Pos, "%s is not supported: Gantry downloads only artifacts of this run's jobs", kpath)
		default:
			all := slices.Concat(spec.used, spec.ignored, spec.refused)
			keys(all).unknown(p.d, s.path+".with", k)
		}
	}
	switch a.kind {
	case actUpload:
		if a.with["path"] == nil {
			p.d.Errorf(n.Pos, "%s: %s needs with.path: the files to upload", s.path, a.uses)
		}
		if t := a.with["if-no-files-found"]; t != nil && t.constant() && !slices.Contains([]string{"warn", "error", "ignore"}, t.n.Value) {
			p.d.Errorf(t.n.Pos, "%s.with.if-no-files-found must be warn, error or ignore, got %q", s.path, t.n.Value)
		}
	case actCheckout:
		if t := a.with["path"]; t != nil && t.constant() {
			if clean := strings.Trim(t.n.Value, "/"); clean != "" && clean != "." {
				p.d.Errorf(t.n.Pos, "%s.with.path is not supported: the job's source is already at the root of the workspace, not in %s", s.path, t.n.Value)
			}
		}
	}
}

// shellKind is how a step's script is run.
type shellSpec struct {
	// name is a built-in shell ("bash", "sh", "python", "pwsh"), or ""
	// for a custom command line.
	name string
	// argv is a custom command line's words; "{0}" in a word stands for
	// the script file.
	argv []string
}

// shell parses a `shell:` value; nil means it is invalid (recorded).
func (p *parser) shell(path string, n *yamlpos.Node) *shellSpec {
	if n.Kind != yamlpos.Scalar || strings.TrimSpace(n.Value) == "" {
		p.d.Errorf(n.Pos, "%s must name a shell, got %s", path, yamlpos.Describe(n))
		return nil
	}
	sp, err := parseShell(n.Value)
	if err != nil {
		p.d.Errorf(n.Pos, "%s: %v", path, err)
		return nil
	}
	return sp
}

func parseShell(v string) (*shellSpec, error) {
	switch v {
	case "bash", "sh", "python", "pwsh":
		return &shellSpec{name: v}, nil
	case "powershell", "cmd":
		return nil, fmt.Errorf("%s runs only on Windows runners; Gantry runs jobs on Linux: use bash, sh, python, pwsh or a command line with {0}", v)
	}
	if strings.Contains(v, "${{") {
		return nil, fmt.Errorf("expressions are not allowed in shell:")
	}
	words := strings.Fields(v)
	if !strings.Contains(v, "{0}") {
		return nil, fmt.Errorf("%q is neither a built-in shell (bash, sh, python, pwsh) nor a command line with {0} where the script's file goes, such as `perl {0}`", v)
	}
	return &shellSpec{argv: words}, nil
}
