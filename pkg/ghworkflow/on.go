package ghworkflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// triggers is `on:`: the events that run the workflow, with their filters.
type triggers struct {
	pos    pipeline.Pos
	events []*event
}

func (t *triggers) event(name string) *event {
	for _, e := range t.events {
		if e.name == name {
			return e
		}
	}
	return nil
}

func (t *triggers) names() []string {
	out := make([]string, len(t.events))
	for i, e := range t.events {
		out[i] = e.name
	}
	return out
}

// event is one entry of `on:`.
type event struct {
	name string
	pos  pipeline.Pos
	// Filters; nil when not written.
	branches, branchesIgnore, tags, tagsIgnore, paths, pathsIgnore *patternList
	// types is nil when not written.
	types []string
	// inputs are workflow_dispatch's.
	inputs []dispatchInput
}

// dispatchInput is one of workflow_dispatch's inputs.
type dispatchInput struct {
	name string
	typ  string // string (the default), boolean, number, choice, environment
	def  *yamlpos.Node
}

// events are GitHub's workflow events.
var events = []string{
	"branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment",
	"deployment_status", "discussion", "discussion_comment", "fork", "gollum", "issue_comment",
	"issues", "label", "merge_group", "milestone", "page_build", "project", "project_card",
	"project_column", "public", "pull_request", "pull_request_review", "pull_request_review_comment",
	"pull_request_target", "push", "registry_package", "release", "repository_dispatch", "schedule",
	"status", "watch", "workflow_call", "workflow_dispatch", "workflow_run",
}

var pullRequestTypes = []string{
	"assigned", "unassigned", "labeled", "unlabeled", "opened", "edited", "closed", "reopened",
	"synchronize", "converted_to_draft", "locked", "unlocked", "enqueued", "dequeued", "milestoned",
	"demilestoned", "ready_for_review", "review_requested", "review_request_removed",
	"auto_merge_enabled", "auto_merge_disabled",
}

// defaultPullRequestTypes are the activity types of pull_request when
// `types:` is not written.
var defaultPullRequestTypes = []string{"opened", "synchronize", "reopened"}

// eventKeys are the keys each event's mapping may hold.
var eventKeys = map[string]keys{
	"push":                {"branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore"},
	"pull_request":        {"types", "branches", "branches-ignore", "paths", "paths-ignore"},
	"pull_request_target": {"types", "branches", "branches-ignore", "paths", "paths-ignore"},
	"workflow_dispatch":   {"inputs"},
	"workflow_call":       {"inputs", "outputs", "secrets"},
	"workflow_run":        {"workflows", "types", "branches", "branches-ignore"},
	"merge_group":         {"types", "branches", "branches-ignore"},
}

func (p *parser) triggers(n *yamlpos.Node) *triggers {
	t := &triggers{pos: n.Pos}
	add := func(name *yamlpos.Node, body *yamlpos.Node) {
		if name.Kind != yamlpos.Scalar {
			p.d.Errorf(name.Pos, "on: an event must be a name such as push, got %s", yamlpos.Describe(name))
			return
		}
		if !slices.Contains(events, name.Value) {
			msg := fmt.Sprintf("on: unknown event `%s`", name.Value)
			if s := keys(events).suggest(name.Value); s != "" {
				msg += fmt.Sprintf("; did you mean `%s`?", s)
			}
			p.d.Errorf(name.Pos, "%s", msg)
			return
		}
		if t.event(name.Value) != nil {
			p.d.Warnf(name.Pos, "on: event %s is listed twice", name.Value)
			return
		}
		t.events = append(t.events, p.event(name, body))
	}
	switch n.Kind {
	case yamlpos.Scalar:
		add(n, nil)
	case yamlpos.Sequence:
		if len(n.Items) == 0 {
			p.d.Errorf(n.Pos, "on: the list of events is empty")
		}
		for _, item := range n.Items {
			add(item, nil)
		}
	case yamlpos.Mapping:
		if len(n.Pairs) == 0 {
			p.d.Errorf(n.Pos, "on: the mapping of events is empty")
		}
		for _, kv := range n.Pairs {
			add(kv.Key, kv.Value)
		}
	}
	return t
}

// event reads one event and its filters.
func (p *parser) event(name, body *yamlpos.Node) *event {
	e := &event{name: name.Value, pos: name.Pos}
	path := "on." + e.name
	if body.IsNull() {
		return e
	}
	if e.name == "schedule" {
		p.schedule(path, body)
		return e
	}
	if body.Kind != yamlpos.Mapping {
		p.d.Errorf(body.Pos, "%s must be a mapping of filters, got %s", path, yamlpos.Describe(body))
		return e
	}
	valid, known := eventKeys[e.name]
	if !known {
		valid = keys{"types"}
	}
	for _, kv := range body.Pairs {
		k, v := kv.Key, kv.Value
		kpath := path + "." + k.Value
		if !slices.Contains(valid, k.Value) {
			valid.unknown(p.d, path, k)
			continue
		}
		switch k.Value {
		case "branches":
			e.branches = p.patterns(kpath, v)
		case "branches-ignore":
			e.branchesIgnore = p.patterns(kpath, v)
		case "tags":
			e.tags = p.patterns(kpath, v)
		case "tags-ignore":
			e.tagsIgnore = p.patterns(kpath, v)
		case "paths":
			e.paths = p.patterns(kpath, v)
		case "paths-ignore":
			e.pathsIgnore = p.patterns(kpath, v)
		case "types":
			e.types = p.types(kpath, e.name, v)
		case "inputs":
			if e.name == "workflow_dispatch" {
				e.inputs = p.dispatchInputs(kpath, v)
			}
		}
	}
	for _, pair := range [][2]string{{"branches", "branches-ignore"}, {"tags", "tags-ignore"}, {"paths", "paths-ignore"}} {
		if body.Get(pair[0]) != nil && body.Get(pair[1]) != nil {
			p.d.Errorf(body.Get(pair[1]).Pos, "%s: use either %s or %s, not both; to exclude some names in %s, add patterns starting with `!`", path, pair[0], pair[1], pair[0])
		}
	}
	return e
}

func (p *parser) schedule(path string, n *yamlpos.Node) {
	if n.Kind != yamlpos.Sequence {
		p.d.Errorf(n.Pos, "%s must be a list of `- cron: ...` entries, got %s", path, yamlpos.Describe(n))
		return
	}
	for _, item := range n.Items {
		cron := item.Get("cron")
		if item.Kind != yamlpos.Mapping || cron == nil || cron.Kind != yamlpos.Scalar || len(strings.Fields(cron.Value)) != 5 {
			p.d.Errorf(item.Pos, "%s: each entry must be `- cron: '<minute> <hour> <day> <month> <weekday>'`", path)
		}
	}
}

// stringList reads a string or a list of strings.
func (p *parser) stringList(path string, n *yamlpos.Node) []*yamlpos.Node {
	switch n.Kind {
	case yamlpos.Scalar:
		if n.IsNull() {
			return nil
		}
		return []*yamlpos.Node{n}
	case yamlpos.Sequence:
		var out []*yamlpos.Node
		for _, item := range n.Items {
			if item.Kind != yamlpos.Scalar || item.IsNull() {
				p.d.Errorf(item.Pos, "%s: each entry must be a string, got %s", path, yamlpos.Describe(item))
				continue
			}
			out = append(out, item)
		}
		return out
	}
	p.d.Errorf(n.Pos, "%s must be a string or a list of strings, got %s", path, yamlpos.Describe(n))
	return nil
}

func (p *parser) patterns(path string, n *yamlpos.Node) *patternList {
	l := &patternList{key: path}
	positive := false
	for _, item := range p.stringList(path, n) {
		fp, err := compileFilter(item.Value)
		if err != nil {
			p.d.Errorf(item.Pos, "%s: invalid pattern %q: %v", path, item.Value, err)
			continue
		}
		positive = positive || !fp.neg
		l.patterns = append(l.patterns, fp)
	}
	if len(l.patterns) > 0 && !positive && !strings.HasSuffix(path, "-ignore") {
		p.d.Errorf(n.Pos, "%s has only negative patterns (starting with `!`), which match nothing; add a positive pattern such as '**' before them", path)
	}
	return l
}

func (p *parser) types(path, event string, n *yamlpos.Node) []string {
	out := []string{}
	for _, item := range p.stringList(path, n) {
		if (event == "pull_request" || event == "pull_request_target") && !slices.Contains(pullRequestTypes, item.Value) {
			p.d.Errorf(item.Pos, "%s: unknown activity type %q; valid types are %s", path, item.Value, strings.Join(pullRequestTypes, ", "))
			continue
		}
		out = append(out, item.Value)
	}
	return out
}

var dispatchInputKeys = keys{"description", "required", "default", "type", "options", "deprecationMessage"}

func (p *parser) dispatchInputs(path string, n *yamlpos.Node) []dispatchInput {
	if n.IsNull() {
		return nil
	}
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s must be a mapping of input names to their settings, got %s", path, yamlpos.Describe(n))
		return nil
	}
	var out []dispatchInput
	for _, kv := range n.Pairs {
		in := dispatchInput{name: kv.Key.Value, typ: "string"}
		ipath := path + "." + kv.Key.Value
		if kv.Value.Kind == yamlpos.Mapping {
			for _, s := range kv.Value.Pairs {
				switch s.Key.Value {
				case "type":
					switch s.Value.Value {
					case "string", "boolean", "number", "choice", "environment":
						in.typ = s.Value.Value
					default:
						p.d.Errorf(s.Value.Pos, "%s.type must be string, boolean, number, choice or environment, got %q", ipath, s.Value.Value)
					}
				case "default":
					in.def = s.Value
				case "description", "required", "options", "deprecationMessage":
				default:
					dispatchInputKeys.unknown(p.d, ipath, s.Key)
				}
			}
		} else if !kv.Value.IsNull() {
			p.d.Errorf(kv.Value.Pos, "%s must be a mapping (description, type, default...), got %s", ipath, yamlpos.Describe(kv.Value))
		}
		out = append(out, in)
	}
	return out
}

// refFacts are what the triggers are matched against.
type refFacts struct {
	event string // the GitHub event the run is for
	isTag bool
	// name is the branch or tag pushed; for a pull request, base is the
	// branch it merges into.
	name, base string
	// changed is nil when unknown.
	changed []string
}

// sourceEvents maps GitLab's pipeline sources to the GitHub events that
// could have started the run, in the order they are tried.
var sourceEvents = map[string][]string{
	"":                            {"push"},
	"push":                        {"push"},
	"merge_request_event":         {"pull_request", "pull_request_target"},
	"external_pull_request_event": {"pull_request", "pull_request_target"},
	"web":                         {"workflow_dispatch"},
	"api":                         {"workflow_dispatch"},
	"schedule":                    {"schedule"},
	"trigger":                     {"repository_dispatch"},
}

// match returns the event that runs the workflow for f, or "" and why not.
func (t *triggers) match(source string, f *refFacts) (string, string) {
	candidates, ok := sourceEvents[source]
	if !ok {
		return "", fmt.Sprintf("pipeline source %q has no GitHub Actions event, so the workflow does not run", source)
	}
	var reason string
	for _, name := range candidates {
		e := t.event(name)
		if e == nil {
			continue
		}
		fe := *f
		fe.event = name
		r := e.allows(&fe)
		if r == "" {
			return name, ""
		}
		if reason == "" {
			reason = r
		}
	}
	if reason == "" {
		only := ""
		if slices.Equal(t.names(), []string{"workflow_call"}) {
			only = "; it is a reusable workflow, run only when another workflow calls it"
		}
		reason = fmt.Sprintf("on does not include %s (it has %s)%s", strings.Join(candidates, " or "), strings.Join(t.names(), ", "), only)
	}
	return "", reason
}

// allows returns "" when e triggers for f, and otherwise why not.
func (e *event) allows(f *refFacts) string {
	path := "on." + e.name
	switch e.name {
	case "push":
		if f.isTag {
			if e.tags == nil && e.tagsIgnore == nil && (e.branches != nil || e.branchesIgnore != nil) {
				return fmt.Sprintf("%s filters branches only, so pushing tag %q does not run it", path, f.name)
			}
			// GitHub does not evaluate path filters for tags.
			return refFilter(e.tags, e.tagsIgnore, "tag", f.name)
		}
		if e.branches == nil && e.branchesIgnore == nil && (e.tags != nil || e.tagsIgnore != nil) {
			return fmt.Sprintf("%s filters tags only, so pushing branch %q does not run it", path, f.name)
		}
		if r := refFilter(e.branches, e.branchesIgnore, "branch", f.name); r != "" {
			return r
		}
		return pathFilter(e.paths, e.pathsIgnore, f.changed)
	case "pull_request", "pull_request_target":
		types := e.types
		if types == nil {
			types = defaultPullRequestTypes
		}
		if !slices.ContainsFunc(defaultPullRequestTypes, func(t string) bool { return slices.Contains(types, t) }) {
			return fmt.Sprintf("%s.types [%s] include none of opened, synchronize and reopened, the activity of a merge request pipeline", path, strings.Join(types, ", "))
		}
		if r := refFilter(e.branches, e.branchesIgnore, "base branch", f.base); r != "" {
			return r
		}
		return pathFilter(e.paths, e.pathsIgnore, f.changed)
	}
	return ""
}

func refFilter(include, ignore *patternList, what, name string) string {
	switch {
	case include != nil && !include.matches(name):
		return fmt.Sprintf("%s %s does not match %s %q", include.key, include, what, name)
	case ignore != nil && ignore.matches(name):
		return fmt.Sprintf("%s %s matches %s %q", ignore.key, ignore, what, name)
	}
	return ""
}

// pathFilter applies paths filters; unknown changes (nil) pass them.
// A push that changes no file runs no workflow with a paths filter.
func pathFilter(include, ignore *patternList, changed []string) string {
	if changed == nil || (include == nil && ignore == nil) {
		return ""
	}
	if include != nil && !slices.ContainsFunc(changed, include.matches) {
		return fmt.Sprintf("%s %s match none of the changed files (%s)", include.key, include, listSome(changed))
	}
	if ignore != nil && !slices.ContainsFunc(changed, func(f string) bool { return !ignore.matches(f) }) {
		if len(changed) == 0 {
			return fmt.Sprintf("%s is set and no file changed", ignore.key)
		}
		return fmt.Sprintf("%s %s match every changed file (%s)", ignore.key, ignore, listSome(changed))
	}
	return ""
}

// listSome lists the first few names.
func listSome(names []string) string {
	const most = 5
	if len(names) == 0 {
		return "none"
	}
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
}
