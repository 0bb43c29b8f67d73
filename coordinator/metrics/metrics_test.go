package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/etcdserver/etcdtest"
	"github.com/gantry-ci/gantry/coordinator/metrics"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
)

// fakeScheduler is a scheduler's state as the collector reads it.
type fakeScheduler struct {
	counts  scheduler.JobCounts
	err     error
	runners map[string]scheduler.RunnerState
}

func (f *fakeScheduler) CountJobs(context.Context) (scheduler.JobCounts, error) {
	return f.counts, f.err
}

func (f *fakeScheduler) ConnectedRunners() map[string]scheduler.RunnerState { return f.runners }

// series gathers m and returns metric name{labels} -> value (a
// histogram's sample count) for the gantry_ metrics.
func series(t *testing.T, m *metrics.Coordinator) map[string]float64 {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return flatten(mfs)
}

func flatten(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "gantry_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case mt.GetHistogram() != nil:
				out[key] = float64(mt.GetHistogram().GetSampleCount())
			case mt.GetCounter() != nil:
				out[key] = mt.GetCounter().GetValue()
			default:
				out[key] = mt.GetGauge().GetValue()
			}
		}
	}
	return out
}

func newMetrics(t *testing.T) *metrics.Coordinator {
	return metrics.New(metrics.Options{}, zaptest.NewLogger(t))
}

func TestStateCollector(t *testing.T) {
	m := newMetrics(t)
	m.Watch(&fakeScheduler{
		counts: scheduler.JobCounts{Held: 3, Waiting: map[scheduler.WaitKey]int{
			{Tags: "gpu", Reason: scheduler.WaitNoRunner}: 2,
			{Tags: "", Reason: scheduler.WaitManual}:      1,
		}},
		runners: map[string]scheduler.RunnerState{
			"a": {Tags: []string{"linux", "docker"}, Capacity: 4, Jobs: []int64{1, 2}},
			"b": {Tags: []string{"docker", "linux"}, Capacity: 2},
			"c": {Tags: []string{"docker", "linux"}, Capacity: 2, Draining: true, Jobs: []int64{3}},
		},
	})
	got := series(t, m)
	for key, want := range map[string]float64{
		"gantry_jobs_running{}":                                      3,
		"gantry_jobs_pending{reason=no_runner,tags=gpu}":             2,
		"gantry_jobs_pending{reason=busy,tags=gpu}":                  0,
		"gantry_jobs_pending{reason=manual,tags=}":                   1,
		"gantry_jobs_pending{reason=dispatching,tags=docker,linux}":  0,
		"gantry_runners_connected{state=busy,tags=docker,linux}":     1,
		"gantry_runners_connected{state=idle,tags=docker,linux}":     1,
		"gantry_runners_connected{state=draining,tags=docker,linux}": 1,
		"gantry_runners_connected{state=idle,tags=}":                 0,
		"gantry_runners_connected{state=idle,tags=gpu}":              0,
		"gantry_runners_slots{state=used,tags=docker,linux}":         3,
		"gantry_runners_slots{state=free,tags=docker,linux}":         4, // 2 + 2; the draining runner's are not free
		"gantry_leader{}": 0, // SetLeader not called
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %t), want %v", key, v, ok, want)
		}
	}
	for _, r := range scheduler.WaitReasons {
		if _, ok := got["gantry_jobs_pending{reason="+string(r)+",tags=}"]; !ok {
			t.Errorf("no untagged series for reason %s", r)
		}
	}
}

// A scheduler that cannot read etcd leaves the job counts out of the
// scrape; the rest is served.
func TestStateCollectorError(t *testing.T) {
	m := newMetrics(t)
	m.Watch(&fakeScheduler{err: errors.New("etcd is gone"), runners: map[string]scheduler.RunnerState{"a": {Capacity: 1}}})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	text := string(body)
	if strings.Contains(text, "gantry_jobs_pending{") || strings.Contains(text, "\ngantry_jobs_running ") {
		t.Errorf("job counts served despite the error:\n%s", text)
	}
	if !strings.Contains(text, `gantry_runners_connected{state="idle",tags=""} 1`) {
		t.Errorf("runners missing:\n%s", text)
	}
}

func TestEvents(t *testing.T) {
	m := newMetrics(t)
	m.LeaseGranted(2*time.Second, 10*time.Millisecond)
	m.LeaseExpired()
	m.JobRetried(model.ReasonLeaseExpired)
	m.JobEnded(model.JobFailed, time.Minute)
	m.JobEnded(model.JobSkipped, 0) // not a status that ran: ignored
	m.LogBytesReceived(100)
	m.ArtifactBytesReceived("reports", 2048)
	got := series(t, m)
	for key, want := range map[string]float64{
		"gantry_queue_wait_seconds{}":                          1,
		"gantry_dispatch_latency_seconds{}":                    1,
		"gantry_leases_expired_total{}":                        1,
		"gantry_job_retries_total{reason=lease_expired}":       1,
		"gantry_job_retries_total{reason=script_failure}":      0,
		"gantry_job_duration_seconds{status=failed}":           1,
		"gantry_job_duration_seconds{status=success}":          0,
		"gantry_log_bytes_received_total{}":                    100,
		"gantry_artifact_bytes_received_total{kind=reports}":   2048,
		"gantry_artifact_bytes_received_total{kind=artifacts}": 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %t), want %v", key, v, ok, want)
		}
	}
}

func TestLeadership(t *testing.T) {
	m := newMetrics(t)
	for i, step := range []struct {
		leader  bool
		gauge   float64
		changes float64
	}{
		{true, 1, 0}, // the state it starts in is no change
		{true, 1, 0},
		{false, 0, 1},
		{true, 1, 2},
	} {
		m.SetLeader(step.leader)
		got := series(t, m)
		if got["gantry_leader{}"] != step.gauge || got["gantry_leadership_changes_total{}"] != step.changes {
			t.Errorf("step %d: leader %v, changes %v; want %v, %v", i, got["gantry_leader{}"], got["gantry_leadership_changes_total{}"], step.gauge, step.changes)
		}
	}
}

// InstrumentKV times each kind of request, through a real etcd.
func TestInstrumentKV(t *testing.T) {
	m := newMetrics(t)
	cli := etcdtest.New(t)
	cli.KV = m.InstrumentKV(cli.KV)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := cli.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.Value("k"), "=", "v")).Then(clientv3.OpPut("k", "w")).Else().Commit()
	if err != nil || !resp.Succeeded {
		t.Fatalf("txn: %v %v", resp, err)
	}
	if _, err := cli.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	got := series(t, m)
	for op, want := range map[string]float64{"put": 1, "get": 2, "txn": 1, "delete": 1} {
		if v := got["gantry_etcd_request_duration_seconds{op="+op+"}"]; v != want {
			t.Errorf("op %s: %v requests timed, want %v", op, v, want)
		}
	}
}

// The metrics follow Prometheus's naming conventions (promlint: units,
// _total on counters, help text...).
func TestLint(t *testing.T) {
	m := newMetrics(t)
	m.Watch(&fakeScheduler{runners: map[string]scheduler.RunnerState{"a": {Capacity: 1}}})
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "gantry_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
