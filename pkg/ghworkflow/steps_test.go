package ghworkflow

import (
	"slices"
	"strings"
	"testing"
)

func stepScript(t *testing.T, body string, secrets []string) string {
	t.Helper()
	w := mustParse(t, oneJob(body))
	plan, err := w.Plan(onMain, secrets)
	if err != nil {
		t.Fatalf("Plan:\n%v", err)
	}
	return script(plan.Jobs[0])
}

func TestStepScripts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		secrets []string
		want    []string
		notWant []string
	}{
		{"plan-time values are put in place", "env: {A: x}\nsteps:\n  - run: echo ${{ github.sha }} ${{ env.A }} ${{ runner.os }} ${{ vars.NOPE }}.\n",
			nil, []string{"echo abc123 x Linux .\nGH_STEP_0\n"}, nil},
		{"secrets are read when the step runs", "steps:\n  - run: echo ${{ secrets.npm_token }}\n", nil,
			[]string{"gh_secret_NPM_TOKEN=${NPM_TOKEN-}", `printf '%s' "${gh_secret_NPM_TOKEN-}"`}, []string{"unset"}},
		{"known secrets are unset", "steps:\n  - run: echo ${{ secrets.A }}\n", []string{"A", "B"},
			[]string{"gh_secret_A=${A-}\nunset A\nunset B\n"}, nil},
		{"an undefined secret is empty", "steps:\n  - run: echo \"[${{ secrets.MISSING }}]\"\n", []string{"A"},
			[]string{`echo "[]"`}, []string{"gh_secret_MISSING"}},
		{"step outputs are read when the step runs", "steps:\n  - id: v\n    run: echo x=1 >> $GITHUB_OUTPUT\n  - run: echo ${{ steps.v.outputs.X }}\n", nil,
			[]string{"gh_out 0 'x'"}, nil},
		{"outputs of later or unknown steps are empty", "steps:\n  - run: echo [${{ steps.later.outputs.x }}]\n  - id: later\n    run: x\n", nil,
			[]string{"echo []"}, nil},
		{"outputs of actions Gantry does itself are empty", "steps:\n  - id: cache\n    uses: actions/cache@v4\n    with: {path: x, key: y}\n  - if: steps.cache.outputs.cache-hit != 'true'\n    run: npm ci\n", nil,
			[]string{"# step 1: Run npm ci\nif [ \"$gh_status\" = success ]; then"}, nil},
		{"env with run-time values", "env: {TOKEN: 'Bearer ${{ secrets.T }}'}\nsteps:\n  - id: a\n    run: x\n  - env: {V: '${{ steps.a.outputs.v }}!'}\n    run: echo ${{ env.TOKEN }}\n", nil,
			[]string{`export TOKEN='Bearer '"${gh_secret_T-}"`, `gh_v1=$(gh_out 0 'v'; printf x); gh_v1=${gh_v1%x}`, `export V="$gh_v1"'!'`, `printf '%s' "${TOKEN-}"`}, nil},
		{"workspace and temp", "steps:\n  - run: cd ${{ github.workspace }} && ls ${{ runner.temp }}\n", nil,
			[]string{`printf '%s' "$GITHUB_WORKSPACE"`, `printf '%s' "$RUNNER_TEMP"`}, nil},
		{"job status", "steps:\n  - if: always()\n    run: echo ${{ job.status }}\n", nil, []string{`printf '%s' "$gh_status"`}, nil},
		{"working directory defaults", "defaults: {run: {working-directory: app, shell: bash}}\nsteps:\n  - run: a\n  - run: b\n    working-directory: /abs\n  - run: c\n    working-directory: ${{ github.ref_name }}/x\n    shell: sh\n", nil,
			[]string{"cd -- \"$GITHUB_WORKSPACE\"/'app' || exit 1\nset -- bash --noprofile --norc -eo pipefail \"$gh_dir/step0.sh\"",
				"cd -- '/abs' || exit 1", "cd -- \"$GITHUB_WORKSPACE\"/'main/x' || exit 1\nset -- sh -e \"$gh_dir/step2.sh\""}, nil},
		{"python and custom shells", "steps:\n  - run: print(1)\n    shell: python\n  - run: x\n    shell: perl -w {0} --flag\n  - run: x\n    shell: pwsh\n", nil,
			[]string{`set -- python "$gh_dir/step0.py"`, `set -- 'perl' '-w' "$gh_dir/step1.sh" '--flag'`, `set -- pwsh -command ". '$gh_dir/step2.ps1'"`}, nil},
		{"step timeout", "steps:\n  - run: x\n    timeout-minutes: 1.5\n", nil, []string{`set -- timeout 90 "$@"`}, nil},
		{"continue-on-error", "strategy: {matrix: {x: [true]}}\nsteps:\n  - run: x\n    continue-on-error: ${{ matrix.x }}\n", nil, []string{"gh_end 0 $? 1"}, nil},
		{"step if that is never true", "steps:\n  - if: github.ref == 'refs/heads/nope'\n    run: x\n", nil, []string{"# step 0: Run x\ngh_skip 0"}, []string{"gh_start 0"}},
		{"step if always", "steps:\n  - if: always()\n    run: x\n", nil, []string{"# step 0: Run x\ngh_start 0"}, []string{"gh_skip 0"}},
		{"step if on failure", "steps:\n  - if: failure()\n    run: x\n", nil, []string{`if [ "$gh_status" = failure ]; then`}, nil},
		{"step if on outcomes", "steps:\n  - id: a\n    continue-on-error: true\n    run: x\n  - if: always() && steps.a.conclusion == 'success' && steps.a.outcome == 'failure'\n    run: y\n", nil,
			[]string{"case \"$gh_status:${gh_o_0-}\" in\nsuccess:failure|failure:failure) gh_run=1 ;;"}, nil},
		{"display names", "steps:\n  - name: Build ${{ matrix.x }} with ${{ secrets.X }}\n    run: x\n  - uses: actions/checkout@v4\n  - run: |\n      first line\n      second\n", nil,
			[]string{"# step 0: Build  with ${{ secrets.X }}", "# step 1: Run actions/checkout@v4", "# step 2: Run first line\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stepScript(t, tc.body, tc.secrets)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("script lacks:\n%s\n--- script:\n%s", w, s)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(s, w) {
					t.Errorf("script has %q:\n%s", w, s)
				}
			}
		})
	}
}

// What Gantry can only know while the job runs must be a plain reference;
// the errors say so and where.
func TestStepRuntimeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"computing with a secret", "steps:\n  - run: echo ${{ format('x{0}', secrets.A) }}\n",
			"ci.yml:6:19: jobs.j.steps[0].run: `format('x{0}', secrets.A)` computes with secrets.A, which Gantry knows only while the job runs: such a value must be the whole expression, as in ${{ secrets.A }}"},
		{"two run-time values", "steps:\n  - id: a\n    run: x\n  - run: echo ${{ steps.a.outputs.x || secrets.B }}\n", "computes with"},
		{"all secrets", "steps:\n  - run: echo ${{ toJSON(secrets) }}\n", "only secrets.NAME is supported"},
		{"every step", "steps:\n  - run: echo ${{ toJSON(steps) }}\n", "reading every step (steps.*) is not supported"},
		{"a whole step", "steps:\n  - id: a\n    run: x\n  - run: echo ${{ toJSON(steps.a) }}\n", "reading a whole step is not supported"},
		{"all outputs of a step", "steps:\n  - id: a\n    run: x\n  - run: echo ${{ toJSON(steps.a.outputs) }}\n", "read one output at a time"},
		{"outputs in a step's if", "steps:\n  - id: a\n    run: x\n  - if: steps.a.outputs.changed == 'true'\n    run: y\n",
			"ci.yml:8:13: jobs.j.steps[1].if: `steps.a.outputs.changed == 'true'` reads steps.a.outputs.changed, which Gantry knows only while the job runs; a step's if: may test the job's status"},
		{"too many outcomes in a step's if", "steps:\n  - {id: a, run: x}\n  - {id: b, run: x}\n  - {id: c, run: x}\n  - {id: d, run: x}\n  - {id: e, run: x}\n  - if: steps.a.outcome == steps.b.outcome && steps.c.outcome == steps.d.outcome && steps.e.outcome == 'x'\n    run: y\n",
			"reads the outcome of 5 steps; Gantry supports at most 4"},
		{"run-time value in an upload", "steps:\n  - uses: actions/upload-artifact@v4\n    with: {path: '${{ runner.temp }}/x'}\n", "jobs.j.steps[0].with.path: `runner.temp` reads runner.temp, which is not supported here"},
		{"another repository", "steps:\n  - uses: actions/checkout@v4\n    with: {repository: acme/other}\n", "checking out another repository (acme/other) is not supported"},
		{"upload name taken twice", "steps:\n  - uses: actions/upload-artifact@v4\n    with: {path: a}\n  - uses: actions/upload-artifact@v4\n    with: {path: b}\n", `the job already uploads an artifact named "artifact"`},
		{"bad artifact name", "steps:\n  - uses: actions/upload-artifact@v4\n    with: {path: a, name: 'a/b'}\n", `artifact name "a/b" holds a character GitHub does not allow`},
		{"upload from home", "steps:\n  - uses: actions/upload-artifact@v4\n    with: {path: ~/x}\n", "paths under ~ are not supported"},
		{"only exclusions", "steps:\n  - uses: actions/upload-artifact@v4\n    with: {path: '!x'}\n", "the path input selects no files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse(testFile, []byte(oneJob(tc.body)))
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

func TestCheckoutOfThisRepository(t *testing.T) {
	s := stepScript(t, "steps:\n  - uses: actions/checkout@v4\n    with: {repository: '${{ github.repository }}', fetch-depth: 0, token: '${{ secrets.PAT }}'}\n", nil)
	if !strings.Contains(s, "the source is already in the workspace") || strings.Contains(s, "gh_secret_PAT") {
		t.Errorf("script:\n%s", s)
	}
}

func TestPlanUpload(t *testing.T) {
	for _, tc := range []struct {
		lines    []string
		hidden   bool
		searches []uploadSearch
		exclude  string
		root     string
		single   bool
	}{
		{[]string{"dist/"}, false, []uploadSearch{{"dist", "^dist(/.*)?$"}}, `(^dist/(.*/)?\.)`, "dist", true},
		{[]string{"report.txt"}, true, []uploadSearch{{"report.txt", `^report\.txt(/.*)?$`}}, "", "report.txt", true},
		{[]string{"a/x/*.log", "a/y/**"}, true, []uploadSearch{{"a/x", `^a/x/[^/]*\.log(/.*)?$`}, {"a/y", "^a/y(/.*)?$"}}, "", "a", false},
		{[]string{"**/*.xml", "!**/skip/**"}, true, []uploadSearch{{".", `^(.*/)?[^/]*\.xml(/.*)?$`}}, `(^(.*/)?skip(/.*)?$)`, ".", true},
		{[]string{"/tmp/a/b", "/tmp/c"}, true, []uploadSearch{{"/tmp/a/b", "^/tmp/a/b(/.*)?$"}, {"/tmp/c", "^/tmp/c(/.*)?$"}}, "", "/tmp", false},
		{[]string{"out", "out/sub/x"}, true, []uploadSearch{{"out", "^out(/.*)?$"}, {"out/sub/x", "^out/sub/x(/.*)?$"}}, "", "out", true},
		{[]string{"f?.[ch]", "# comment", ""}, true, []uploadSearch{{".", `^f[^/]\.[ch](/.*)?$`}}, "", ".", true},
	} {
		up, err := planUpload(tc.lines, tc.hidden)
		if err != nil {
			t.Errorf("%q: %v", tc.lines, err)
			continue
		}
		if !slices.Equal(up.searches, tc.searches) || up.exclude != tc.exclude || up.root != tc.root || up.single != tc.single {
			t.Errorf("%q:\n got %+v\nwant searches %+v exclude %q root %q single %v", tc.lines, up, tc.searches, tc.exclude, tc.root, tc.single)
		}
	}
	if _, err := planUpload([]string{"/abs", "rel"}, false); err == nil {
		t.Error("mixing absolute and relative paths was accepted")
	}
}

func TestDownloadSelection(t *testing.T) {
	w := mustParse(t, `on: push
jobs:
  a:
    runs-on: x
    strategy: {matrix: {t: [x, y]}}
    steps:
      - uses: actions/upload-artifact@v4
        with: {name: 'bin-${{ matrix.t }}', path: out}
  b:
    runs-on: x
    steps:
      - uses: actions/upload-artifact@v4
        with: {name: docs, path: site}
  c:
    needs: [a, b]
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with: {pattern: 'bin-*', path: dist, merge-multiple: true}
  d:
    needs: [a, b]
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with: {name: docs}
  e:
    needs: c
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
  f:
    needs: b
    runs-on: x
    steps:
      - run: echo no download
`)
	plan := mustPlan(t, w, onMain)
	for name, want := range map[string][]string{
		"c": {"a (x)", "a (y)"},
		"d": {"b"},
		"e": {"a (x)", "a (y)", "b"},
		"f": {},
	} {
		j := planJob(t, plan, name)
		if !slices.Equal(j.Dependencies, want) {
			t.Errorf("%s: dependencies %q, want %q", name, j.Dependencies, want)
		}
		for _, n := range j.Needs {
			if n.Artifacts != slices.Contains(want, n.Job) {
				t.Errorf("%s: need %+v", name, n)
			}
		}
	}
	for name, frags := range map[string][]string{
		"c": {`gh_fetch 'bin-x' "$GITHUB_WORKSPACE"/'dist' optional &&` + "\n" + `gh_fetch 'bin-y' "$GITHUB_WORKSPACE"/'dist' optional`},
		"d": {`gh_fetch 'docs' "$GITHUB_WORKSPACE"`},
		"e": {`gh_fetch 'bin-x' "$GITHUB_WORKSPACE"/'bin-x' optional`, `gh_fetch 'docs' "$GITHUB_WORKSPACE"/'docs' optional`},
	} {
		s := script(planJob(t, plan, name))
		for _, f := range frags {
			if !strings.Contains(s, f) {
				t.Errorf("%s: script lacks %q:\n%s", name, f, s)
			}
		}
	}
}
