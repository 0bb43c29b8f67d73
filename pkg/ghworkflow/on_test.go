package ghworkflow

import (
	"testing"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// The cheat sheet of GitHub's documentation, plus the corner cases.
func TestFilterPatterns(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"feature/*"}, "feature/my-branch", true},
		{[]string{"feature/*"}, "feature/your-branch/x", false},
		{[]string{"feature/**"}, "feature/beta-a/my-branch", true},
		{[]string{"main", "releases/mona-the-octocat"}, "releases/mona-the-octocat", true},
		{[]string{"*"}, "main", true},
		{[]string{"*"}, "releases/x", false},
		{[]string{"**"}, "all/the/branches", true},
		{[]string{"*feature"}, "mona-feature", true},
		{[]string{"*feature"}, "feature", true},
		{[]string{"v2*"}, "v2", true},
		{[]string{"v2*"}, "v2.9", true},
		{[]string{"v[12].[0-9]+.[0-9]+"}, "v1.10.1", true},
		{[]string{"v[12].[0-9]+.[0-9]+"}, "v2.0.0", true},
		{[]string{"v[12].[0-9]+.[0-9]+"}, "v3.0.0", false},
		{[]string{"v[12].[0-9]+.[0-9]+"}, "v1x10.1", false}, // `.` is only a dot
		{[]string{"*.jsx?"}, "page.js", true},
		{[]string{"*.jsx?"}, "page.jsx", true},
		{[]string{"*.js"}, "js/app.js", false},
		{[]string{"**.js"}, "src/js/app.js", true},
		{[]string{"docs/**/*.md"}, "docs/README.md", true},
		{[]string{"docs/**/*.md"}, "docs/a/markdown/file.md", true},
		{[]string{"**/docs/**"}, "docs/hello.md", true},
		{[]string{"**/docs/**"}, "space/docs/plan/space.doc", true},
		{[]string{"**/README.md"}, "README.md", true},
		{[]string{"**/*src/**"}, "my-src/code/js/app.js", true},
		{[]string{"**/migrate-*.sql"}, "db/sept/migrate-v1.sql", true},
		{[]string{"*.md", "!README.md"}, "hello.md", true},
		{[]string{"*.md", "!README.md"}, "README.md", false},
		{[]string{"*.md", "!README.md", "README*"}, "README.md", true},
		{[]string{`\!file`}, "!file", true},
		{[]string{"release/v+"}, "release/vvv", true},
		{[]string{"ü*"}, "über", true},
		{[]string{"+x"}, "+x", true}, // nothing to repeat: literal
	} {
		l := &patternList{}
		for _, p := range tc.patterns {
			fp, err := compileFilter(p)
			if err != nil {
				t.Fatalf("%q: %v", p, err)
			}
			l.patterns = append(l.patterns, fp)
		}
		if got := l.matches(tc.name); got != tc.want {
			t.Errorf("%v matches %q = %v, want %v", tc.patterns, tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"", "!", "[", "[]", "[a-Z]", `a\`} {
		if _, err := compileFilter(bad); err == nil {
			t.Errorf("pattern %q compiled", bad)
		}
	}
}

func TestTriggers(t *testing.T) {
	push := func(ref string, changed ...string) pipeline.PlanInput {
		in := onMain
		in.Ref, in.ChangedFiles = ref, changed
		if changed == nil {
			in.ChangedFiles = nil
		}
		return in
	}
	tag := func(ref string) pipeline.PlanInput {
		in := onMain
		in.Ref, in.IsTag = ref, true
		return in
	}
	mr := func(target string, changed ...string) pipeline.PlanInput {
		in := onMain
		in.Ref, in.Source, in.ChangedFiles = "feature/x", "merge_request_event", changed
		in.Predefined = append(in.Predefined, pipeline.Variable{Key: "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", Value: target})
		return in
	}
	source := func(s string) pipeline.PlanInput {
		in := onMain
		in.Source = s
		return in
	}
	for _, tc := range []struct {
		name   string
		on     string
		in     pipeline.PlanInput
		reason string // "" when the workflow runs
	}{
		{"push string", "push", push("any"), ""},
		{"push in a list", "[pull_request, push]", push("any"), ""},
		{"empty source is push", "push", source(""), ""},
		{"branches match", "push: {branches: [main, 'release/**']}", push("release/1.2/hotfix"), ""},
		{"branches do not match", "push: {branches: [main]}", push("feature/x"), `on.push.branches [main] does not match branch "feature/x"`},
		{"negated branch", "push: {branches: ['**', '!wip/**']}", push("wip/a"), `on.push.branches [**, !wip/**] does not match branch "wip/a"`},
		{"branches-ignore", "push: {branches-ignore: ['dependabot/**']}", push("dependabot/npm/x"), `on.push.branches-ignore [dependabot/**] matches branch "dependabot/npm/x"`},
		{"branches-ignore lets others run", "push: {branches-ignore: ['dependabot/**']}", push("main"), ""},
		{"tag push with only branch filters", "push: {branches: [main]}", tag("v1"), `on.push filters branches only, so pushing tag "v1" does not run it`},
		{"branch push with only tag filters", "push: {tags: ['v*']}", push("main"), `on.push filters tags only, so pushing branch "main" does not run it`},
		{"tags match", "push: {tags: ['v*']}", tag("v1.0.0"), ""},
		{"tags-ignore", "push: {tags-ignore: ['*-rc*']}", tag("v1-rc1"), `on.push.tags-ignore [*-rc*] matches tag "v1-rc1"`},
		{"no filters: tags run", "push", tag("v1"), ""},
		{"paths match", "push: {paths: ['src/**']}", push("main", "src/a.go", "README.md"), ""},
		{"paths do not match", "push: {paths: ['src/**']}", push("main", "README.md"), "on.push.paths [src/**] match none of the changed files (README.md)"},
		{"paths unknown changes", "push: {paths: ['src/**']}", push("main"), ""},
		{"paths not for tags", "push: {paths: ['src/**']}", tag("v1"), ""},
		{"paths with negation", "push: {paths: ['src/**', '!src/**/*.md']}", push("main", "src/a.md"), "match none of the changed files"},
		{"paths-ignore all", "push: {paths-ignore: ['docs/**']}", push("main", "docs/a.md", "docs/b.md"), "on.push.paths-ignore [docs/**] match every changed file (docs/a.md, docs/b.md)"},
		{"paths-ignore some", "push: {paths-ignore: ['docs/**']}", push("main", "docs/a.md", "main.go"), ""},
		{"no file changed", "push: {paths: ['**']}", push("main", []string{}...), "match none of the changed files (none)"},
		{"branches and paths both", "push: {branches: [main], paths: ['src/**']}", push("main", "src/x"), ""},
		{"pull request", "pull_request", mr("main"), ""},
		{"pull request base branch", "pull_request: {branches: [main]}", mr("develop"), `on.pull_request.branches [main] does not match base branch "develop"`},
		{"pull request paths-ignore", "pull_request: {paths-ignore: ['**.md']}", mr("main", "README.md"), "on.pull_request.paths-ignore [**.md] match every changed file"},
		{"pull request types", "pull_request: {types: [closed, labeled]}", mr("main"), "on.pull_request.types [closed, labeled] include none of opened, synchronize and reopened"},
		{"pull request with synchronize", "pull_request: {types: [synchronize]}", mr("main"), ""},
		{"pull_request_target", "pull_request_target", mr("main"), ""},
		{"no pull request event", "push", mr("main"), "on does not include pull_request or pull_request_target (it has push)"},
		{"dispatch from the web", "workflow_dispatch", source("web"), ""},
		{"dispatch from the API", "[push, workflow_dispatch]", source("api"), ""},
		{"schedule", "schedule: [{cron: '0 0 * * *'}]", source("schedule"), ""},
		{"schedule not listed", "push", source("schedule"), "on does not include schedule (it has push)"},
		{"trigger", "repository_dispatch", source("trigger"), ""},
		{"unknown source", "push", source("chat"), `pipeline source "chat" has no GitHub Actions event`},
		{"reusable only", "workflow_call", push("main"), "it is a reusable workflow, run only when another workflow calls it"},
		{"events Gantry never has", "[issues, release]", push("main"), "on does not include push (it has issues, release)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustParse(t, "on:\n"+indent(tc.on+"\n", "  ")+"jobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n")
			plan := mustPlan(t, w, tc.in)
			switch {
			case tc.reason == "" && !plan.Created:
				t.Errorf("not created: %s", plan.Reason)
			case tc.reason != "" && plan.Created:
				t.Errorf("created, want %q", tc.reason)
			case tc.reason != "":
				checkContains(t, "reason", []string{plan.Reason}, tc.reason)
			}
		})
	}
}

func TestGithubContext(t *testing.T) {
	w := mustParse(t, `on: [push, pull_request, workflow_dispatch]
run-name: ${{ github.event_name }} ${{ github.ref }} ${{ github.ref_name }} ${{ github.ref_type }} ${{ github.head_ref }}>${{ github.base_ref }} ${{ github.repository }} ${{ github.repository_owner }} ${{ github.event.pull_request.number }}
jobs:
  j:
    runs-on: x
    steps: [{run: x}]
`)
	for _, tc := range []struct {
		in   pipeline.PlanInput
		want string
	}{
		{onMain, "push refs/heads/main main branch > acme/shop acme "},
		{pipeline.PlanInput{Ref: "v1.2", IsTag: true, Source: "push"}, "push refs/tags/v1.2 v1.2 tag >   "},
		{pipeline.PlanInput{Ref: "feature/x", Source: "merge_request_event", DefaultBranch: "main", Predefined: []pipeline.Variable{
			{Key: "CI_PROJECT_PATH", Value: "group/sub/shop"}, {Key: "CI_MERGE_REQUEST_IID", Value: "42"}}},
			"pull_request refs/pull/42/merge 42/merge branch feature/x>main group/sub/shop group/sub 42"},
		{pipeline.PlanInput{Ref: "main", Source: "web"}, "workflow_dispatch refs/heads/main main branch >   "},
	} {
		plan := mustPlan(t, w, tc.in)
		if plan.Name != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.in, plan.Name, tc.want)
		}
	}
}

func TestDispatchInputs(t *testing.T) {
	w := mustParse(t, `on:
  workflow_dispatch:
    inputs:
      env: {type: choice, options: [staging, production], default: staging}
      dry: {type: boolean, default: true}
      count: {type: number, default: 3}
      note: {description: free text}
run-name: ${{ inputs.env }} ${{ inputs.dry && 'dry' || 'wet' }} ${{ inputs.count > 3 }} [${{ inputs.note }}] ${{ github.event.inputs.dry }}
jobs:
  j:
    runs-on: x
    steps: [{run: x}]
`)
	in := pipeline.PlanInput{Ref: "main", Source: "web"}
	if got := mustPlan(t, w, in).Name; got != "staging dry false [] true" {
		t.Errorf("defaults: %q", got)
	}
	in.Variables = []pipeline.Variable{{Key: "env", Value: "production"}, {Key: "dry", Value: "false"}, {Key: "count", Value: "9"}, {Key: "note", Value: "hi"}}
	if got := mustPlan(t, w, in).Name; got != "production wet true [hi] false" {
		t.Errorf("given: %q", got)
	}
}
