package ghworkflow

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// These tests run generated job scripts with the host's sh (dash on the
// test machines: stricter than busybox ash), as the runner runs them:
// one `sh -c` with set -e, the variables exported, each command echoed
// then run (runner/executor.ShellScript). That proves the script's
// semantics without Docker.

// renderScript renders a plan job as the runner does, except that it does
// not echo each command before running it (which only prints).
func renderScript(pj *pipeline.PlanJob, extra map[string]string) string {
	var b strings.Builder
	b.WriteString("set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n")
	export := func(k, v string) {
		fmt.Fprintf(&b, "export %s=%s\n", k, sq(v))
	}
	for _, v := range pj.Variables {
		export(v.Key, v.Value)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		export(k, extra[k])
	}
	for _, c := range slices.Concat(pj.Job.BeforeScript, pj.Job.Script) {
		b.WriteString(c + "\n")
	}
	return b.String()
}

// runPlanJob runs a plan job's script in dir and returns its output
// (stdout and stderr) and exit code.
func runPlanJob(t *testing.T, pj *pipeline.PlanJob, dir string, extra map[string]string, path string) (string, int) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	if _, ok := extra["CI_PROJECT_DIR"]; !ok {
		extra["CI_PROJECT_DIR"] = dir
	}
	cmd := exec.Command("sh", "-c", "exec 2>&1\n"+renderScript(pj, extra))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// planFor parses src and plans it for a push to main.
func planFor(t *testing.T, src string, secrets []string) *pipeline.Plan {
	t.Helper()
	w, err := Parse(".github/workflows/test.yml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	plan, err := w.Plan(pipeline.PlanInput{Ref: "main", SHA: "0123456789abcdef", Source: "push", DefaultBranch: "main",
		Predefined: []pipeline.Variable{{Key: "CI_PROJECT_PATH", Value: "acme/shop"}}}, secrets)
	if err != nil {
		t.Fatalf("Plan:\n%v", err)
	}
	if !plan.Created {
		t.Fatalf("plan not created: %s", plan.Reason)
	}
	return plan
}

func planJob(t *testing.T, plan *pipeline.Plan, name string) *pipeline.PlanJob {
	t.Helper()
	for _, j := range plan.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no plan job %q", name)
	return nil
}

// hostPath is the test's PATH.
func hostPath() string { return os.Getenv("PATH") }

// outputLines returns the lines the job printed.
func outputLines(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		lines = append(lines, strings.TrimRight(l, "\n"))
	}
	return lines
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := outputLines(out)
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("output lacks the line %q; output:\n%s", w, strings.Join(lines, "\n"))
		}
	}
}

func notWantSubstr(t *testing.T, out string, bad ...string) {
	t.Helper()
	text := strings.Join(outputLines(out), "\n")
	for _, b := range bad {
		if strings.Contains(text, b) {
			t.Errorf("output has %q; output:\n%s", b, text)
		}
	}
}

const execWorkflow = `on: push
env:
  WF: workflow
  DOLLAR: $HOME is not expanded
jobs:
  t:
    runs-on: ubuntu-latest
    env:
      JOB: job
      TOKEN_ENV: ${{ secrets.TOKEN }}
      WF: job overrides workflow
    steps:
      - uses: actions/checkout@v4
      - id: first
        shell: sh
        run: |
          echo "name=Gantry" >> "$GITHUB_OUTPUT"
          echo "Mixed_Case=yes" >> "$GITHUB_OUTPUT"
          echo "multi<<EOF" >> "$GITHUB_OUTPUT"
          echo "line 1" >> "$GITHUB_OUTPUT"
          echo "line 2" >> "$GITHUB_OUTPUT"
          echo "EOF" >> "$GITHUB_OUTPUT"
          echo "FROM_ENV_FILE=set by step 1" >> "$GITHUB_ENV"
          echo "JOB=changed by GITHUB_ENV" >> "$GITHUB_ENV"
          mkdir -p bin sub/dir
          printf '#!/bin/sh\necho tool ran\n' > bin/mytool
          chmod +x bin/mytool
          echo "$PWD/bin" >> "$GITHUB_PATH"
      - name: read outputs ${{ steps.first.outputs.name }}
        shell: sh
        env:
          STEP: step
          WF: step overrides job
          FROM_OUTPUT: pre-${{ steps.first.outputs.name }}
        run: |
          echo "out: ${{ steps.first.outputs.name }} ${{ steps.first.outputs.mixed_case }}"
          echo "multi: ${{ steps.first.outputs.multi }}"
          echo "env file: $FROM_ENV_FILE job=$JOB"
          mytool
          echo "wf=$WF step=$STEP token=$TOKEN_ENV secret=${{ secrets.TOKEN }} from-output=$FROM_OUTPUT"
          echo "raw secret env: ${TOKEN:-unset}"
          echo 'literal: $HOME $(date) ${{ 'x' }}'
          echo "dollar: $DOLLAR"
          echo "workspace: ${{ github.workspace }}" | sed "s|$GITHUB_WORKSPACE|WS|"
          echo "sha=$GITHUB_SHA ref=$GITHUB_REF job=$GITHUB_JOB ci=$CI actions=$GITHUB_ACTIONS os=$RUNNER_OS repo=${{ github.repository }}"
          test -d "$RUNNER_TEMP" && echo "runner temp exists"
          grep -q '"ref": "refs/heads/main"' "$GITHUB_EVENT_PATH" && echo "event file has the ref"
      - working-directory: sub/dir
        shell: sh
        run: echo "pwd=${PWD#$GITHUB_WORKSPACE/}"
      - shell: sh
        run: |
          cat <<'END'
          GH_STEP_4
          END
          echo "delimiter line survived"
      - name: fails but continues
        continue-on-error: true
        id: soft
        shell: sh
        run: exit 3
      - shell: sh
        run: echo "after continue-on-error, status ${{ job.status }}, soft ${{ steps.soft.outcome }}/${{ steps.soft.conclusion }}"
      - id: boom
        shell: sh
        run: |
          echo "about to fail"
          false
          echo "NOT REACHED"
      - shell: sh
        run: echo "SHOULD NOT RUN"
      - if: failure()
        shell: sh
        run: echo "failure step ran, status ${{ job.status }}"
      - if: always()
        shell: sh
        run: echo "always step ran"
      - if: success()
        shell: sh
        run: echo "SUCCESS SHOULD NOT RUN"
      - if: steps.boom.outcome == 'failure'
        shell: sh
        run: echo "IMPLICIT SUCCESS() SHOULD NOT RUN"
      - if: failure() && steps.boom.outcome == 'failure'
        shell: sh
        run: echo "boom outcome failure"
      - if: ${{ always() && steps.first.conclusion == 'success' && steps.soft.outcome == 'failure' }}
        shell: sh
        run: echo "first conclusion success, soft outcome failure"
      - if: cancelled()
        shell: sh
        run: echo "CANCELLED SHOULD NOT RUN"
      - if: always() && steps.boom.conclusion == 'success'
        shell: sh
        run: echo "BOOM CONCLUSION SHOULD NOT BE SUCCESS"
`

func TestExecStepSemantics(t *testing.T) {
	plan := planFor(t, execWorkflow, []string{"TOKEN"})
	dir := t.TempDir()
	out, code := runPlanJob(t, plan.Jobs[0], dir, map[string]string{"TOKEN": "s3cr3t"}, hostPath())
	if code != 1 {
		t.Errorf("exit code %d, want 1 (a step failed); output:\n%s", code, out)
	}
	wantLines(t, out,
		"out: Gantry yes",
		"multi: line 1",
		"line 2",
		"env file: set by step 1 job=changed by GITHUB_ENV",
		"tool ran",
		"wf=step overrides job step=step token=s3cr3t secret=s3cr3t from-output=pre-Gantry",
		"raw secret env: unset",
		"literal: $HOME $(date) x",
		"dollar: $HOME is not expanded",
		"workspace: WS",
		"sha=0123456789abcdef ref=refs/heads/main job=t ci=true actions=true os=Linux repo=acme/shop",
		"runner temp exists",
		"event file has the ref",
		"pwd=sub/dir",
		"GH_STEP_4",
		"delimiter line survived",
		"after continue-on-error, status success, soft failure/success",
		"about to fail",
		"failure step ran, status failure",
		"always step ran",
		"boom outcome failure",
		"first conclusion success, soft outcome failure",
	)
	notWantSubstr(t, out, "NOT REACHED", "SHOULD NOT RUN", "SHOULD NOT BE SUCCESS")
	if strings.Contains(strings.Join(plan.Jobs[0].Job.Script, "\n"), "s3cr3t") {
		t.Error("the secret's value is in the script")
	}
}

func TestExecDefaultShellFallsBackToSh(t *testing.T) {
	plan := planFor(t, `on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ -n "$BASH_VERSION" ]; then echo "shell: bash"; else echo "shell: sh"; fi
          false
          echo "NOT REACHED: -e"
`, nil)
	// With bash.
	if _, err := exec.LookPath("bash"); err == nil {
		out, code := runPlanJob(t, plan.Jobs[0], t.TempDir(), map[string]string{}, hostPath())
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		wantLines(t, out, "shell: bash")
		notWantSubstr(t, out, "NOT REACHED")
	}
	// Without bash: a PATH of every tool of the host but bash.
	bin := t.TempDir()
	for _, dir := range filepath.SplitList(hostPath()) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() == "bash" {
				continue
			}
			if _, err := os.Lstat(filepath.Join(bin, e.Name())); err == nil {
				continue
			}
			os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(bin, e.Name()))
		}
	}
	out, code := runPlanJob(t, plan.Jobs[0], t.TempDir(), map[string]string{}, bin)
	if code != 1 {
		t.Errorf("exit code %d, want 1; output:\n%s", code, out)
	}
	wantLines(t, out, "shell: sh")
	notWantSubstr(t, out, "NOT REACHED")
}

func TestExecShells(t *testing.T) {
	plan := planFor(t, `on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - shell: sh {0} first-arg
        run: echo "custom shell arg=$1"
      - shell: bash
        run: |
          false | true
          echo "bash pipefail: NOT REACHED"
      - if: always()
        shell: sh
        timeout-minutes: 0.02
        run: |
          sleep 5
          echo "TIMEOUT NOT APPLIED"
      - if: always()
        shell: sh
        run: echo "done, status ${{ job.status }}"
`, nil)
	out, code := runPlanJob(t, plan.Jobs[0], t.TempDir(), map[string]string{}, hostPath())
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	wantLines(t, out, "custom shell arg=first-arg", "done, status failure")
	notWantSubstr(t, out, "NOT REACHED", "TIMEOUT NOT APPLIED")
}

func TestExecSuccessfulJobExitsZero(t *testing.T) {
	plan := planFor(t, `on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - run: echo one
      - continue-on-error: true
        run: exit 1
      - if: failure()
        run: echo "FAILURE SHOULD NOT RUN"
      - run: echo two
`, nil)
	out, code := runPlanJob(t, plan.Jobs[0], t.TempDir(), map[string]string{}, hostPath())
	if code != 0 {
		t.Errorf("exit code %d, want 0; output:\n%s", code, out)
	}
	wantLines(t, out, "one", "two")
	notWantSubstr(t, out, "SHOULD NOT RUN")
}

const artifactWorkflow = `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir -p dist/sub logs/a logs/skip
          echo app > dist/app.js
          echo b > dist/sub/b.js
          echo hidden > dist/.hidden
          echo report > report.txt
          echo one > logs/a/one.log
          echo skip > logs/skip/two.log
          echo notalog > logs/a/x.txt
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: dist/
      - uses: actions/upload-artifact@v4
        with:
          name: report
          path: report.txt
      - uses: actions/upload-artifact@v4
        with:
          name: logs
          path: |
            logs/**/*.log
            !logs/skip/**
      - uses: actions/upload-artifact@v4
        with:
          name: nothing
          path: nope/
          if-no-files-found: ignore
  use:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: out
      - uses: actions/download-artifact@v4
        with:
          path: all
      - run: find out all -type f | sort
`

func TestExecArtifactsRoundTrip(t *testing.T) {
	plan := planFor(t, artifactWorkflow, nil)
	build, use := planJob(t, plan, "build"), planJob(t, plan, "use")
	if got := build.Artifacts.Paths; !slices.Equal(got, []string{".gantry-github-artifacts/dist/", ".gantry-github-artifacts/report/", ".gantry-github-artifacts/logs/", ".gantry-github-artifacts/nothing/"}) {
		t.Errorf("artifact paths %q", got)
	}
	if !slices.Equal(use.Dependencies, []string{"build"}) || !use.Needs[0].Artifacts {
		t.Errorf("use: dependencies %q, needs %+v", use.Dependencies, use.Needs)
	}
	a := t.TempDir()
	out, code := runPlanJob(t, build, a, map[string]string{}, hostPath())
	if code != 0 {
		t.Fatalf("build: exit code %d; output:\n%s", code, out)
	}
	// The runner uploads the artifact paths and extracts them into the
	// downloading job's workspace.
	b := t.TempDir()
	for _, p := range build.Artifacts.Paths {
		src := filepath.Join(a, p)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := exec.Command("sh", "-c", `mkdir -p "$2" && cp -R "$1/." "$2/"`, "sh", src, filepath.Join(b, p)).Run(); err != nil {
			t.Fatal(err)
		}
	}
	out, code = runPlanJob(t, use, b, map[string]string{}, hostPath())
	if code != 0 {
		t.Fatalf("use: exit code %d; output:\n%s", code, out)
	}
	wantLines(t, out,
		"out/app.js", "out/sub/b.js",
		"all/dist/app.js", "all/dist/sub/b.js",
		"all/report/report.txt",
		"all/logs/a/one.log",
	)
	notWantSubstr(t, out, ".hidden", "two.log", "x.txt", "out/dist")
}

func TestExecMissingArtifactFailsTheStep(t *testing.T) {
	plan := planFor(t, `on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/upload-artifact@v4
        with:
          path: nope/
          if-no-files-found: error
      - if: always()
        uses: actions/download-artifact@v4
        with:
          name: missing
      - if: always()
        run: echo "status ${{ job.status }}"
`, nil)
	out, code := runPlanJob(t, plan.Jobs[0], t.TempDir(), map[string]string{}, hostPath())
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	wantLines(t, out, "status failure")
	if !strings.Contains(out, "no files were found") || !strings.Contains(out, "artifact 'missing' not found") {
		t.Errorf("output:\n%s", out)
	}
}
