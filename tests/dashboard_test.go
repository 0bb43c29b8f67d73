package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// The job waits for a gate file the test creates once the browser shows
// it running (it gives up after a minute, or when the test's directory is
// gone), so "running" is seen for sure and no sleep decides the timing.
const dashboardPipeline = `
stages: [build, test]
build:
  stage: build
  script:
    - printf '\033[36mcompiling\033[0m the <app>\n'
    - i=0; while [ -d "$GATE_DIR" ] && [ ! -e "$GATE_DIR/open" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
    - echo built
unit:
  stage: test
  needs: [build]
  script:
    - 'echo "total: 87.5%"'
    - printf '<testsuite name="unit" tests="3" failures="0" skipped="1" time="0.5"><testcase classname="u" name="a"/><testcase classname="u" name="b"/><testcase classname="u" name="c"><skipped/></testcase></testsuite>\n' > junit.xml
  coverage: '/total: (\d+\.\d+)%/'
  artifacts:
    reports:
      junit: junit.xml
`

// TestDashboard drives the coordinator's web dashboard in a real browser:
// a run page and a job page, open while the job runs, follow it to its
// end without reloading; the pages also read without JavaScript.
func TestDashboard(t *testing.T) {
	browser := harness.Browser(t)
	dir := t.TempDir()
	addr, token := harness.FreeAddr(t), "dashboard-token"
	httpReady := filepath.Join(dir, "http.ready")
	coord := harness.Coordinator(t, dir, addr, token, "--http-listen", "127.0.0.1:0", "--http-ready-file", httpReady)
	base := "http://" + harness.WaitFile(t, httpReady, 30*time.Second, coord)
	runner := harness.Runner(t, dir, "dash-runner", addr, token, "--executor", "shell", "--builds-dir", filepath.Join(dir, "builds"))
	harness.WaitLogCount(t, runner, "connected to coordinator", 1, 60*time.Second)
	client := harness.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	gateDir := filepath.Join(dir, "gate")
	if err := os.Mkdir(gateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gantry.yml": dashboardPipeline})
	if res := harness.CLI(ctx, t, addr, "submit", "--detach", "--var", "GATE_DIR="+gateDir, src); res.Code != 0 {
		t.Fatalf("submit: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	runs, err := client.Pipeline.ListRuns(ctx, &gantryv1.ListRunsRequest{Limit: 1})
	if err != nil || len(runs.GetRuns()) != 1 {
		t.Fatalf("ListRuns: %v %v", runs, err)
	}
	runID := runs.GetRuns()[0].GetId()
	snap := client.WaitRun(ctx, t, runID, func(m *gantryv1.WatchRunResponse) bool {
		return harness.Job(m, "build").GetStatus() == gantryv1.JobStatus_JOB_STATUS_RUNNING
	})
	build, unit := harness.Job(snap, "build").GetId(), harness.Job(snap, "unit").GetId()
	runURL := fmt.Sprintf("%s/runs/%d", base, runID)
	jobURL := fmt.Sprintf("%s/jobs/%d", runURL, build)
	buildStatus := fmt.Sprintf(`document.querySelector('#job-%d .status')?.dataset.status`, build)

	// Two tabs, opened while the job runs.
	runTab, closeRunTab := chromedp.NewContext(browser)
	defer closeRunTab()
	jobTab, closeJobTab := chromedp.NewContext(browser)
	defer closeJobTab()
	if err := chromedp.Do(runTab, chromedp.Navigate(runURL)); err != nil {
		t.Fatalf("open the run page: %v", err)
	}
	if err := chromedp.Do(jobTab, chromedp.Navigate(jobURL)); err != nil {
		t.Fatalf("open the job page: %v", err)
	}
	waitJS(t, runTab, buildStatus+` === 'running'`)
	// A mark set now survives only if the page is never reloaded.
	if err := chromedp.Do(runTab, chromedp.Evaluate[chromedp.Void](`window.testMark = 'kept'`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, jobTab, `document.querySelector('#job-status')?.dataset.status === 'running'`)
	waitJS(t, jobTab, `[...document.querySelectorAll('#log .line .fg-6')].some(e => e.textContent === 'compiling')`)
	if err := chromedp.Do(jobTab, chromedp.Evaluate[chromedp.Void](`window.testMark = 'kept'`)); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(gateDir, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// The run page follows the run to its end.
	waitJS(t, runTab, buildStatus+` === 'passed'`)
	waitJS(t, runTab, fmt.Sprintf(`document.querySelector('#job-%d .status')?.dataset.status === 'passed'`, unit))
	waitJS(t, runTab, `document.querySelector('#run-status')?.dataset.status === 'passed'`)
	waitJS(t, runTab, `document.querySelector('#live-status')?.textContent === 'final'`)
	assertNotReloaded(t, runTab)
	if got := jsValue[string](t, runTab, `document.querySelector('#run .facts .coverage')?.textContent ?? ''`); !strings.Contains(got, "87.5%") {
		t.Errorf("run coverage %q, want 87.5%%", got)
	}
	if got := jsValue[string](t, runTab, `document.querySelector('#run .facts .tests')?.textContent ?? ''`); got != "3 tests: 2 passed, 1 skipped" {
		t.Errorf("run tests %q, want the JUnit report's totals", got)
	}
	if n := jsValue[int](t, runTab, `document.querySelectorAll('.graph .edge').length`); n != 1 {
		t.Errorf("needs graph has %d edges, want 1 (unit needs build)", n)
	}
	saveScreenshot(t, runTab, "run-page.png")

	// The job page appended the rest of the log and saw the job pass.
	waitJS(t, jobTab, `document.querySelector('#job-status')?.dataset.status === 'passed'`)
	waitJS(t, jobTab, `[...document.querySelectorAll('#log .line .lt')].some(e => e.textContent === 'built')`)
	assertNotReloaded(t, jobTab)
	lines := jsValue[[]string](t, jobTab, `[...document.querySelectorAll('#log .line')].map(e => e.id)`)
	for i, id := range lines {
		if id != fmt.Sprintf("L%d", i+1) {
			t.Fatalf("log line ids %v: want L1, L2... in order, each once", lines)
		}
	}
	texts := jsValue[[]string](t, jobTab, `[...document.querySelectorAll('#log .line .lt')].map(e => e.textContent)`)
	if n := countOf(texts, "compiling the <app>"); n != 1 || countOf(texts, "built") != 1 {
		t.Errorf("log lines (each once, markup shown as text): %q", texts)
	}
	saveScreenshot(t, jobTab, "job-page.png")

	// Without JavaScript the pages read the same, just not live.
	noJS, closeNoJS := chromedp.NewContext(browser)
	defer closeNoJS()
	err = chromedp.Do(noJS,
		disableScripts,
		chromedp.Navigate(runURL),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#job-%d .status[data-status="passed"]`, build))),
	)
	if err != nil {
		t.Fatalf("run page without JavaScript: %v", err)
	}
	if loaded := jsValue[bool](t, noJS, `typeof window.gantryPage !== 'undefined'`); loaded {
		t.Error("the page script ran with JavaScript disabled")
	}
	saveScreenshot(t, noJS, "run-page-no-js.png")

	// And over plain HTTP, every page is complete HTML.
	for path, wants := range map[string][]string{
		"/":                            {fmt.Sprintf(`id="run-%d"`, runID), `data-status="passed"`},
		fmt.Sprintf("/runs/%d", runID): {fmt.Sprintf(`id="job-%d"`, build), "build", "unit", "87.5%"},
		fmt.Sprintf("/runs/%d/jobs/%d", runID, build): {`id="L1"`, "compiling", "the &lt;app&gt;", "built"},
		"/queue":   {"No job is waiting"},
		"/runners": {"dash-runner", `data-status="online"`},
	} {
		body := httpGet(t, base+path)
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
		if !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: not a whole page", path)
		}
	}
}

// disableScripts turns the tab's JavaScript off, as a reader without it.
func disableScripts(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return chromedp.Void{}, err
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// waitJS waits until a JavaScript expression is true in the tab.
func waitJS(t *testing.T, tab context.Context, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		html, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? ''`))
		t.Fatalf("waiting for %s: %v\npage text:\n%s", expr, err, html)
	}
}

func jsValue[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// assertNotReloaded checks that the tab still holds the page it loaded
// first: the mark the test set on it, and a single navigation.
func assertNotReloaded(t *testing.T, tab context.Context) {
	t.Helper()
	if mark := jsValue[string](t, tab, `window.testMark ?? ''`); mark != "kept" {
		t.Errorf("the page was reloaded (test mark %q)", mark)
	}
	if kind := jsValue[string](t, tab, `performance.getEntriesByType('navigation')[0].type`); kind != "navigate" {
		t.Errorf("navigation type %q, want navigate", kind)
	}
}

// saveScreenshot saves a full-page PNG among the test's artifacts (kept
// with go test -artifacts, under -outputdir).
func saveScreenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
