package ghworkflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/pipeline"
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
	shell      *node
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

func (p *parser) steps(j *job, path string, n *node) {
	if n.kind != seqNode || len(n.items) == 0 {
		p.d.errorf(n.pos, "%s must be a list of steps, with at least one, got %s", path, describe(n))
		return
	}
	if len(n.items) > maxSteps {
		p.d.errorf(n.pos, "%s: %d steps are more than the %d a job may have", path, len(n.items), maxSteps)
		return
	}
	ids := map[string]pipeline.Pos{}
	for i, item := range n.items {
		s := p.step(fmt.Sprintf("%s[%d]", path, i), i, item)
		if s == nil {
			continue
		}
		if s.id != "" {
			if prev, ok := ids[strings.ToLower(s.id)]; ok {
				p.d.errorf(item.get("id").pos, "%s.id: step id %q is already used by the step at %d:%d", s.path, s.id, prev.Line, prev.Column)
			}
			ids[strings.ToLower(s.id)] = item.get("id").pos
		}
		j.steps = append(j.steps, s)
	}
}

func (p *parser) step(path string, index int, n *node) *step {
	if n.kind != mapNode {
		p.d.errorf(n.pos, "%s must be a mapping with run: or uses:, got %s", path, describe(n))
		return nil
	}
	s := &step{index: index, pos: n.pos, path: path}
	run, uses := n.get("run"), n.get("uses")
	switch {
	case run != nil && uses != nil:
		p.d.errorf(uses.pos, "%s has both run: and uses:; a step does one or the other", path)
		return nil
	case run == nil && uses == nil:
		p.d.errorf(n.pos, "%s has neither run: nor uses:", path)
		return nil
	}
	for _, kv := range n.pairs {
		k, v := kv.key, kv.value
		kpath := path + "." + k.value
		switch k.value {
		case "id":
			if v.kind != scalarNode || !stepID.MatchString(v.value) {
				p.d.errorf(v.pos, "%s: invalid step id %q: an id starts with a letter or _ and holds only letters, digits, - and _", kpath, v.value)
				continue
			}
			s.id = v.value
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
				p.d.errorf(k.pos, "%s: shell is only for run: steps", path)
			} else if p.shell(kpath, v) != nil {
				s.shell = v
			}
		case "working-directory":
			if run == nil {
				p.d.errorf(k.pos, "%s: working-directory is only for run: steps", path)
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
				p.d.errorf(k.pos, "%s: with is only for uses: steps", path)
			}
		default:
			stepKeys.unknown(p.d, path, k)
		}
	}
	if s.act != nil {
		p.with(s, n.get("with"))
	}
	if (run != nil && s.run == nil) || (uses != nil && s.act == nil) {
		return nil
	}
	return s
}

// supportedActions is the end of the message for unsupported uses:.
const supportedActions = "Gantry runs only run: steps and the actions actions/checkout, actions/upload-artifact and actions/download-artifact (actions/cache is skipped)"

func (p *parser) uses(path string, n *node) *action {
	if n.kind != scalarNode || n.value == "" {
		p.d.errorf(n.pos, "%s must name an action, got %s", path, describe(n))
		return nil
	}
	uses := n.value
	switch {
	case strings.Contains(uses, "${{"):
		p.d.errorf(n.pos, "%s: %s: expressions are not allowed in uses:", path, uses)
		return nil
	case strings.HasPrefix(uses, "docker://"):
		p.d.errorf(n.pos, "%s: %s is not supported: %s; to run a command in an image, set the job's container: or run docker in a run: step", path, uses, supportedActions)
		return nil
	case strings.HasPrefix(uses, "./") || strings.HasPrefix(uses, "../"):
		p.d.errorf(n.pos, "%s: the local action %s is not supported: %s", path, uses, supportedActions)
		return nil
	}
	name, ref, ok := strings.Cut(uses, "@")
	if !ok || ref == "" || strings.Count(name, "/") < 1 {
		p.d.errorf(n.pos, "%s: %q is not an action reference; write {owner}/{repo}[/{path}]@{ref}, such as actions/checkout@v4", path, uses)
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
		p.d.warnf(n.pos, "%s: %s is skipped: Gantry has no GitHub cache service; the step succeeds without restoring or saving anything, and its outputs (cache-hit) are empty", path, uses)
	default:
		msg := fmt.Sprintf("%s: %s is not supported: %s", path, uses, supportedActions)
		if strings.HasPrefix(strings.ToLower(name), "actions/setup-") {
			msg += "; install the tool in the job's image (container:) or with a run: step"
		}
		p.d.errorf(n.pos, "%s", msg)
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

func (p *parser) with(s *step, n *node) {
	a := s.act
	spec, known := actionInputs[a.kind]
	if n == nil || n.isNull() || !known {
		if a.kind == actUpload {
			p.d.errorf(s.pos, "%s: %s needs with.path: the files to upload", s.path, a.uses)
		}
		return
	}
	if n.kind != mapNode {
		p.d.errorf(n.pos, "%s.with must be a mapping of inputs, got %s", s.path, describe(n))
		return
	}
	a.with = map[string]*tmpl{}
	for _, kv := range n.pairs {
		k, v := kv.key, kv.value
		kpath := s.path + ".with." + k.value
		switch {
		case slices.Contains(spec.used, k.value):
			t := p.template(kpath, v, availStep)
			p.noRuntime(kpath, t, "Gantry resolves action inputs before the job runs")
			if t != nil {
				a.with[k.value] = t
			}
		case slices.Contains(spec.ignored, k.value):
			if k.value == "submodules" || k.value == "lfs" {
				p.d.warnf(k.pos, "%s is ignored: the job uses the submitted source as it is", kpath)
			}
		case slices.Contains(spec.refused, k.value):
			p.d.errorf(k.pos, "%s is not supported: Gantry downloads only artifacts of this run's jobs", kpath)
		default:
			all := slices.Concat(spec.used, spec.ignored, spec.refused)
			keys(all).unknown(p.d, s.path+".with", k)
		}
	}
	switch a.kind {
	case actUpload:
		if a.with["path"] == nil {
			p.d.errorf(n.pos, "%s: %s needs with.path: the files to upload", s.path, a.uses)
		}
		if t := a.with["if-no-files-found"]; t != nil && t.constant() && !slices.Contains([]string{"warn", "error", "ignore"}, t.n.value) {
			p.d.errorf(t.n.pos, "%s.with.if-no-files-found must be warn, error or ignore, got %q", s.path, t.n.value)
		}
	case actCheckout:
		if t := a.with["path"]; t != nil && t.constant() {
			if clean := strings.Trim(t.n.value, "/"); clean != "" && clean != "." {
				p.d.errorf(t.n.pos, "%s.with.path is not supported: the job's source is already at the root of the workspace, not in %s", s.path, t.n.value)
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
func (p *parser) shell(path string, n *node) *shellSpec {
	if n.kind != scalarNode || strings.TrimSpace(n.value) == "" {
		p.d.errorf(n.pos, "%s must name a shell, got %s", path, describe(n))
		return nil
	}
	sp, err := parseShell(n.value)
	if err != nil {
		p.d.errorf(n.pos, "%s: %v", path, err)
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
