// Package metrics is the runner's Prometheus instrumentation and its HTTP
// side (--http-listen): /metrics from a registry of its own (with the Go
// and process collectors), /healthz and /readyz. Gauges are read from the
// agent at scrape time; events (executor errors, container starts, bytes
// sent) are counted as they happen. docs/METRICS.md lists every metric.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Label values. Roles are the docker executor's container roles.
var (
	errorKinds    = []string{"system_failure", "image_pull_failure", "invalid_job"}
	roles         = []string{"build", "after-script", "service"}
	artifactKinds = []string{"artifacts", "reports", "cache"}
)

// startBuckets span a container's create and start: tens of
// milliseconds on a warm engine, seconds on a loaded one.
var startBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Agent is what the runner's gauges read at every scrape.
type Agent interface {
	// JobsRunning is how many attempts the runner executes.
	JobsRunning() int
	// Connected reports whether a coordinator welcomed the runner on a
	// stream that is still open.
	Connected() bool
	// LogBytesBuffered is how many log bytes the running attempts hold
	// that the coordinator has not acknowledged.
	LogBytesBuffered() int64
}

// Runner holds the runner's metrics.
type Runner struct {
	reg            *prometheus.Registry
	log            *zap.Logger
	executorErrors map[string]prometheus.Counter
	containerStart map[string]prometheus.Observer
	logBytes       prometheus.Counter
	artifactBytes  map[string]prometheus.Counter
}

// New returns the runner's metrics for a runner running up to capacity
// jobs at once.
func New(capacity int, log *zap.Logger) *Runner {
	reg := prometheus.NewRegistry()
	m := &Runner{
		reg: reg,
		log: log,
		logBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gantry_runner_log_bytes_sent_total",
			Help: "Job log bytes sent in AppendLog calls the coordinator answered (resends included).",
		}),
	}
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_runner_executor_errors_total",
		Help: "Job attempts the executor could not run to an outcome of the script, by kind (system_failure, image_pull_failure, invalid_job).",
	}, []string{"kind"})
	starts := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gantry_runner_container_start_seconds",
		Help:    "Time the Docker engine took to create and start a container, by role (build, after-script, service); docker executor only.",
		Buckets: startBuckets,
	}, []string{"role"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_runner_artifact_bytes_sent_total",
		Help: "Archive bytes sent to the coordinator, by kind (artifacts, reports, cache).",
	}, []string{"kind"})
	capacityGauge := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gantry_runner_capacity",
		Help: "Jobs the runner runs at once at most (--concurrency).",
	})
	capacityGauge.Set(float64(capacity))
	reg.MustRegister(m.logBytes, errs, starts, bytes, capacityGauge,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.executorErrors = make(map[string]prometheus.Counter, len(errorKinds))
	for _, k := range errorKinds {
		m.executorErrors[k] = errs.WithLabelValues(k)
	}
	m.containerStart = make(map[string]prometheus.Observer, len(roles))
	for _, r := range roles {
		m.containerStart[r] = starts.WithLabelValues(r)
	}
	m.artifactBytes = make(map[string]prometheus.Counter, len(artifactKinds))
	for _, k := range artifactKinds {
		m.artifactBytes[k] = bytes.WithLabelValues(k)
	}
	return m
}

// Watch adds the agent's gauges, read at every scrape.
func (m *Runner) Watch(a Agent) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gantry_runner_jobs_running",
			Help: "Job attempts the runner executes.",
		}, func() float64 { return float64(a.JobsRunning()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gantry_runner_connected",
			Help: "1 while the runner has an open stream to a coordinator, else 0.",
		}, func() float64 {
			if a.Connected() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gantry_runner_log_bytes_buffered",
			Help: "Log bytes of running jobs written but not yet acknowledged by the coordinator (spooled on disk).",
		}, func() float64 { return float64(a.LogBytesBuffered()) }),
	)
}

// Registry is where the metrics are registered (for tests).
func (m *Runner) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's exposition formats.
func (m *Runner) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(m.log),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ExecutorError counts an attempt the executor could not run to the
// script's outcome; kind is one of system_failure, image_pull_failure or
// invalid_job.
func (m *Runner) ExecutorError(kind string) {
	if c, ok := m.executorErrors[kind]; ok {
		c.Inc()
	}
}

// ContainerStarted observes how long a container of role took to create
// and start.
func (m *Runner) ContainerStarted(role string, took time.Duration) {
	if o, ok := m.containerStart[role]; ok {
		o.Observe(took.Seconds())
	}
}

// LogBytesSent counts log bytes sent in AppendLog calls the coordinator
// answered.
func (m *Runner) LogBytesSent(n int) { m.logBytes.Add(float64(n)) }

// ArtifactBytesSent counts archive bytes sent, of kind artifacts, reports
// or cache.
func (m *Runner) ArtifactBytesSent(kind string, n int) {
	if c, ok := m.artifactBytes[kind]; ok {
		c.Add(float64(n))
	}
}
