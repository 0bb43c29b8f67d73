package ghworkflow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

func TestMatrix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		matrix string
		want   []string // plan job names
	}{
		{"product in key order", "{os: [linux, mac], go: [1, 2]}", []string{"j (linux, 1)", "j (linux, 2)", "j (mac, 1)", "j (mac, 2)"}},
		{"exclude partial match", "{os: [linux, mac], go: [1, 2], exclude: [{os: mac}]}", []string{"j (linux, 1)", "j (linux, 2)"}},
		{"exclude full match", "{os: [linux, mac], go: [1, 2], exclude: [{os: mac, go: 2}]}", []string{"j (linux, 1)", "j (linux, 2)", "j (mac, 1)"}},
		// GitHub's documented example: include extends the original
		// combinations it does not change, and adds the others.
		{"GitHub include example", `
  fruit: [apple, pear]
  animal: [cat, dog]
  include:
    - color: green
    - color: pink
      animal: cat
    - fruit: apple
      shape: circle
    - fruit: banana
    - fruit: banana
      animal: cat`, []string{
			"j (apple, cat, pink, circle)", "j (apple, dog, green, circle)", "j (pear, cat, pink)", "j (pear, dog, green)", "j (banana)", "j (banana, cat)"}},
		{"include only", "{include: [{a: 1}, {a: x}]}", []string{"j (1)", "j (x)"}},
		{"exclude everything then include", "{a: [1], exclude: [{a: 1}], include: [{a: 2}]}", []string{"j (2)"}},
		{"numbers as GitHub reads them", "{go: [1.20, 1.21, '1.20']}", []string{"j (1.2)", "j (1.21)", "j (1.20)"}},
		{"objects as values", "{cfg: [{cc: gcc}, {cc: clang}]}", []string{`j ({"cc":"gcc"})`, `j ({"cc":"clang"})`}},
		{"vector from an expression", "{v: '${{ fromJSON(''[\"a\", \"b\"]'') }}'}", []string{"j (a)", "j (b)"}},
		{"whole matrix from an expression", "'${{ fromJSON(''{\"z\": [1], \"a\": [2, 3]}'') }}'", []string{"j (2, 1)", "j (3, 1)"}},
		{"same labels stay unique", "{a: ['x, y', x], b: [z, 'y, z']}", []string{"j (x, y, z)", "j (x, y, y, z)", "j (x, z)", "j (x, y, z) 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustParse(t, oneJob("strategy:\n  matrix: "+indent(tc.matrix, "  ")+"\nsteps: [{run: 'echo ${{ toJSON(matrix) }}'}]\n"))
			plan := mustPlan(t, w, onMain)
			if got := jobNames(plan); !slices.Equal(got, tc.want) {
				t.Errorf("jobs\n got %q\nwant %q", got, tc.want)
			}
			for _, j := range plan.Jobs {
				if j.MatrixGroup != "j" || !j.FailFast || j.MaxParallel != 0 {
					t.Errorf("%s: group %q fail-fast %v max-parallel %d", j.Name, j.MatrixGroup, j.FailFast, j.MaxParallel)
				}
			}
		})
	}
}

func TestMatrixErrors(t *testing.T) {
	for _, tc := range []struct {
		name, matrix, want string
	}{
		{"empty vector", "{a: []}", "ci.yml:6:19: jobs.j.strategy.matrix.a has no values"},
		{"not a list", "{a: 1}", "jobs.j.strategy.matrix.a must be a list of values, got a number"},
		{"exclude key not a vector", "{a: [1], exclude: [{b: 1}]}", `jobs.j.strategy.matrix.exclude: key "b" is not a vector of the matrix`},
		{"include not mappings", "{a: [1], include: [1]}", "jobs.j.strategy.matrix.include must be a list of mappings, got an entry that is a number"},
		{"nothing", "{}", "jobs.j.strategy.matrix has no vectors and no include"},
		{"too many jobs", "{a: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17], b: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}", "jobs.j.strategy.matrix makes 272 jobs; GitHub allows at most 256"},
		{"include beyond the limit", "{a: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], b: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], include: [{a: 0}]}", "makes 257 jobs or more"},
		{"huge product", "{a: [1,2,3,4,5,6,7,8], b: [1,2,3,4,5,6,7,8], c: [1,2,3,4,5,6,7,8], d: [1,2,3,4,5,6,7,8,9]}", "has more than 4096 combinations"},
		{"expression failing", "{a: '${{ fromJSON(''nope'') }}'}", "jobs.j.strategy.matrix.a: `fromJSON('nope')`"},
		{"computed by another job", "'${{ fromJSON(needs.setup.outputs.matrix) }}'", "reads needs.*.outputs, which is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := oneJob("strategy:\n  matrix: " + tc.matrix + "\nsteps: [{run: x}]\n")
			w, err := Parse(testFile, []byte(src))
			var msgs []string
			if err != nil {
				msgs = errorMessages(t, err)
			} else {
				msgs = planErrors(t, w, onMain)
			}
			checkContains(t, "errors", msgs, tc.want)
		})
	}
}

func TestStrategy(t *testing.T) {
	w := mustParse(t, oneJob(`strategy:
  fail-fast: false
  max-parallel: 2
  matrix: {a: [1, 2, 3]}
name: build ${{ strategy.job-index }}/${{ strategy.job-total }}
steps:
  - run: echo "${{ strategy.fail-fast }} ${{ strategy.max-parallel }}"
`))
	plan := mustPlan(t, w, onMain)
	for i, j := range plan.Jobs {
		if j.FailFast || j.MaxParallel != 2 || j.MatrixGroup != "j" {
			t.Errorf("%s: fail-fast %v max-parallel %d group %q", j.Name, j.FailFast, j.MaxParallel, j.MatrixGroup)
		}
		if !strings.Contains(script(j), "echo \"false 2\"") || !strings.Contains(j.Job.Script[0], "job build "+string(rune('0'+i))+"/3") {
			t.Errorf("%s: script:\n%s", j.Name, script(j))
		}
	}
}

// A job's if: is evaluated as if its needs succeeded, and as if some of
// them failed; the results decide its when (or leave it out).
func TestJobConditions(t *testing.T) {
	jobs := func(cond string) string {
		return `on: [push, pull_request]
jobs:
  a:
    runs-on: x
    steps: [{run: x}]
  b:
    runs-on: x
    steps: [{run: x}]
  skipped:
    if: github.event_name == 'schedule'
    runs-on: x
    steps: [{run: x}]
  j:
    needs: [a, b]
    runs-on: x
    if: ` + cond + `
    steps: [{run: x}]
`
	}
	for _, tc := range []struct {
		cond string
		want string // when, or "" for not in the plan
	}{
		{"success()", "on_success"},
		{"github.ref == 'refs/heads/main'", "on_success"},
		{"github.ref == 'refs/heads/other'", ""},
		{"failure()", "on_failure"},
		{"always()", "always"},
		{"${{ always() }}", "always"},
		{"'${{ true }}'", "on_success"},
		{"${{ !cancelled() }}", "always"},
		{"success() || failure()", "always"},
		{"cancelled()", ""},
		{"failure() && github.event_name == 'push'", "on_failure"},
		{"always() && contains(needs.*.result, 'failure')", "on_failure"},
		{"always() && needs.a.result != 'skipped'", "always"},
		{"needs.a.result == 'success'", "on_success"},
		{"false", ""},
	} {
		t.Run(tc.cond, func(t *testing.T) {
			plan := mustPlan(t, mustParse(t, jobs(tc.cond)), onMain)
			var got string
			for _, j := range plan.Jobs {
				if j.Name == "j" {
					got = j.When
					if !slices.Equal(planNeeds(j), []string{"a", "b"}) {
						t.Errorf("needs %q", planNeeds(j))
					}
				}
			}
			if got != tc.want {
				t.Errorf("when %q, want %q", got, tc.want)
			}
		})
	}
	// The needs' results are unknown before the run in a job that may run
	// after a failure.
	w := mustParse(t, strings.Replace(jobs("failure()"), "    runs-on: x\n    if: failure()", "    runs-on: ${{ needs.a.result }}\n    if: failure()", 1))
	checkContains(t, "errors", planErrors(t, w, onMain), "jobs.j.runs-on: `needs.a.result`: the result of a is not supported here")
	// A condition that depends on which need failed cannot be a when.
	w = mustParse(t, jobs("always() && needs.a.result == 'failure'"))
	checkContains(t, "errors", planErrors(t, w, onMain), "ci.yml:16:9: jobs.j.if: `always() && needs.a.result == 'failure'` depends on which needed job fails")
}

func planNeeds(j *pipeline.PlanJob) []string {
	var out []string
	for _, n := range j.Needs {
		out = append(out, n.Job)
	}
	return out
}

// A job that needs a job left out of the plan is left out too, unless its
// if: holds when a need was skipped (always(), !failure()...), as in
// GitHub; success() is false when any job before it was skipped.
func TestSkippedNeeds(t *testing.T) {
	w := mustParse(t, `on: push
jobs:
  gate:
    if: false
    runs-on: x
    steps: [{run: x}]
  after-gate:
    needs: gate
    runs-on: x
    steps: [{run: x}]
  always-after-gate:
    needs: gate
    if: always()
    runs-on: x
    steps: [{run: 'echo ${{ needs.gate.result }}'}]
  not-failed:
    needs: gate
    if: ${{ !failure() }}
    runs-on: x
    steps: [{run: x}]
  on-failure:
    needs: gate
    if: failure()
    runs-on: x
    steps: [{run: x}]
  grandchild:
    needs: always-after-gate
    runs-on: x
    steps: [{run: x}]
  grandchild-not-failed:
    needs: always-after-gate
    if: ${{ !failure() && !cancelled() }}
    runs-on: x
    steps: [{run: x}]
`)
	plan := mustPlan(t, w, onMain)
	if got, want := jobNames(plan), []string{"always-after-gate", "not-failed", "grandchild-not-failed"}; !slices.Equal(got, want) {
		t.Fatalf("jobs %q, want %q", got, want)
	}
	for _, j := range plan.Jobs {
		switch j.Name {
		case "always-after-gate", "not-failed":
			if j.When != "on_success" || len(j.Needs) != 0 {
				t.Errorf("%s: when %s needs %v", j.Name, j.When, j.Needs)
			}
		case "grandchild-not-failed":
			if j.When != "on_success" || !slices.Equal(planNeeds(j), []string{"always-after-gate"}) {
				t.Errorf("%s: when %s needs %v", j.Name, j.When, j.Needs)
			}
		}
	}
	if !strings.Contains(script(plan.Jobs[0]), "echo skipped") {
		t.Errorf("needs.gate.result of a skipped job:\n%s", script(plan.Jobs[0]))
	}
}

func TestNoJobRuns(t *testing.T) {
	plan := mustPlan(t, mustParse(t, oneJob("if: github.event_name == 'pull_request'\nsteps: [{run: x}]\n")), onMain)
	if plan.Created || plan.Reason != "no job runs for push: every job's if: is false" {
		t.Errorf("created %v, reason %q", plan.Created, plan.Reason)
	}
}

func TestRunsOnTags(t *testing.T) {
	for _, tc := range []struct {
		runsOn string
		want   []string
	}{
		{"ubuntu-latest", nil},
		{"ubuntu-24.04", nil},
		{"Ubuntu-22.04", nil},
		{"[self-hosted, linux, x64]", nil},
		{"[self-hosted, linux, gpu]", []string{"gpu"}},
		{"windows-latest", []string{"windows-latest"}},
		{"macos-14", []string{"macos-14"}},
		{"ubuntu-24.04-arm", []string{"ubuntu-24.04-arm"}},
		{"[self-hosted, arm64, arm64]", []string{"arm64"}},
		{"{group: big, labels: [ubuntu-latest, large]}", []string{"large"}},
		{"{group: big, labels: docker}", []string{"docker"}},
		{"${{ vars.RUNNER }}", []string{"from-vars"}},
		{"${{ fromJSON('[\"self-hosted\", \"fpga\"]') }}", []string{"fpga"}},
		{"${{ github.ref == 'refs/heads/main' && 'big' || 'ubuntu-latest' }}", []string{"big"}},
	} {
		t.Run(tc.runsOn, func(t *testing.T) {
			in := onMain
			in.Variables = []pipeline.Variable{{Key: "RUNNER", Value: "from-vars"}}
			w := mustParse(t, oneJobRunsOn(tc.runsOn))
			plan, err := w.Plan(in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.Jobs[0].Tags; !slices.Equal(got, tc.want) {
				t.Errorf("tags %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainerAndServices(t *testing.T) {
	w := mustParse(t, `on: [push, pull_request]
jobs:
  none:
    runs-on: x
    steps: [{run: x}]
  string:
    runs-on: x
    container: node:20
    steps: [{run: x}]
  mapping:
    runs-on: x
    container:
      image: docker://ghcr.io/acme/ci:${{ github.sha }}
      env: {IN_CONTAINER: 'yes', SECRET: '${{ secrets.S }}'}
    services:
      postgres:
        image: postgres:16
        env: {POSTGRES_PASSWORD: pw, FROM_ENV: '${{ env.WF }}'}
        ports: ['15432:5432/tcp']
      redis: redis:7
      optional:
        image: ${{ github.event_name == 'pull_request' && 'mysql:8' || '' }}
    steps:
      - run: echo "${{ job.services.postgres.ports['5432'] }}"
  empty-image:
    runs-on: x
    container: ${{ '' }}
    steps: [{run: x}]
env:
  WF: from-workflow
`)
	plan := mustPlan(t, w, onMain)
	byName := map[string]*pipeline.PlanJob{}
	for _, j := range plan.Jobs {
		byName[j.Name] = j
	}
	if byName["none"].Job.Image != nil || byName["empty-image"].Job.Image != nil {
		t.Error("jobs without a container have an image")
	}
	if img := byName["string"].Job.Image; img == nil || img.Name != "node:20" {
		t.Errorf("string container: %+v", img)
	}
	m := byName["mapping"]
	if img := m.Job.Image; img == nil || img.Name != "ghcr.io/acme/ci:abc123" {
		t.Errorf("mapping container: %+v", img)
	}
	want := []pipeline.Service{
		{Name: "postgres:16", Alias: "postgres", Variables: []pipeline.Variable{{Key: "POSTGRES_PASSWORD", Value: "pw", Raw: true}, {Key: "FROM_ENV", Value: "from-workflow", Raw: true}}},
		{Name: "redis:7", Alias: "redis"},
	}
	if got := m.Job.Services; !slicesEqualServices(got, want) {
		t.Errorf("services:\n got %+v\nwant %+v", got, want)
	}
	s := script(m)
	for _, frag := range []string{"export IN_CONTAINER='yes'", "export SECRET=\"${gh_secret_S-}\"", "echo \"5432\""} {
		if !strings.Contains(s, frag) {
			t.Errorf("script lacks %q:\n%s", frag, s)
		}
	}
	pr := onMain
	pr.Source = "merge_request_event"
	for _, j := range mustPlan(t, w, pr).Jobs {
		if j.Name == "mapping" && len(j.Job.Services) != 3 {
			t.Errorf("pull request services: %+v", j.Job.Services)
		}
	}
}

func slicesEqualServices(a, b []pipeline.Service) bool {
	return slices.EqualFunc(a, b, func(x, y pipeline.Service) bool {
		return x.Name == y.Name && x.Alias == y.Alias && slices.EqualFunc(x.Variables, y.Variables, func(a, b pipeline.Variable) bool {
			return a.Key == b.Key && a.Value == b.Value && a.Raw == b.Raw
		})
	})
}

func TestJobFields(t *testing.T) {
	w := mustParse(t, `on: push
jobs:
  j:
    runs-on: x
    strategy:
      matrix:
        v: [1, 2]
    timeout-minutes: ${{ matrix.v == 1 && 30 || 1.5 }}
    continue-on-error: ${{ matrix.v == 2 }}
    environment:
      name: prod-${{ matrix.v }}
      url: https://example.com/${{ github.sha }}
    concurrency: deploy-${{ matrix.v }}
    steps: [{run: x}]
  plain:
    runs-on: x
    environment: staging
    continue-on-error: true
    steps: [{run: x}]
`)
	plan := mustPlan(t, w, onMain)
	type want struct {
		timeout time.Duration
		allow   bool
		env     string
		url     string
		group   string
	}
	for name, w := range map[string]want{
		"j (1)": {30 * time.Minute, false, "prod-1", "https://example.com/abc123", "deploy-1"},
		"j (2)": {90 * time.Second, true, "prod-2", "https://example.com/abc123", "deploy-2"},
		"plain": {0, true, "staging", "", ""},
	} {
		j := planJob(t, plan, name)
		if j.Timeout != w.timeout || j.AllowFailure != w.allow || j.Environment == nil || j.Environment.Name != w.env ||
			j.Environment.URL != w.url || j.Environment.Action != "start" || j.ResourceGroup != w.group {
			t.Errorf("%s: timeout %v allow %v env %+v group %q", name, j.Timeout, j.AllowFailure, j.Environment, j.ResourceGroup)
		}
		if j.Job.Timeout != j.Timeout || j.Job.AllowFailure == nil || j.Job.AllowFailure.Allowed != j.AllowFailure {
			t.Errorf("%s: the Job differs from the PlanJob", name)
		}
	}
}

func TestJobFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"timeout not a number", "timeout-minutes: soon\nsteps: [{run: x}]\n", `jobs.j.timeout-minutes must be a number, got "soon"`},
		{"timeout zero", "timeout-minutes: 0\nsteps: [{run: x}]\n", "jobs.j.timeout-minutes must be more than 0"},
		{"continue-on-error not a boolean", "continue-on-error: maybe\nsteps: [{run: x}]\n", "jobs.j.continue-on-error must be true or false, got maybe"},
		{"runs-on a mapping from an expression", "runs-on: ${{ fromJSON('{}') }}\nsteps: [{run: x}]\n", "gives a mapping; runs-on takes labels"},
		{"name gives an object", "name: ${{ github }}\nsteps: [{run: x}]\n", "jobs.j.name: `github` gives object where text is expected; use toJSON()"},
		{"hashFiles", "steps:\n  - run: echo ${{ hashFiles('go.sum') }}\n", "jobs.j.steps[0].run: `hashFiles('go.sum')`: hashFiles() is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustParse(t, "on: push\njobs:\n  j:\n"+indent("runs-on: x\n"+strings.Replace(tc.body, "runs-on: ${{", "runs-on: ${{", 1), "    "))
			checkContains(t, "errors", planErrors(t, w, onMain), tc.want)
		})
	}
}

func TestPlanVariables(t *testing.T) {
	plan := mustPlan(t, mustParse(t, "name: CI\n"+oneJob("steps: [{run: x}]\n")), onMain)
	got := map[string]string{}
	for _, v := range plan.Jobs[0].Variables {
		if !v.Raw {
			t.Errorf("%s is not raw: the runner would expand it", v.Key)
		}
		got[v.Key] = v.Value
	}
	for k, v := range map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "CI", "GITHUB_JOB": "j", "GITHUB_REF": "refs/heads/main",
		"GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch", "GITHUB_SHA": "abc123", "GITHUB_EVENT_NAME": "push",
		"GITHUB_REPOSITORY": "acme/shop", "RUNNER_OS": "Linux",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if plan.Name != "CI" || !slices.Equal(plan.Stages, []string{".pre", "test", ".post"}) {
		t.Errorf("name %q stages %q", plan.Name, plan.Stages)
	}
}

// Plan may be called concurrently on one workflow.
func TestPlanConcurrently(t *testing.T) {
	data := mustRead(t, "testdata/workflows/artifacts.yml")
	w, err := Parse(".github/workflows/artifacts.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := mustPlan(t, w, onMain).Text()
	done := make(chan string)
	for range 8 {
		go func() {
			plan, err := w.Plan(onMain, nil)
			if err != nil {
				done <- err.Error()
				return
			}
			done <- plan.Text()
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Errorf("concurrent plan differs:\n%s", got)
		}
	}
}
