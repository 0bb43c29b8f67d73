package ghworkflow

import (
	"strings"
	"testing"
)

func TestIsWorkflow(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
		data string
		want bool
	}{
		{"under .github/workflows", ".github/workflows/ci.yml", "anything: [", true},
		{"nested repository path", "repo/.github/workflows/release.yaml", "", true},
		{"windows separators", `.github\workflows\ci.yml`, "", true},
		{"on and jobs", "ci.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n", true},
		{"true as YAML 1.1 writes on", "ci.yml", "true: push\njobs: {}\n", true},
		{"all workflow keys", "ci.yml", "name: x\nrun-name: y\non: push\npermissions: {}\nenv: {}\ndefaults: {}\nconcurrency: x\njobs: {}\n", true},
		{"GitLab file", ".gitlab-ci.yml", "stages: [build]\nbuild:\n  script: make\n", false},
		{"GitLab keyword with on and jobs", "ci.yml", "on: push\njobs: {}\nvariables: {A: b}\n", false},
		{"GitLab job beside on and jobs", "ci.yml", "on: push\njobs: {}\nbuild:\n  script: make\n", false},
		{"no on", "ci.yml", "jobs: {}\n", false},
		{"no jobs", "ci.yml", "on: push\n", false},
		{"not YAML", "ci.yml", "on: [\n", false},
		{"not a mapping", "ci.yml", "- on\n- jobs\n", false},
		{"empty", "ci.yml", "", false},
		{".github but not workflows", ".github/dependabot.yml", "version: 2\n", false},
		{"too big to read", "ci.yml", "on: push\njobs: {}\n#" + strings.Repeat("x", maxFileBytes), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsWorkflow(tc.path, []byte(tc.data)); got != tc.want {
				t.Errorf("IsWorkflow(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// Every bad input gets an error at the place to fix, saying what to fix.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"empty file", "", []string{"ci.yml:1:1: the workflow is empty"}},
		{"not a mapping", "- a\n", []string{"ci.yml:1:1: a workflow must be a mapping"}},
		{"invalid YAML", "on: push\njobs: [\n", []string{"ci.yml:3:1: invalid YAML"}},
		{"tab indentation", "on: push\njobs:\n\tj: {}\n", []string{"invalid YAML", "indent with spaces"}},
		{"invalid UTF-8", "on: push\nname: \"a \xff\"\n", []string{"ci.yml:2:10: invalid YAML: the file is not valid UTF-8 here"}},
		{"two documents", "on: push\n---\njobs: {}\n", []string{"ci.yml:2:1: a workflow file holds a single YAML document"}},
		{"no on", "jobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n", []string{"ci.yml:1:1: the workflow has no `on:`"}},
		{"no jobs", "on: push\n", []string{"the workflow has no `jobs:`"}},
		{"unknown top-level key", "on: push\njob:\n  j: {}\njobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n",
			[]string{"ci.yml:2:1: the workflow: unknown key `job`; did you mean `jobs`? (valid keys: name, run-name, on, permissions, env, defaults, concurrency, jobs)"}},
		{"GitLab key", "on: push\nstages: [a]\njobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n", []string{"ci.yml:2:1: the workflow: unknown key `stages`: this looks like a GitLab CI file"}},
		{"unknown event", "on: pushh\njobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n", []string{"ci.yml:1:5: on: unknown event `pushh`; did you mean `push`?"}},
		{"unknown filter", oneJobOn("push:\n  branch: [main]\n"), []string{"ci.yml:3:5: on.push: unknown key `branch`; did you mean `branches`?"}},
		{"branches and branches-ignore", oneJobOn("push:\n  branches: [main]\n  branches-ignore: [x]\n"), []string{"ci.yml:4:22: on.push: use either branches or branches-ignore, not both"}},
		{"only negative patterns", oneJobOn("push:\n  branches: ['!main']\n"), []string{"on.push.branches has only negative patterns"}},
		{"bad pattern", oneJobOn("push:\n  branches: ['[z-a]']\n"), []string{"ci.yml:3:16: on.push.branches: invalid pattern \"[z-a]\": range z-a is not allowed"}},
		{"pull request type", oneJobOn("pull_request:\n  types: [opend]\n"), []string{"on.pull_request.types: unknown activity type \"opend\""}},
		{"schedule without cron", oneJobOn("schedule:\n  - crn: x\n"), []string{"on.schedule: each entry must be `- cron:"}},
		{"jobs empty", "on: push\njobs: {}\n", []string{"ci.yml:2:7: jobs must be a mapping of job ids to jobs, with at least one job"}},
		{"invalid job id", "on: push\njobs:\n  1st:\n    runs-on: x\n    steps: [{run: x}]\n", []string{"ci.yml:3:3: jobs: invalid job id \"1st\""}},
		{"unknown job key", oneJob("step:\n  - run: x\nsteps:\n  - run: x\n"), []string{"ci.yml:5:5: jobs.j: unknown key `step`; did you mean `steps`?"}},
		{"no runs-on", "on: push\njobs:\n  j:\n    steps: [{run: x}]\n", []string{"ci.yml:3:3: jobs.j has no runs-on"}},
		{"no steps", oneJob("name: x\n"), []string{"jobs.j has no steps"}},
		{"unknown need", oneJob("needs: [build]\nsteps: [{run: x}]\n"), []string{"ci.yml:5:13: jobs.j.needs: job \"build\" is not defined; the jobs are j"}},
		{"needs cycle", "on: push\njobs:\n  a:\n    needs: b\n    runs-on: x\n    steps: [{run: x}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: x}]\n",
			[]string{"the needs form a cycle: a -> b -> a"}},
		{"need itself", oneJob("needs: j\nsteps: [{run: x}]\n"), []string{"jobs.j.needs: a job cannot need itself"}},
		{"reusable workflow", "on: push\njobs:\n  call:\n    uses: acme/ci/.github/workflows/build.yml@v1\n",
			[]string{"ci.yml:4:11: jobs.call.uses: reusable workflows (acme/ci/.github/workflows/build.yml@v1) are not supported"}},
		{"step with run and uses", oneJob("steps:\n  - run: x\n    uses: actions/checkout@v4\n"), []string{"jobs.j.steps[0] has both run: and uses:"}},
		{"step with neither", oneJob("steps:\n  - name: x\n"), []string{"ci.yml:6:9: jobs.j.steps[0] has neither run: nor uses:"}},
		{"unknown step key", oneJob("steps:\n  - run: x\n    working-dir: y\n"), []string{"ci.yml:7:9: jobs.j.steps[0]: unknown key `working-dir`"}},
		{"duplicate step id", oneJob("steps:\n  - id: a\n    run: x\n  - id: A\n    run: y\n"), []string{"ci.yml:8:13: jobs.j.steps[1].id: step id \"A\" is already used"}},
		{"every unsupported action at once", oneJob("steps:\n  - uses: actions/setup-go@v5\n  - uses: docker/login-action@v3\n  - uses: docker://alpine:3\n  - uses: ./.github/actions/mine\n  - uses: actions/checkout\n"), []string{
			"ci.yml:6:15: jobs.j.steps[0].uses: actions/setup-go@v5 is not supported: Gantry runs only run: steps and the actions actions/checkout, actions/upload-artifact and actions/download-artifact (actions/cache is skipped); install the tool in the job's image",
			"ci.yml:7:15: jobs.j.steps[1].uses: docker/login-action@v3 is not supported",
			"ci.yml:8:15: jobs.j.steps[2].uses: docker://alpine:3 is not supported",
			"ci.yml:9:15: jobs.j.steps[3].uses: the local action ./.github/actions/mine is not supported",
			"ci.yml:10:15: jobs.j.steps[4].uses: \"actions/checkout\" is not an action reference",
		}},
		{"upload without path", oneJob("steps:\n  - uses: actions/upload-artifact@v4\n"), []string{"jobs.j.steps[0]: actions/upload-artifact@v4 needs with.path"}},
		{"upload unknown input", oneJob("steps:\n  - uses: actions/upload-artifact@v4\n    with: {path: a, nme: b}\n"), []string{"jobs.j.steps[0].with: unknown key `nme`; did you mean `name`?"}},
		{"download from another run", oneJob("steps:\n  - uses: actions/download-artifact@v4\n    with: {run-id: 1}\n"), []string{"jobs.j.steps[0].with.run-id is not supported"}},
		{"checkout into a path", oneJob("steps:\n  - uses: actions/checkout@v4\n    with: {path: src}\n"), []string{"jobs.j.steps[0].with.path is not supported"}},
		{"windows shell", oneJob("steps:\n  - run: dir\n    shell: cmd\n"), []string{"ci.yml:7:16: jobs.j.steps[0].shell: cmd runs only on Windows runners"}},
		{"unknown shell", oneJob("steps:\n  - run: x\n    shell: zsh\n"), []string{"\"zsh\" is neither a built-in shell"}},
		{"expression syntax", oneJob("steps:\n  - run: echo ${{ github. }}\n"), []string{"ci.yml:6:19: jobs.j.steps[0].run: invalid expression `github.`"}},
		{"unclosed expression", oneJob("steps:\n  - run: echo ${{ github.sha\n"), []string{"jobs.j.steps[0].run: the expression is not closed"}},
		{"expression position in a block", oneJob("steps:\n  - run: |\n      echo one\n      echo ${{ nope.x }}\n"), []string{"ci.yml:8:16: jobs.j.steps[0].run: invalid expression `nope.x`: column 1: unrecognized named-value \"nope\""}},
		{"context not available in a job's if", oneJob("if: env.DEPLOY == 'yes'\nsteps: [{run: x}]\n"), []string{"ci.yml:5:9: jobs.j.if: `env.DEPLOY == 'yes'` reads the env context, which GitHub does not provide here (available: github, inputs, needs, vars)"}},
		{"matrix in a job's if", "on: push\njobs:\n  j:\n    if: matrix.os == 'x'\n    runs-on: x\n    strategy: {matrix: {os: [x]}}\n    steps: [{run: x}]\n",
			[]string{"reads the matrix context, which GitHub does not provide here", "test matrix values in the steps' if: instead"}},
		{"secrets in runs-on", oneJobRunsOn("${{ secrets.RUNNER }}"), []string{"jobs.j.runs-on: `secrets.RUNNER` reads the secrets context, which GitHub does not provide here"}},
		{"needs outputs", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: echo ${{ needs.a.outputs.v }}\n",
			[]string{"ci.yml:10:19: jobs.b.steps[0].run: `needs.a.outputs.v` reads needs.*.outputs, which is not supported: Gantry does not pass job outputs between jobs yet"}},
		{"secret in service env", oneJob("services:\n  db:\n    image: postgres\n    env: {PW: '${{ secrets.PW }}'}\nsteps: [{run: x}]\n"), []string{"jobs.j.services.db.env.PW: `secrets.PW` reads secrets.PW, which is not supported here"}},
		{"env not a mapping", oneJob("env: [a]\nsteps: [{run: x}]\n"), []string{"ci.yml:5:10: jobs.j.env must be a mapping of variable names to values, got a list"}},
		{"env value a list", oneJob("env: {A: [1]}\nsteps: [{run: x}]\n"), []string{"jobs.j.env.A must be a string, a number or a boolean, got a list"}},
		{"merge key", "x: &x {runs-on: a}\non: push\njobs:\n  j:\n    <<: *x\n    steps: [{run: x}]\n", []string{"ci.yml:5:5: merge keys `<<` are not supported"}},
		{"alias cycle", "on: &a [*a]\njobs: {}\n", []string{"alias *a refers to a value that contains it"}},
		{"custom tag", "on: !custom push\njobs: {}\n", []string{"unknown YAML tag `!custom`"}},
		{"strategy without matrix", oneJob("strategy: {fail-fast: false}\nsteps: [{run: x}]\n"), []string{"jobs.j.strategy has no matrix"}},
		{"environment without name", oneJob("environment: {url: x}\nsteps: [{run: x}]\n"), []string{"jobs.j.environment has no name"}},
		{"permissions value", oneJob("permissions: {contents: admin}\nsteps: [{run: x}]\n"), []string{"jobs.j.permissions.contents must be read, write or none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkContains(t, "errors", parseErrors(t, tc.src), tc.want...)
		})
	}
}

// oneJobOn is a one-job workflow with the given `on:` body.
func oneJobOn(on string) string {
	return "on:\n" + indent(on, "  ") + "jobs:\n  j:\n    runs-on: x\n    steps: [{run: x}]\n"
}

func oneJobRunsOn(runsOn string) string {
	return "on: push\njobs:\n  j:\n    runs-on: " + runsOn + "\n    steps: [{run: x}]\n"
}

// Everything Gantry accepts but ignores or approximates is a warning with
// a position.
func TestParseWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"duplicate key", "on: push\njobs:\n  j:\n    runs-on: a\n    runs-on: b\n    steps: [{run: x}]\n", []string{"ci.yml:5:5: duplicate key \"runs-on\": this value replaces the one at 4:5"}},
		{"true as on", "true: push\njobs:\n  j:\n    runs-on: a\n    steps: [{run: x}]\n", []string{"ci.yml:1:1: `true:` is read as `on:`"}},
		{"permissions", "on: push\npermissions: read-all\njobs:\n  j:\n    runs-on: a\n    steps: [{run: x}]\n", []string{"ci.yml:2:1: permissions is ignored"}},
		{"workflow concurrency", "on: push\nconcurrency: ci-${{ github.ref }}\njobs:\n  j:\n    runs-on: a\n    steps: [{run: x}]\n", []string{"concurrency: workflow-level concurrency is ignored"}},
		{"job concurrency", oneJob("concurrency: {group: deploy, cancel-in-progress: true}\nsteps: [{run: x}]\n"), []string{
			"jobs.j.concurrency: Gantry runs the jobs of the group one at a time", "jobs.j.concurrency.cancel-in-progress is ignored"}},
		{"outputs", oneJob("outputs: {v: x}\nsteps: [{run: x}]\n"), []string{"jobs.j.outputs is ignored: Gantry does not pass job outputs"}},
		{"container options", oneJob("container: {image: a, options: --cpus 1, ports: [80], volumes: [a:b], credentials: {username: u}}\nsteps: [{run: x}]\n"), []string{
			"jobs.j.container.options is ignored", "jobs.j.container.ports is ignored", "jobs.j.container.volumes is ignored", "jobs.j.container.credentials is ignored"}},
		{"service health options", oneJob("container: node\nservices:\n  db:\n    image: postgres\n    options: --health-cmd pg_isready\nsteps: [{run: x}]\n"), []string{"jobs.j.services.db.options is ignored", "does not wait for a --health-cmd"}},
		{"service ports without container", oneJob("services:\n  db:\n    image: postgres\n    ports: ['5432:5432']\nsteps: [{run: x}]\n"), []string{"ci.yml:6:7: jobs.j.services.db.ports is ignored: steps reach the service at host \"db\" on its container port, not at localhost"}},
		{"cache action", oneJob("steps:\n  - uses: actions/cache@v4\n    with: {path: x, key: y}\n"), []string{"jobs.j.steps[0].uses: actions/cache@v4 is skipped"}},
		{"checkout submodules", oneJob("steps:\n  - uses: actions/checkout@v4\n    with: {submodules: true}\n"), []string{"jobs.j.steps[0].with.submodules is ignored"}},
		{"default variable in env", oneJob("env: {GITHUB_SHA: x}\nsteps: [{run: x}]\n"), []string{"jobs.j.env: GITHUB_SHA is a default variable"}},
		{"env name not for a shell", oneJob("env: {my-var: x}\nsteps: [{run: x}]\n"), []string{"\"my-var\" is not a valid shell variable name"}},
		{"runner group", oneJobRunsOn("{group: big, labels: [linux]}"), []string{"jobs.j.runs-on.group is ignored"}},
		{"GITHUB_TOKEN", oneJob("steps:\n  - run: gh release create\n    env: {GH_TOKEN: '${{ secrets.GITHUB_TOKEN }}'}\n"), []string{"ci.yml:7:26: jobs.j.steps[0].env.GH_TOKEN: `secrets.GITHUB_TOKEN`: GITHUB_TOKEN is not available"}},
		{"redefined anchor", "on: push\njobs:\n  a: &x\n    runs-on: a\n    steps: [{run: x}]\n  b: &x\n    runs-on: b\n    steps: [{run: y}]\n", []string{"anchor &x is defined again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkContains(t, "warnings", warningStrings(mustParse(t, tc.src)), tc.want...)
		})
	}
}

func TestParseAcceptsAnchorsAndAliases(t *testing.T) {
	w := mustParse(t, `on: push
jobs:
  a:
    runs-on: &runner ubuntu-latest
    container: &image node:20
    steps: &steps
      - run: echo shared ${{ github.job }}
  b:
    runs-on: *runner
    container: *image
    steps: *steps
`)
	plan := mustPlan(t, w, onMain)
	for _, j := range plan.Jobs {
		if j.Job.Image == nil || j.Job.Image.Name != "node:20" || !strings.Contains(script(j), "echo shared "+j.Name) {
			t.Errorf("job %s: image %v, script:\n%s", j.Name, j.Job.Image, script(j))
		}
	}
}

func TestParseRecoversFromPanics(t *testing.T) {
	// A nil workflow's Plan reports an internal error rather than
	// crashing the caller.
	var w Workflow
	_, err := w.Plan(onMain, nil)
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("err = %v", err)
	}
}
