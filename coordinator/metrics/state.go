package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantry-ci/gantry/coordinator/scheduler"
)

// Scheduler is what the state collector reads, at every scrape.
type Scheduler interface {
	CountJobs(ctx context.Context) (scheduler.JobCounts, error)
	ConnectedRunners() map[string]scheduler.RunnerState
}

// Runner states, the runners_connected state label.
const (
	runnerIdle     = "idle"
	runnerBusy     = "busy"
	runnerDraining = "draining"
)

// countTimeout bounds the reading of the active runs at a scrape.
const countTimeout = 5 * time.Second

// stateCollector reports the scheduler's current state: nothing is
// counted between scrapes. Every tag set it sees (of a waiting job or a
// connected runner, and always the empty one) gets every reason and
// state, at zero when nothing is there, so series fall to zero instead
// of vanishing.
type stateCollector struct {
	s       Scheduler
	pending *prometheus.Desc
	running *prometheus.Desc
	runners *prometheus.Desc
	slots   *prometheus.Desc
}

func newStateCollector(s Scheduler) *stateCollector {
	return &stateCollector{
		s: s,
		pending: prometheus.NewDesc("gantry_jobs_pending",
			"Jobs of active runs that have not started, by their tag set and why they wait (needs, manual, delayed, limit, no_runner, draining, busy, dispatching).",
			[]string{"tags", "reason"}, nil),
		running: prometheus.NewDesc("gantry_jobs_running",
			"Jobs held by runners (leased or running).", nil, nil),
		runners: prometheus.NewDesc("gantry_runners_connected",
			"Runners connected to this coordinator, by tag set and state (idle, busy, draining).",
			[]string{"tags", "state"}, nil),
		slots: prometheus.NewDesc("gantry_runners_slots",
			"Job slots of connected runners, by tag set and state (used; free, not counting draining runners).",
			[]string{"tags", "state"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.running
	ch <- c.runners
	ch <- c.slots
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	tagSets := map[string]bool{"": true} // untagged jobs and runners, always shown
	type slots struct{ used, free int }
	byState := map[[2]string]int{} // tag set, state -> runners
	bySlots := map[string]*slots{}
	for _, r := range c.s.ConnectedRunners() {
		tags := scheduler.TagSet(r.Tags)
		tagSets[tags] = true
		state := runnerIdle
		switch {
		case r.Draining:
			state = runnerDraining
		case len(r.Jobs) > 0:
			state = runnerBusy
		}
		byState[[2]string{tags, state}]++
		sl := bySlots[tags]
		if sl == nil {
			sl = &slots{}
			bySlots[tags] = sl
		}
		sl.used += len(r.Jobs)
		if !r.Draining {
			sl.free += max(r.Capacity-len(r.Jobs), 0)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	counts, err := c.s.CountJobs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		ch <- prometheus.NewInvalidMetric(c.running, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(counts.Held))
		for k := range counts.Waiting {
			tagSets[k.Tags] = true
		}
	}
	for tags := range tagSets {
		if err == nil {
			for _, reason := range scheduler.WaitReasons {
				n := counts.Waiting[scheduler.WaitKey{Tags: tags, Reason: reason}]
				ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n), tags, string(reason))
			}
		}
		for _, state := range []string{runnerIdle, runnerBusy, runnerDraining} {
			ch <- prometheus.MustNewConstMetric(c.runners, prometheus.GaugeValue, float64(byState[[2]string{tags, state}]), tags, state)
		}
		sl := bySlots[tags]
		if sl == nil {
			sl = &slots{}
		}
		ch <- prometheus.MustNewConstMetric(c.slots, prometheus.GaugeValue, float64(sl.used), tags, "used")
		ch <- prometheus.MustNewConstMetric(c.slots, prometheus.GaugeValue, float64(sl.free), tags, "free")
	}
}
