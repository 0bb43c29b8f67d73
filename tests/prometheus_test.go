package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// monitoredPipeline has a job that logs, leaves an artifact and passes,
// and one no runner can take (its tags), so the queue has a reason. The
// shell executor ignores the image.
const monitoredPipeline = `
build:
  image: gantry-test/busybox:latest
  script:
    - for i in 1 2 3; do echo "line $i"; done
    - echo built > out.txt
  artifacts:
    paths: [out.txt]
gpu:
  tags: [gpu]
  script: [echo never runs here]
`

// monitored is a coordinator and a runner serving their metrics, after
// one run whose first job passed.
type monitored struct {
	dir                     string
	grpc                    string
	coordHTTP, runnerHTTP   string
	coordinator, runnerProc *harness.Process
}

func startMonitored(t *testing.T, executorArgs ...string) *monitored {
	t.Helper()
	dir := t.TempDir()
	m := &monitored{dir: dir}
	m.grpc = harness.FreeAddr(t)
	token := "metrics-token"
	m.coordinator = harness.Coordinator(t, dir, m.grpc, token,
		"--http-listen", "127.0.0.1:0", "--http-ready-file", filepath.Join(dir, "coordinator.http"))
	m.coordHTTP = harness.WaitFile(t, filepath.Join(dir, "coordinator.http"), 30*time.Second, m.coordinator)
	m.runnerProc = harness.Runner(t, dir, "metrics-runner", m.grpc, token, append(executorArgs,
		"--http-listen", "127.0.0.1:0", "--http-ready-file", filepath.Join(dir, "runner.http"))...)
	m.runnerHTTP = harness.WaitFile(t, filepath.Join(dir, "runner.http"), 60*time.Second, m.runnerProc)
	harness.WaitLogCount(t, m.runnerProc, "connected to coordinator", 1, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := t.TempDir()
	harness.WriteTree(t, src, map[string]string{".gitlab-ci.yml": monitoredPipeline})
	if res := harness.CLI(ctx, t, m.grpc, "submit", "--detach", src); res.Code != 0 {
		t.Fatalf("submit: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	harness.Dial(t, m.grpc).WaitRun(ctx, t, 1, func(r *gantryv1.WatchRunResponse) bool {
		return harness.Job(r, "build").GetStatus() == gantryv1.JobStatus_JOB_STATUS_SUCCESS
	})
	return m
}

// scrape reads a /metrics page into metric families.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", addr, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", addr, err)
	}
	return mfs
}

// documented is a row of docs/METRICS.md's metric tables.
type documented struct {
	typ    string
	labels []string
}

var metricRow = regexp.MustCompile("^\\| `(gantry_[a-z_]+)` \\| ([a-z]+) \\|([^|]*)\\|")

// documentedMetrics parses docs/METRICS.md's tables: section title ->
// metric name -> its row.
func documentedMetrics(t *testing.T) map[string]map[string]documented {
	t.Helper()
	f, err := os.Open(filepath.Join(harness.Root(), "docs", "METRICS.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]documented{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if title, ok := strings.CutPrefix(line, "## "); ok {
			section = title
			continue
		}
		m := metricRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var labels []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				labels = append(labels, l)
			}
		}
		sort.Strings(labels)
		if out[section] == nil {
			out[section] = map[string]documented{}
		}
		out[section][m[1]] = documented{typ: m[2], labels: labels}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// served returns the gantry_ metric families of a scrape as rows.
func served(mfs map[string]*dto.MetricFamily) map[string]documented {
	out := map[string]documented{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "gantry_") {
			continue
		}
		set := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				set[l.GetName()] = true
			}
		}
		var labels []string
		for l := range set {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		out[name] = documented{typ: strings.ToLower(mf.GetType().String()), labels: labels}
	}
	return out
}

// compareDocumented reports every metric served but not documented,
// documented but not served, or documented with another type or labels.
func compareDocumented(t *testing.T, binary string, doc, got map[string]documented) {
	t.Helper()
	if len(doc) == 0 {
		t.Errorf("docs/METRICS.md documents no %s metric", binary)
	}
	for name, g := range got {
		d, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("%s serves %s (%s), which docs/METRICS.md does not document", binary, name, g.typ)
		case d.typ != g.typ:
			t.Errorf("%s: %s is a %s; docs/METRICS.md says %s", binary, name, g.typ, d.typ)
		case !slices.Equal(d.labels, g.labels):
			t.Errorf("%s: %s has labels %v; docs/METRICS.md says %v", binary, name, g.labels, d.labels)
		}
	}
	for name := range doc {
		if _, ok := got[name]; !ok {
			t.Errorf("docs/METRICS.md documents %s, which the %s does not serve", name, binary)
		}
	}
}

// TestMetricsDocumented checks that docs/METRICS.md documents exactly the
// gantry_ metrics a real coordinator and runner serve (names, types,
// labels), and the health endpoints and healthcheck subcommands.
func TestMetricsDocumented(t *testing.T) {
	m := startMonitored(t, "--executor", "shell", "--builds-dir", filepath.Join(t.TempDir(), "builds"))
	doc := documentedMetrics(t)
	compareDocumented(t, "coordinator", doc["Coordinator"], served(scrape(t, m.coordHTTP)))
	compareDocumented(t, "runner", doc["Runner"], served(scrape(t, m.runnerHTTP)))
	coordMFs := scrape(t, m.coordHTTP)
	if _, ok := coordMFs["etcd_server_has_leader"]; !ok {
		t.Error("the coordinator with embedded etcd serves no etcd_server_has_leader")
	}
	if _, ok := coordMFs["go_goroutines"]; !ok {
		t.Error("the coordinator serves no Go metrics")
	}

	for _, addr := range []string{m.coordHTTP, m.runnerHTTP} {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s%s: %s", addr, path, resp.Status)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := harness.Binaries(t)
	healthcheck := func(binary string, args ...string) int {
		out, err := exec.CommandContext(ctx, filepath.Join(bin, binary), append([]string{"healthcheck"}, args...)...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s healthcheck: %v\n%s", binary, err, out)
		}
		return 0
	}
	if code := healthcheck("gantry-coordinator", "--http-listen", m.coordHTTP); code != 0 {
		t.Errorf("gantry-coordinator healthcheck --http-listen: exit %d, want 0", code)
	}
	if code := healthcheck("gantry-runner", "--url", "http://"+m.runnerHTTP+"/readyz"); code != 0 {
		t.Errorf("gantry-runner healthcheck --url: exit %d, want 0", code)
	}
	if code := healthcheck("gantry-coordinator", "--url", "http://"+harness.FreeAddr(t)+"/readyz"); code != 1 {
		t.Errorf("healthcheck of nothing: exit %d, want 1", code)
	}

	// A runner whose coordinator is gone is alive but not ready.
	m.coordinator.Stop(30 * time.Second)
	harness.WaitLogCount(t, m.runnerProc, "coordinator stream ended; reconnecting", 1, 60*time.Second)
	if code := healthcheck("gantry-runner", "--http-listen", m.runnerHTTP); code != 1 {
		t.Errorf("gantry-runner healthcheck without a coordinator: exit %d, want 1", code)
	}
	resp, err := http.Get("http://" + m.runnerHTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("runner /healthz without a coordinator: %s, want 200", resp.Status)
	}
}

// TestPrometheus has Debian's Prometheus scrape a real coordinator and
// runner (docker executor) every second, with deploy/prometheus/rules.yml
// loaded, and queries its HTTP API for the queue, runner and histogram
// series, the recording rules, and every expression of the Grafana
// dashboard.
func TestPrometheus(t *testing.T) {
	harness.PrometheusTool(t, "prometheus") // skip before starting anything
	m := startMonitored(t, "--executor", "docker")
	rules := filepath.Join(harness.Root(), "deploy", "prometheus", "rules.yml")
	prom := harness.StartPrometheus(t, t.TempDir(), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: gantry-coordinator
    static_configs: [{targets: [%q]}]
  - job_name: gantry-runner
    static_configs: [{targets: [%q]}]
`, rules, m.coordHTTP, m.runnerHTTP))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Each query must come to hold; Prometheus scrapes every second.
	for _, c := range []struct {
		expr string
		ok   func([]harness.Sample) bool
	}{
		{`up{job="gantry-coordinator"}`, equals(1)},
		{`up{job="gantry-runner"}`, equals(1)},
		{`sum(gantry_runners_connected{job="gantry-coordinator"})`, equals(1)},
		{`gantry_runners_slots{state="free",tags=""}`, equals(1)},
		{`gantry_jobs_pending{reason="no_runner",tags="gpu"}`, equals(1)},
		{`count(gantry_jobs_pending)`, atLeast(8)},
		{`gantry_jobs_running`, equals(0)},
		{`gantry_queue_wait_seconds_count`, atLeast(1)},
		{`gantry_dispatch_latency_seconds_count`, atLeast(1)},
		{`gantry_job_duration_seconds_count{status="success"}`, equals(1)},
		{`gantry_log_bytes_received_total`, atLeast(1)},
		{`gantry_artifact_bytes_received_total{kind="artifacts"}`, atLeast(1)},
		{`gantry_etcd_request_duration_seconds_count{op="txn"}`, atLeast(1)},
		{`gantry_leader`, equals(1)},
		{`gantry_runner_connected`, equals(1)},
		{`gantry_runner_capacity`, equals(1)},
		{`gantry_runner_log_bytes_sent_total`, atLeast(1)},
		{`gantry_runner_artifact_bytes_sent_total{kind="artifacts"}`, atLeast(1)},
		{`gantry_runner_container_start_seconds_count{role="build"}`, equals(1)},
		{`gantry_runner_executor_errors_total{kind="system_failure"}`, equals(0)},
		{`job_tags:gantry_jobs_pending:max{tags="gpu"}`, equals(1)},
		{`job_state:gantry_runners_connected:sum{state="idle"}`, equals(1)},
	} {
		waitQuery(ctx, t, prom, c.expr, c.ok)
	}

	// Every rule loaded and evaluated without error.
	var loaded []harness.Rule
	for ctx.Err() == nil {
		var err error
		if loaded, err = prom.Rules(ctx); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(loaded, func(r harness.Rule) bool { return r.Health != "ok" }) {
			break
		}
		pause(ctx)
	}
	alerts := 0
	for _, r := range loaded {
		if r.Health != "ok" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
		if r.Type == "alerting" {
			alerts++
		}
	}
	if alerts < 4 {
		t.Errorf("%d alerting rules loaded from %s, want at least 4", alerts, rules)
	}

	// The dashboard's queries are valid PromQL over these series.
	for _, expr := range dashboardExprs(t) {
		if _, err := prom.Query(ctx, expr); err != nil {
			t.Errorf("dashboard query: %v", err)
		}
	}
}

func equals(v float64) func([]harness.Sample) bool {
	return func(s []harness.Sample) bool { return len(s) == 1 && s[0].Value == v }
}

func atLeast(v float64) func([]harness.Sample) bool {
	return func(s []harness.Sample) bool { return len(s) >= 1 && s[0].Value >= v }
}

// waitQuery runs expr until ok holds of its result.
func waitQuery(ctx context.Context, t *testing.T, prom *harness.Prometheus, expr string, ok func([]harness.Sample) bool) {
	t.Helper()
	var last []harness.Sample
	var lastErr error
	for ctx.Err() == nil {
		last, lastErr = prom.Query(ctx, expr)
		if lastErr == nil && ok(last) {
			return
		}
		pause(ctx)
	}
	t.Fatalf("query %s: never as expected; last result %v, error %v", expr, last, lastErr)
}

// pause waits for Prometheus's next scrape or evaluation.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(250 * time.Millisecond):
	}
}

// dashboardExprs returns the queries of deploy/grafana/gantry.json.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.Root(), "deploy", "grafana", "gantry.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("gantry.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

// TestPrometheusConfigAndRules checks deploy/prometheus with promtool:
// the scrape config, the rules, and the alerts' unit tests.
func TestPrometheusConfigAndRules(t *testing.T) {
	promtool := harness.PrometheusTool(t, "promtool")
	dir := filepath.Join(harness.Root(), "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "rules.yml"},
		{"test", "rules", "rules_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestGrafanaDashboard checks that the dashboard queries only documented
// metrics and the recording rules deploy/prometheus/rules.yml defines.
func TestGrafanaDashboard(t *testing.T) {
	doc := documentedMetrics(t)
	known := map[string]bool{}
	for _, section := range doc {
		for name := range section {
			known[name] = true
		}
	}
	rules, err := os.ReadFile(filepath.Join(harness.Root(), "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*- record: (\S+)$`).FindAllStringSubmatch(string(rules), -1) {
		known[m[1]] = true
	}
	ident := regexp.MustCompile(`[a-z_]*:?gantry_[a-z_:0-9]+`)
	suffix := regexp.MustCompile(`_(bucket|count|sum)$`)
	exprs := dashboardExprs(t)
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d queries", len(exprs))
	}
	for _, expr := range exprs {
		for _, name := range ident.FindAllString(expr, -1) {
			if !known[name] && !known[suffix.ReplaceAllString(name, "")] {
				t.Errorf("dashboard query %q uses %s, neither documented nor recorded", expr, name)
			}
		}
	}
}
