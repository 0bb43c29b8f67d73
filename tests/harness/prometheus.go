package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PrometheusTool returns the path of a Prometheus binary (prometheus or
// promtool, from Debian's prometheus package, which make test installs).
// Without it the test is skipped, or fails when CI=true.
func PrometheusTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not installed (apt-get install prometheus, or make test)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is its base URL, e.g. http://127.0.0.1:9090.
	URL  string
	Proc *Process
}

// StartPrometheus starts Debian's Prometheus with config (prometheus.yml
// contents) in dir, its storage under dir, on a free loopback port, and
// waits until it is ready. It stops with the test.
func StartPrometheus(t testing.TB, dir, config string) *Prometheus {
	t.Helper()
	bin := PrometheusTool(t, "prometheus")
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	p := Start(t, dir, "prometheus", bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	prom := &Prometheus{URL: "http://" + addr, Proc: p}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(prom.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return prom
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after a minute:\n%s", p.Tail(40))
		}
		select {
		case <-p.Done():
			t.Fatalf("prometheus exited:\n%s", p.Tail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Sample is one series of an instant query's result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query through the HTTP API.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]Sample, error) {
	var out struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, out.ErrorType, out.Error)
	}
	var samples []Sample
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", expr, r.Value[1], err)
		}
		samples = append(samples, Sample{Metric: r.Metric, Value: v})
	}
	return samples, nil
}

// Rule is a recording or alerting rule as Prometheus reports it.
type Rule struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // "recording" or "alerting"
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// Rules lists the rules Prometheus loaded.
func (p *Prometheus) Rules(ctx context.Context) ([]Rule, error) {
	var out struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Rules []Rule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/rules", &out); err != nil {
		return nil, err
	}
	var rules []Rule
	for _, g := range out.Data.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules, nil
}

func (p *Prometheus) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	return nil
}
