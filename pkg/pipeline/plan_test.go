package pipeline

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	onMain    = PlanInput{Ref: "main", DefaultBranch: "main", SHA: "abcdef0123456789", ChangedFiles: []string{"src/a.go"}}
	onFeature = PlanInput{Ref: "feature/x", DefaultBranch: "main", ChangedFiles: []string{"docs/guide.md"}}
	onTag     = PlanInput{Ref: "v1.2.3", IsTag: true, DefaultBranch: "main"}
	onMR      = PlanInput{Ref: "feature/x", Source: "merge_request_event", DefaultBranch: "main", ChangedFiles: []string{"docs/guide.md"}}
	onWeb     = PlanInput{Ref: "main", Source: "web", DefaultBranch: "main", ChangedFiles: []string{"src/a.go"}}
)

func mustPlan(t *testing.T, pl *Pipeline, in PlanInput) *Plan {
	t.Helper()
	plan, err := pl.Plan(in)
	if err != nil {
		t.Fatalf("Plan: unexpected error:\n%v", err)
	}
	checkPlanInvariants(t, plan)
	return plan
}

func planned(plan *Plan) []string {
	var out []string
	for _, j := range plan.Jobs {
		out = append(out, j.Name)
	}
	return out
}

func planJob(t *testing.T, plan *Plan, name string) *PlanJob {
	t.Helper()
	for _, j := range plan.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no planned job %q; planned %v", name, planned(plan))
	return nil
}

func variable(j *PlanJob, key string) (string, bool) {
	for _, v := range j.Variables {
		if v.Key == key {
			return v.Value, true
		}
	}
	return "", false
}

func TestRulesEvaluation(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		in    PlanInput
		// want is "" when the job is not planned, else "when allow_failure".
		want string
	}{
		{"if matches", `[{if: '$CI_COMMIT_BRANCH == "main"'}]`, onMain, "on_success false"},
		{"if does not match", `[{if: '$CI_COMMIT_BRANCH == "main"'}]`, onFeature, ""},
		{"first match wins", `[{if: $CI_COMMIT_BRANCH, when: manual}, {when: always}]`, onMain, "manual false"},
		{"never excludes", `[{if: $CI_COMMIT_TAG, when: never}, {when: always}]`, onTag, ""},
		{"fall through to catch-all", `[{if: $CI_COMMIT_TAG, when: never}, {when: always}]`, onMain, "always false"},
		{"no rule matches", `[{if: $CI_COMMIT_TAG}]`, onMain, ""},
		{"empty rules never run", `[]`, onMain, ""},
		{"rule allow_failure", `[{if: $CI_COMMIT_BRANCH, allow_failure: true}]`, onMain, "on_success true"},
		{"changes match", `[{changes: ["src/**/*"]}]`, onMain, "on_success false"},
		{"changes do not match", `[{changes: ["src/**/*"]}]`, onFeature, ""},
		{"changes unknown on a tag", `[{changes: ["src/**/*"]}]`, onTag, "on_success false"},
		{"changes always true for web", `[{changes: ["nothing/*"]}]`, onWeb, "on_success false"},
		{"changes with a variable", `[{changes: ["$DIR/*"]}]`, PlanInput{Ref: "x", ChangedFiles: []string{"docs/a"}, Variables: []Variable{{Key: "DIR", Value: "docs"}}}, "on_success false"},
		{"changes in MR", `[{if: '$CI_PIPELINE_SOURCE == "merge_request_event"', changes: ["docs/*.md"]}]`, onMR, "on_success false"},
		{"if and changes both needed", `[{if: $CI_COMMIT_TAG, changes: ["src/**/*"]}]`, onMain, ""},
		{"exists", `[{exists: [Dockerfile]}]`, withFiles(onMain, "Dockerfile"), "on_success false"},
		{"exists glob", `[{exists: ["**/*.tf"]}]`, withFiles(onMain, "infra/aws/main.tf"), "on_success false"},
		{"exists no file", `[{exists: [Dockerfile]}]`, withFiles(onMain, "README.md"), ""},
		{"exists without FileExists", `[{exists: [Dockerfile]}]`, onMain, ""},
		{"delayed", `[{when: delayed, start_in: 10 minutes}]`, onMain, "delayed false"},
		{"regexp", `[{if: '$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/'}]`, onTag, "on_success false"},
		{"variables of the job are visible", `[{if: '$JOB_VAR == "yes"'}]`, onMain, "on_success false"},
		{"expanded variables are compared", `[{if: '$NESTED == "yes-main"'}]`, onMain, "on_success false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := mustParse(t, "j:\n  script: x\n  variables:\n    JOB_VAR: \"yes\"\n    NESTED: $JOB_VAR-$CI_COMMIT_BRANCH\n  rules: "+tt.rules+"\nother:\n  script: x\n")
			plan := mustPlan(t, pl, tt.in)
			got := ""
			if i := slices.Index(planned(plan), "j"); i >= 0 {
				j := plan.Jobs[i]
				got = j.When + " " + map[bool]string{true: "true", false: "false"}[j.AllowFailure]
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func withFiles(in PlanInput, files ...string) PlanInput {
	in.FileExists = func(glob string) bool {
		return slices.ContainsFunc(files, func(f string) bool { return MatchGlob(glob, f) })
	}
	return in
}

func TestOnlyExcept(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		in     PlanInput
		want   bool
	}{
		{"default: branches", "", onMain, true},
		{"default: tags", "", onTag, true},
		{"default: not merge requests", "", onMR, false},
		{"ref name", "only: [main]", onMain, true},
		{"other ref name", "only: [main]", onFeature, false},
		{"regexp", `only: ['/^feature\/.*/']`, onFeature, true},
		{"regexp flags", `only: ['/^FEATURE/i']`, onFeature, true},
		{"regexp does not apply to merge requests", `only: ['/^feature/']`, onMR, false},
		{"merge_requests", "only: [merge_requests]", onMR, true},
		{"tags keyword", "only: [tags]", onTag, true},
		{"branches keyword on a tag", "only: [branches]", onTag, false},
		{"pushes", "only: [pushes]", onMain, true},
		{"web", "only: [web]", onWeb, true},
		{"schedules", "only: [schedules]", PlanInput{Ref: "main", Source: "schedule"}, true},
		{"except tags", "except: [tags]", onTag, false},
		{"except other", "except: [tags]", onMain, true},
		{"only variables", "only: {variables: [$RUN]}", PlanInput{Ref: "x", Variables: []Variable{{Key: "RUN", Value: "1"}}}, true},
		{"only variables unset", "only: {variables: [$RUN]}", onMain, false},
		{"only variables and refs", "only: {refs: [main], variables: [$RUN]}", PlanInput{Ref: "x", Variables: []Variable{{Key: "RUN", Value: "1"}}}, false},
		{"only changes", "only: {changes: [src/*]}", onMain, true},
		{"only changes no match", "only: {changes: [src/*]}", onFeature, false},
		{"only changes, any ref", "only: {changes: [docs/*]}", onMR, true},
		{"except changes", "except: {changes: [docs/*]}", onFeature, false},
		{"except variables", "except: {variables: ['$CI_COMMIT_REF_NAME =~ /^feature/']}", onFeature, false},
		{"project path", "only: [main@acme/shop]", withProject(onMain, "acme/shop"), true},
		{"other project path", "only: [main@acme/shop]", withProject(onMain, "fork/shop"), false},
		{"empty only", "only: []", onMain, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := mustParse(t, "j:\n  script: x\n  "+tt.policy+"\nother:\n  script: x\n  rules: [{when: always}]\n")
			got := slices.Contains(planned(mustPlan(t, pl, tt.in)), "j")
			if got != tt.want {
				t.Errorf("planned = %v, want %v", got, tt.want)
			}
		})
	}
}

func withProject(in PlanInput, path string) PlanInput {
	in.Predefined = []Variable{{Key: "CI_PROJECT_PATH", Value: path}}
	return in
}

func TestWorkflow(t *testing.T) {
	src := `workflow:
  name: 'Pipeline for $CI_COMMIT_REF_NAME ($KIND)'
  rules:
    - if: $CI_COMMIT_TAG
      variables: {KIND: release}
    - if: '$CI_PIPELINE_SOURCE == "merge_request_event"'
      when: never
    - if: $CI_COMMIT_BRANCH
variables:
  KIND: branch
j:
  script: x
`
	pl := mustParse(t, src)
	tag := mustPlan(t, pl, onTag)
	if !tag.Created || tag.Name != "Pipeline for v1.2.3 (release)" {
		t.Errorf("tag: created %v name %q", tag.Created, tag.Name)
	}
	if v, _ := variable(tag.Jobs[0], "KIND"); v != "release" {
		t.Errorf("tag: KIND = %q, want the workflow rule's", v)
	}
	if main := mustPlan(t, pl, onMain); !main.Created || main.Name != "Pipeline for main (branch)" || len(main.Jobs) != 1 {
		t.Errorf("main: %+v", main)
	}
	mr := mustPlan(t, pl, onMR)
	if mr.Created || !strings.Contains(mr.Reason, "ci.yml:6:7: when: never") || mr.Jobs != nil {
		t.Errorf("merge request: created %v reason %q", mr.Created, mr.Reason)
	}
	none := mustPlan(t, pl, PlanInput{Source: "api"})
	if none.Created || none.Reason != "no workflow:rules match" {
		t.Errorf("api without ref: created %v reason %q", none.Created, none.Reason)
	}
	if text := mr.Text(); text != "pipeline not created: workflow:rules at ci.yml:6:7: when: never\n" {
		t.Errorf("Text() = %q", text)
	}
}

func TestVariablePrecedence(t *testing.T) {
	pl := mustParse(t, `
workflow:
  rules:
    - variables: {WF: workflow, OVER: workflow}
variables:
  GLOBAL: global
  OVER: global
  REF: "$CI_COMMIT_REF_NAME"
j:
  script: x
  variables:
    OVER: job
    JOB: job
    RAW: {value: "$GLOBAL", expand: false}
  parallel:
    matrix:
      - OVER: matrix
  rules:
    - variables: {OVER: rule, RULE: rule}
`)
	plan := mustPlan(t, pl, PlanInput{
		Ref: "main", Predefined: []Variable{{Key: "CI_PROJECT_PATH", Value: "acme/shop"}, {Key: "CI_COMMIT_REF_NAME", Value: "override"}},
		Variables: []Variable{{Key: "USER", Value: "user"}, {Key: "GLOBAL", Value: "from-run"}},
	})
	j := plan.Jobs[0]
	for key, want := range map[string]string{
		"OVER":               "rule",     // rules > matrix > job > workflow > global
		"WF":                 "workflow", // workflow rules add to the globals
		"GLOBAL":             "from-run", // run variables beat the file
		"USER":               "user",
		"JOB":                "job",
		"RULE":               "rule",
		"RAW":                "$GLOBAL",
		"REF":                "$CI_COMMIT_REF_NAME", // not expanded: the runner does it
		"CI_COMMIT_REF_NAME": "override",            // Predefined beats the derived ones
		"CI_COMMIT_BRANCH":   "main",
		"CI_PROJECT_PATH":    "acme/shop",
		"CI_JOB_NAME":        "j: [matrix]",
		"CI_NODE_INDEX":      "1",
		"CI_NODE_TOTAL":      "1",
		"CI_PIPELINE_SOURCE": "push",
	} {
		if got, ok := variable(j, key); !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", key, got, ok, want)
		}
	}
	seen := map[string]bool{}
	for _, v := range j.Variables {
		if seen[v.Key] {
			t.Errorf("variable %s listed twice", v.Key)
		}
		seen[v.Key] = true
	}
	if raw := j.Variables[slices.IndexFunc(j.Variables, func(v Variable) bool { return v.Key == "RAW" })]; !raw.Raw {
		t.Errorf("RAW lost its expand: false")
	}
}

func TestPlanExpandsWhatTheSchedulerReads(t *testing.T) {
	pl := mustParse(t, `
variables:
  ARCH: arm64
deploy:
  script: x
  tags: [docker, $ARCH]
  resource_group: deploy-$CI_COMMIT_REF_SLUG
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$CI_ENVIRONMENT_SLUG.example.com
`)
	j := mustPlan(t, pl, PlanInput{Ref: "Feature/Login_Page"}).Jobs[0]
	equal(t, "tags", j.Tags, []string{"docker", "arm64"})
	if j.ResourceGroup != "deploy-feature-login-page" {
		t.Errorf("resource_group %q", j.ResourceGroup)
	}
	if j.Environment.Name != "review/feature-login-page" || j.Environment.URL != "https://review-feature-login-page.example.com" {
		t.Errorf("environment %+v", j.Environment)
	}
	if pl.Jobs[0].Environment.Name != "review/$CI_COMMIT_REF_SLUG" || pl.Jobs[0].Tags[1] != "$ARCH" {
		t.Errorf("Plan changed the pipeline: %+v %v", pl.Jobs[0].Environment, pl.Jobs[0].Tags)
	}
}

func TestAllowFailureDefaults(t *testing.T) {
	pl := mustParse(t, `
own-manual:
  script: x
  when: manual
own-manual-with-rules:
  script: x
  when: manual
  rules: [{if: $CI_COMMIT_BRANCH}]
rule-manual:
  script: x
  rules: [{when: manual}]
rule-manual-allowed:
  script: x
  rules: [{when: manual, allow_failure: true}]
explicit:
  script: x
  when: manual
  allow_failure: false
exit-codes:
  script: x
  allow_failure: {exit_codes: 42}
`)
	plan := mustPlan(t, pl, onMain)
	for name, want := range map[string]string{
		"own-manual": "true", "own-manual-with-rules": "true", "rule-manual": "false",
		"rule-manual-allowed": "true", "explicit": "false", "exit-codes": "exit codes 42",
	} {
		if got := planJob(t, plan, name).allowFailureText(); got != want {
			t.Errorf("%s: allow_failure %s, want %s", name, got, want)
		}
	}
}

func TestNeedsInPlan(t *testing.T) {
	pl := mustParse(t, `
stages: [build, test, deploy]
build:
  stage: build
  script: x
  parallel: 2
docs:
  stage: build
  script: x
  rules: [{if: $CI_COMMIT_TAG}]
test:
  stage: test
  script: x
  needs:
    - build
    - job: docs
      optional: true
deploy:
  stage: deploy
  script: x
  needs: [test]
  rules:
    - if: $CI_COMMIT_TAG
      needs: [test, docs]
    - when: on_success
`)
	main := mustPlan(t, pl, onMain)
	equal(t, "test needs on main", planJob(t, main, "test").Needs, []PlanNeed{{Job: "build 1/2", Artifacts: true}, {Job: "build 2/2", Artifacts: true}})
	equal(t, "deploy needs on main", planJob(t, main, "deploy").Needs, []PlanNeed{{Job: "test", Artifacts: true}})
	equal(t, "deploy dependencies", planJob(t, main, "deploy").Dependencies, []string{"test"})
	tag := mustPlan(t, pl, onTag)
	equal(t, "test needs on a tag", planJob(t, tag, "test").Needs, []PlanNeed{{Job: "build 1/2", Artifacts: true}, {Job: "build 2/2", Artifacts: true}, {Job: "docs", Artifacts: true}})
	equal(t, "deploy needs on a tag (rules:needs)", planJob(t, tag, "deploy").Needs, []PlanNeed{{Job: "test", Artifacts: true}, {Job: "docs", Artifacts: true}})
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		in   PlanInput
		want []string
	}{
		{
			name: "need excluded by rules",
			src:  "build:\n  stage: build\n  script: x\n  rules: [{if: $CI_COMMIT_TAG}]\ntest:\n  script: x\n  needs: [build]\n",
			in:   onMain,
			want: []string{`ci.yml:7:11: job "test" needs "build", which is not in the pipeline for this ref (its rules, only or except exclude it); make the need optional with ` + "`needs: [{job: build, optional: true}]`"},
		},
		{
			name: "need of one excluded matrix job",
			src:  "build:\n  stage: build\n  script: x\n  parallel: {matrix: [{OS: [a, b]}]}\n  rules:\n    - if: $OS == \"a\"\ntest:\n  script: x\n  needs:\n    - job: build\n      parallel: {matrix: [{OS: b}]}\n",
			in:   onMain,
			want: []string{`ci.yml:10:12: job "test" needs "build", which is not in the pipeline for this ref (its rules, only or except exclude it); make the need optional with ` + "`needs: [{job: build, optional: true}]`"},
		},
		{
			name: "cycle through rules:needs",
			src:  "a:\n  script: x\n  rules: [{needs: [b]}]\nb:\n  script: x\n  needs: [a]\n",
			in:   onMain,
			want: []string{`ci.yml:4:1: job "b": needs form a cycle: a -> b -> a`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := mustParse(t, tt.src).Plan(tt.in)
			var list ErrorList
			if !errors.As(err, &list) || plan != nil {
				t.Fatalf("Plan = %v, %v; want an ErrorList", plan, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			equalLines(t, "errors", got, tt.want)
		})
	}
}

func TestPlanNotCreated(t *testing.T) {
	for src, reason := range map[string]string{
		"j:\n  script: x\n  rules: [{if: $NOPE}]\n":                             "no job runs for this ref: every job's rules, only or except exclude it",
		"setup:\n  stage: .pre\n  script: x\nj:\n  script: x\n  only: [tags]\n": "only jobs of the .pre and .post stages would run, and GitLab creates no such pipeline",
	} {
		plan := mustPlan(t, mustParse(t, src), onMain)
		if plan.Created || plan.Reason != reason || plan.Jobs != nil {
			t.Errorf("%q: created %v reason %q", src, plan.Created, plan.Reason)
		}
	}
}

func TestPlanDependencies(t *testing.T) {
	pl := mustParse(t, `
a:
  stage: build
  script: x
b:
  stage: build
  script: x
  rules: [{if: $CI_COMMIT_TAG}]
c:
  stage: test
  script: x
d:
  stage: deploy
  script: x
  dependencies: [a, b]
e:
  stage: deploy
  script: x
  needs: [{job: a, artifacts: false}, c]
f:
  stage: deploy
  script: x
`)
	plan := mustPlan(t, pl, onMain)
	equal(t, "c (earlier stages)", planJob(t, plan, "c").Dependencies, []string{"a"})
	equal(t, "d (dependencies, b not planned)", planJob(t, plan, "d").Dependencies, []string{"a"})
	equal(t, "e (needs with artifacts)", planJob(t, plan, "e").Dependencies, []string{"c"})
	equal(t, "f (earlier stages)", planJob(t, plan, "f").Dependencies, []string{"a", "c"})
}

func TestPlanFields(t *testing.T) {
	pl := mustParse(t, `
default:
  interruptible: true
  retry: {max: 2, when: [script_failure]}
j:
  script: x
  timeout: 1h
  resource_group: rg
  coverage: /(\d+)%/
  rules: []
k:
  script: x
  parallel: 2
  rules:
    - interruptible: false
      when: delayed
      start_in: 90 seconds
`)
	// rules: [] keeps j out; k is planned twice.
	plan := mustPlan(t, pl, onMain)
	equal(t, "planned", planned(plan), []string{"k 1/2", "k 2/2"})
	k := plan.Jobs[1]
	if k.When != "delayed" || k.StartIn != 90*time.Second || k.Interruptible || k.Retry == nil || k.Retry.Max != 2 || k.NodeIndex != 2 || k.NodeTotal != 2 {
		t.Errorf("k 2/2 = %+v", k)
	}
	if got := plan.Text(); !strings.Contains(got, "k 2/2  delayed 1m30s  -      false") {
		t.Errorf("Text() =\n%s", got)
	}
}

// Plan only reads the pipeline, so one parsed pipeline can be planned for
// many refs at once.
func TestPlanConcurrently(t *testing.T) {
	data := readGolden(t, "go-service")
	pl, err := ParseWith(".gitlab-ci.yml", data, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := mustPlan(t, pl, onMain).Text()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				plan, err := pl.Plan(onMain)
				if err != nil || plan.Text() != want {
					t.Errorf("concurrent plan differs: %v", err)
					return
				}
				pl.Plan(onMR)
			}
		})
	}
	wg.Wait()
}

func readGolden(t testing.TB, name string) []byte {
	st := newSourceTree(t, "testdata/plans/"+name)
	data, err := st.ReadFile(".gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A Pipeline built by hand (as the coordinator's tests do) plans too: its
// expressions are parsed on the fly.
func TestPlanHandBuiltPipeline(t *testing.T) {
	pl := &Pipeline{
		Stages: []string{".pre", "test", ".post"},
		Jobs: []*Job{
			{Name: "a", Stage: "test", Script: []string{"x"}, When: "on_success", UsesRules: true, Rules: []*Rule{{If: `$CI_COMMIT_BRANCH == "main"`}}},
			{Name: "b", Stage: "test", Script: []string{"x"}, When: "on_success", Only: &Policy{Refs: []string{"/^feat/"}, Variables: []string{"$CI_COMMIT_BRANCH"}}},
		},
	}
	equal(t, "main", planned(mustPlan(t, pl, onMain)), []string{"a"})
	equal(t, "feature", planned(mustPlan(t, pl, onFeature)), []string{"b"})
}
