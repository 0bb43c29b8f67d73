// Package metrics is the coordinator's Prometheus instrumentation: one
// registry of its own (not the global one) with the Go and process
// collectors, collectors that read the scheduler's state at scrape time
// (jobs waiting and why, runners connected), and counters and histograms
// fed by events: the scheduler's (as its Observer), the runner API's byte
// counts (as its Meter), and the latency of every etcd request (an
// instrumented etcd KV). docs/METRICS.md lists every metric.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/api"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
)

// Bucket bounds, in seconds.
var (
	// waitBuckets span a job's wait in the queue: from a dispatch round
	// to an hour without a runner.
	waitBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	// latencyBuckets span the scheduler's reaction: milliseconds to a
	// few seconds (its safety tick is 2 s).
	latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// durationBuckets span CI jobs: seconds to hours.
	durationBuckets = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}
	// etcdBuckets span etcd requests: in process, well under a
	// millisecond; over a slow disk or network, up to seconds.
	etcdBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
)

// finalStatuses are the job_duration status labels.
var finalStatuses = []model.JobStatus{model.JobSuccess, model.JobFailed, model.JobCanceled}

// artifactKinds are the artifact_bytes kind labels.
var artifactKinds = []string{"artifacts", "reports", "cache"}

// retryReasons are the retry reasons counted from the start, so their
// series exist at zero.
var retryReasons = []model.FailureReason{
	model.ReasonLeaseExpired, model.ReasonStaleRunnerSession, model.ReasonUndeliveredLease,
	model.ReasonScriptFailure, model.ReasonTimeout, model.ReasonRunnerSystem, model.ReasonImagePull,
}

// Coordinator holds the coordinator's metrics.
type Coordinator struct {
	reg      *prometheus.Registry
	gatherer prometheus.Gatherer
	log      *zap.Logger

	queueWait       prometheus.Histogram
	dispatchLatency prometheus.Histogram
	jobDuration     map[model.JobStatus]prometheus.Observer
	leasesExpired   prometheus.Counter
	retries         *prometheus.CounterVec
	logBytes        prometheus.Counter
	artifactBytes   map[string]prometheus.Counter
	etcd            *prometheus.HistogramVec

	leader        prometheus.Gauge
	leaderChanges prometheus.Counter
	leaderMu      sync.Mutex
	leaderKnown   bool
	isLeader      bool
}

var (
	_ scheduler.Observer = (*Coordinator)(nil)
	_ api.Meter          = (*Coordinator)(nil)
)

// Options tune New.
type Options struct {
	// EtcdServerMetrics also serves the etcd_* metrics the embedded etcd
	// server registers in Prometheus's default registry (only meaningful
	// when the coordinator embeds etcd).
	EtcdServerMetrics bool
}

// New returns the coordinator's metrics; Watch adds the scheduler's
// state to them.
func New(opts Options, log *zap.Logger) *Coordinator {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Coordinator{
		reg: reg,
		log: log,
		queueWait: f.histogram(prometheus.HistogramOpts{
			Name:    "gantry_queue_wait_seconds",
			Help:    "Time from a job becoming ready (queued) to its lease reaching a runner's stream.",
			Buckets: waitBuckets,
		}),
		dispatchLatency: f.histogram(prometheus.HistogramOpts{
			Name:    "gantry_dispatch_latency_seconds",
			Help:    "Time from a job being leasable (ready, and a slot free on the runner that took it) to its lease reaching the runner's stream.",
			Buckets: latencyBuckets,
		}),
		leasesExpired: f.counter(prometheus.CounterOpts{
			Name: "gantry_leases_expired_total",
			Help: "Job leases lost because their runner stopped renewing them.",
		}),
		retries: f.counterVec(prometheus.CounterOpts{
			Name: "gantry_job_retries_total",
			Help: "Jobs requeued after an attempt, by the reason that attempt ended (lost attempts, and failures retry: retries).",
		}, "reason"),
		logBytes: f.counter(prometheus.CounterOpts{
			Name: "gantry_log_bytes_received_total",
			Help: "Job log bytes received from runners (resends included).",
		}),
		etcd: f.histogramVec(prometheus.HistogramOpts{
			Name:    "gantry_etcd_request_duration_seconds",
			Help:    "Latency of the coordinator's etcd requests, by operation.",
			Buckets: etcdBuckets,
		}, "op"),
		leader: f.gauge(prometheus.GaugeOpts{
			Name: "gantry_leader",
			Help: "1 while this coordinator is the leader (schedules and leases jobs), else 0.",
		}),
		leaderChanges: f.counter(prometheus.CounterOpts{
			Name: "gantry_leadership_changes_total",
			Help: "Times this coordinator gained or lost leadership after it started.",
		}),
	}
	durations := f.histogramVec(prometheus.HistogramOpts{
		Name:    "gantry_job_duration_seconds",
		Help:    "Duration of jobs' final attempts, from start to end, by final status.",
		Buckets: durationBuckets,
	}, "status")
	m.jobDuration = make(map[model.JobStatus]prometheus.Observer, len(finalStatuses))
	for _, st := range finalStatuses {
		m.jobDuration[st] = durations.WithLabelValues(string(st))
	}
	bytes := f.counterVec(prometheus.CounterOpts{
		Name: "gantry_artifact_bytes_received_total",
		Help: "Archive bytes received from runners and stored, by kind (artifacts, reports, cache).",
	}, "kind")
	m.artifactBytes = make(map[string]prometheus.Counter, len(artifactKinds))
	for _, k := range artifactKinds {
		m.artifactBytes[k] = bytes.WithLabelValues(k)
	}
	for _, r := range retryReasons {
		m.retries.WithLabelValues(string(r))
	}
	for _, op := range etcdOps {
		m.etcd.WithLabelValues(op)
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.gatherer = reg
	if opts.EtcdServerMetrics {
		m.gatherer = prometheus.Gatherers{reg, prefixGatherer{prometheus.DefaultGatherer, "etcd_"}}
	}
	return m
}

// Gatherer gathers everything Handler serves.
func (m *Coordinator) Gatherer() prometheus.Gatherer { return m.gatherer }

// Handler serves the metrics in Prometheus's exposition formats. A
// collector that fails (etcd unreachable) is logged and left out; the
// rest is still served.
func (m *Coordinator) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(m.log),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
	})
}

// Watch adds the scheduler's state, read at every scrape: jobs waiting by
// tag set and reason, jobs held, runners connected by state and tag set
// and their slots.
func (m *Coordinator) Watch(s Scheduler) {
	m.reg.MustRegister(newStateCollector(s))
}

// SetLeader records whether this coordinator leads. The first call sets
// the state it started in; later changes count as leadership changes.
// Until leader election exists the coordinator calls it once, with true.
func (m *Coordinator) SetLeader(leader bool) {
	m.leaderMu.Lock()
	defer m.leaderMu.Unlock()
	if m.leaderKnown && m.isLeader != leader {
		m.leaderChanges.Inc()
	}
	m.leaderKnown, m.isLeader = true, leader
	if leader {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// LeaseGranted implements scheduler.Observer.
func (m *Coordinator) LeaseGranted(wait, latency time.Duration) {
	m.queueWait.Observe(wait.Seconds())
	m.dispatchLatency.Observe(latency.Seconds())
}

// LeaseExpired implements scheduler.Observer.
func (m *Coordinator) LeaseExpired() { m.leasesExpired.Inc() }

// JobRetried implements scheduler.Observer.
func (m *Coordinator) JobRetried(reason model.FailureReason) {
	m.retries.WithLabelValues(string(reason)).Inc()
}

// JobEnded implements scheduler.Observer.
func (m *Coordinator) JobEnded(status model.JobStatus, took time.Duration) {
	if o, ok := m.jobDuration[status]; ok {
		o.Observe(took.Seconds())
	}
}

// LogBytesReceived implements api.Meter.
func (m *Coordinator) LogBytesReceived(n int) { m.logBytes.Add(float64(n)) }

// ArtifactBytesReceived implements api.Meter.
func (m *Coordinator) ArtifactBytesReceived(kind string, n int64) {
	if c, ok := m.artifactBytes[kind]; ok {
		c.Add(float64(n))
	}
}

// factory registers what it makes.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(o prometheus.CounterOpts) prometheus.Counter {
	c := prometheus.NewCounter(o)
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(o prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(o, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(o prometheus.GaugeOpts) prometheus.Gauge {
	g := prometheus.NewGauge(o)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(o prometheus.HistogramOpts) prometheus.Histogram {
	h := prometheus.NewHistogram(o)
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(o prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(o, labels)
	f.reg.MustRegister(h)
	return h
}

// prefixGatherer gathers the metric families of g whose name starts
// with prefix.
type prefixGatherer struct {
	g      prometheus.Gatherer
	prefix string
}

func (p prefixGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := p.g.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), p.prefix) {
			out = append(out, mf)
		}
	}
	return out, err
}
