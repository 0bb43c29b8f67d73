package tests

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// The report files come from pkg/reports/testdata: what pytest,
// gocover-cobertura, Maven Surefire and JaCoCo emit.
const reportsPipeline = `
stages: [build, test]
build:
  image: gantry-test/busybox:latest
  stage: build
  script:
    - mkdir -p out && echo built > out/app.txt
    - cp testdata/pytest-junit.xml report.xml && cp testdata/gocover-cobertura.xml coverage.xml
    - echo "BUILD_VERSION=1.2.3" > build.env && echo "not a variable" >> build.env
    - printf 'total:\t(statements)\t84.20%%\n'
  coverage: '/total:\s+\(statements\)\s+\d+.\d+%/'
  artifacts:
    paths: [out/]
    expose_as: app build
    reports:
      junit: report.xml
      coverage_report:
        coverage_format: cobertura
        path: coverage.xml
      dotenv: build.env
use:
  image: gantry-test/busybox:latest
  stage: test
  variables:
    BUILD_VERSION: from-the-file
  script:
    - cat out/app.txt
    - echo "version=$BUILD_VERSION"
    - test "$BUILD_VERSION" = 1.2.3
without:
  image: gantry-test/busybox:latest
  stage: test
  needs: [{job: build, artifacts: false}]
  script: ['test -z "$BUILD_VERSION"']
unit:
  image: gantry-test/busybox:latest
  stage: test
  needs: []
  allow_failure: true
  script:
    - mkdir -p target/surefire-reports target/site/jacoco
    - cp testdata/TEST-com.acme.calc.CalcTest.xml target/surefire-reports/
    - cp testdata/jacoco.xml target/site/jacoco/jacoco.xml
    - echo '<testsuite><testcase' > target/surefire-reports/TEST-broken.xml
    - exit 1
  artifacts:
    reports:
      junit: target/surefire-reports/TEST-*.xml
      coverage_report:
        coverage_format: jacoco
        path: target/site/jacoco/jacoco.xml
`

// One job leaves artifacts, a JUnit and a Cobertura report, a dotenv file
// and a coverage line; a dependent job gets the artifacts and the dotenv
// variables (one that takes no artifacts gets neither); a failing job's
// reports are read too, a broken file a warning. The CLI shows tests,
// coverage per job, per file and the ref's trend.
func TestReportsEndToEnd(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src := t.TempDir()
	files := map[string]string{".gitlab-ci.yml": reportsPipeline}
	for _, name := range []string{"pytest-junit.xml", "gocover-cobertura.xml", "TEST-com.acme.calc.CalcTest.xml", "jacoco.xml"} {
		b, err := os.ReadFile(filepath.Join("..", "pkg", "reports", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		files["testdata/"+name] = string(b)
	}
	harness.WriteTree(t, src, files)

	runID := submitDetached(ctx, t, e.addr, src, "--ref", "main")
	run := e.client.WaitRun(ctx, t, runID, harness.RunEnded)
	if st := run.GetRun().GetStatus(); st != gantryv1.RunStatus_RUN_STATUS_SUCCESS {
		for _, j := range run.GetJobs() {
			t.Logf("%s: %s %s\n%s", j.GetName(), j.GetStatus(), j.GetFailureMessage(), e.client.Log(ctx, t, j.GetId()))
		}
		t.Fatalf("run %s, want success (unit is allowed to fail)", st)
	}

	build := harness.Job(run, "build")
	if tt := build.GetTests(); tt.GetTests() != 4 || tt.GetFailures() != 1 || tt.GetSkipped() != 1 || len(tt.GetFailed()) != 1 {
		t.Errorf("build's tests: %v; want pytest's 4, 1 failure, 1 skipped", tt)
	}
	if c := build.GetCoverageReport(); c.GetLinesValid() != 30 || c.GetLinesCovered() != 24 {
		t.Errorf("build's coverage report: %v; want 24 of 30 lines", c)
	}
	if build.GetCoverage() != 84.2 || build.GetCoverageSource() != "log" {
		t.Errorf("build's coverage %v from %q; want 84.2 from the log (the regex wins)", build.GetCoverage(), build.GetCoverageSource())
	}
	if w := strings.Join(build.GetWarnings(), "\n"); !strings.Contains(w, "build.env:2: not a KEY=VALUE line") {
		t.Errorf("build's warnings %q lack the dotenv line", w)
	}
	buildLog := e.client.Log(ctx, t, build.GetId())
	for _, want := range []string{"Uploading reports...", "Test report: 4 tests, 1 failures", "Coverage report (cobertura): 80.00% of 30 lines", "dotenv report: 1 variables"} {
		if !strings.Contains(buildLog, want) {
			t.Errorf("build's log lacks %q:\n%s", want, buildLog)
		}
	}
	if log := e.client.Log(ctx, t, harness.Job(run, "use").GetId()); !strings.Contains(log, "built\n") || !strings.Contains(log, "version=1.2.3") {
		t.Errorf("use did not get build's artifacts and dotenv (above its own variables):\n%s", log)
	}
	if st := harness.Job(run, "without").GetStatus(); st != gantryv1.JobStatus_JOB_STATUS_SUCCESS {
		t.Errorf("without (artifacts: false) is %s: it got the dotenv variables", st)
	}
	unit := harness.Job(run, "unit")
	if unit.GetStatus() != gantryv1.JobStatus_JOB_STATUS_FAILED || unit.GetTests().GetTests() != 5 || unit.GetCoverageSource() != "report" {
		t.Errorf("unit: %s, tests %v, coverage from %q; want failed with Surefire's 5 tests and JaCoCo coverage", unit.GetStatus(), unit.GetTests(), unit.GetCoverageSource())
	}
	if w := strings.Join(unit.GetWarnings(), "\n"); !strings.Contains(w, "junit report target/surefire-reports/TEST-broken.xml") {
		t.Errorf("unit's warnings %q lack the broken JUnit file", w)
	}
	if r := run.GetRun(); r.GetTests().GetTests() != 9 || r.Coverage == nil {
		t.Errorf("run summary: tests %v, coverage %v; want 9 tests and a coverage", r.GetTests(), r.Coverage)
	} else if want := (84.2 + 100*15.0/21) / 2; r.GetCoverage() < want-0.01 || r.GetCoverage() > want+0.01 {
		t.Errorf("run coverage %.3f, want the mean of its jobs' %.3f", r.GetCoverage(), want)
	}

	rid := strconv.FormatInt(runID, 10)
	cli := func(args ...string) string {
		t.Helper()
		res := harness.CLI(ctx, t, e.addr, args...)
		if res.Code != 0 {
			t.Fatalf("gantry %s: exit %d\n%s%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
		}
		return res.Stdout
	}
	out := cli("tests", rid)
	for _, want := range []string{"build", "unit", "total", "tests.test_calc.test_div_by_zero", "ZeroDivisionError: division by zero", "com.acme.calc.CalcTest.parsesInput"} {
		if !strings.Contains(out, want) {
			t.Errorf("gantry tests lacks %q:\n%s", want, out)
		}
	}
	out = cli("runs", rid)
	for _, want := range []string{"Tests:", "4 passed, 3 failed, 2 skipped of 9", "Coverage:", `artifacts "app build": artifacts (`} {
		if !strings.Contains(out, want) {
			t.Errorf("gantry runs RUN lacks %q:\n%s", want, out)
		}
	}
	out = cli("coverage", rid, "--files")
	for _, want := range []string{"84.20%", "71.43%", "jacoco report", "calc/calc.go", "com/acme/calc/Parser.java"} {
		if !strings.Contains(out, want) {
			t.Errorf("gantry coverage RUN --files lacks %q:\n%s", want, out)
		}
	}
	out = cli("coverage", "--ref", "main")
	if !strings.Contains(out, rid) || !strings.Contains(out, "%") {
		t.Errorf("gantry coverage --ref main lacks run %s:\n%s", rid, out)
	}
	if out := cli("coverage", "--ref", "no-such-branch"); !strings.Contains(out, "No runs of no-such-branch") {
		t.Errorf("coverage of an unknown ref:\n%s", out)
	}
}

const expiringPipeline = `
stages: [build, deploy]
build:
  image: gantry-test/busybox:latest
  stage: build
  script: [echo kept > kept.txt, echo gone > gone.txt]
  artifacts:
    paths: [gone.txt]
    expire_in: 1 second
keep:
  image: gantry-test/busybox:latest
  stage: build
  script: [echo kept > kept.txt]
  artifacts:
    paths: [kept.txt]
    expire_in: never
private:
  image: gantry-test/busybox:latest
  stage: build
  script: [echo private > p.txt]
  artifacts:
    paths: [p.txt]
    public: false
internal:
  image: gantry-test/busybox:latest
  stage: build
  script: [echo internal > i.txt]
  artifacts:
    paths: [i.txt]
    access: none
deploy:
  image: gantry-test/busybox:latest
  stage: deploy
  needs: [build]
  when: manual
  script: [cat gone.txt]
`

// Artifacts whose expire_in passed are deleted by the coordinator's
// collector; the deletion shows in the CLI, downloads say why they fail,
// and a job played later that needs them fails saying so. Others stay.
func TestArtifactsExpire(t *testing.T) {
	harness.Docker(t)
	dir, addr, token := t.TempDir(), harness.FreeAddr(t), "e2e-registration-token"
	harness.Coordinator(t, dir, addr, token, "--artifacts-expiry-interval", "200ms", "--admin-token", "admin-s3cret")
	startDockerRunner(t, dir, "runner-1", addr, token, "--concurrency", "4")
	client := harness.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": expiringPipeline})
	runID := submitDetached(ctx, t, addr, src, "--ref", "main")
	client.WaitRun(ctx, t, runID, func(m *gantryv1.WatchRunResponse) bool {
		return m.GetRun().GetStatus() == gantryv1.RunStatus_RUN_STATUS_BLOCKED || harness.RunEnded(m)
	})
	rid := strconv.FormatInt(runID, 10)

	// The collector runs every 200 ms; the archive expires a second after
	// its upload. Wait for the record to say it went.
	var build *gantryv1.Job
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	for build.GetArtifact().GetDeletedAt() == nil {
		select {
		case <-wctx.Done():
			t.Fatalf("build's artifact never expired: %v", build.GetArtifact())
		case <-time.After(200 * time.Millisecond):
		}
		run, err := client.Pipeline.GetRun(ctx, &gantryv1.GetRunRequest{RunId: runID})
		if err != nil {
			t.Fatal(err)
		}
		build = jobNamed(run.GetJobs(), "build")
	}
	if res := harness.CLI(ctx, t, addr, "artifacts", "list", rid); res.Code != 0 || !strings.Contains(res.Stdout, "deleted") || !strings.Contains(res.Stdout, "never") {
		t.Errorf("artifacts list (want build deleted, keep never expiring): exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := harness.CLI(ctx, t, addr, "artifacts", "download", rid, "build", "-o", filepath.Join(t.TempDir(), "a.tar.gz")); res.Code == 0 || !strings.Contains(res.Stderr, "expired at") {
		t.Errorf("download of an expired artifact: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := harness.CLI(ctx, t, addr, "artifacts", "download", rid, "keep", "-o", filepath.Join(t.TempDir(), "k.tar.gz")); res.Code != 0 {
		t.Errorf("download of the kept artifact: exit %d\n%s", res.Code, res.Stderr)
	}
	// artifacts:public: false needs the admin token; access: none is
	// for the run's jobs only.
	out := filepath.Join(t.TempDir(), "p.tar.gz")
	if res := harness.CLI(ctx, t, addr, "artifacts", "download", rid, "private", "-o", out); res.Code == 0 || !strings.Contains(res.Stderr, "not public") {
		t.Errorf("download of a private artifact without the token: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := harness.CLI(ctx, t, addr, "--token", "admin-s3cret", "artifacts", "download", rid, "private", "-o", out); res.Code != 0 {
		t.Errorf("download of a private artifact with the token: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := harness.CLI(ctx, t, addr, "--token", "admin-s3cret", "artifacts", "download", rid, "internal", "-o", out); res.Code == 0 || !strings.Contains(res.Stderr, "access: none") {
		t.Errorf("download of an access: none artifact: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := harness.CLI(ctx, t, addr, "play", rid, "deploy"); res.Code != 0 {
		t.Fatalf("play deploy: exit %d\n%s", res.Code, res.Stderr)
	}
	run := client.WaitRun(ctx, t, runID, func(m *gantryv1.WatchRunResponse) bool {
		st := harness.Job(m, "deploy").GetStatus()
		return st == gantryv1.JobStatus_JOB_STATUS_FAILED || st == gantryv1.JobStatus_JOB_STATUS_SUCCESS
	})
	deploy := harness.Job(run, "deploy")
	if log := client.Log(ctx, t, deploy.GetId()); deploy.GetStatus() != gantryv1.JobStatus_JOB_STATUS_FAILED || !strings.Contains(log, "expired at") {
		t.Errorf("deploy after its needs' artifacts expired: %s\n%s", deploy.GetStatus(), log)
	}
}

func jobNamed(jobs []*gantryv1.Job, name string) *gantryv1.Job {
	for _, j := range jobs {
		if j.GetName() == name {
			return j
		}
	}
	return nil
}
