package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything printed about one invocation.
type report struct {
	Started   time.Time
	Label     string
	Machine   machine
	Cfg       *Config
	Scenarios []*scenarioResult
}

// rpcMethods are the calls whose latencies are reported, in lifecycle order.
var rpcMethods = []string{"SubmitRun", "StartJob", "AppendLog", "CompleteJob"}

// table is a report table: a header and rows of cells.
type table struct {
	title  string
	header []string
	rows   [][]string
}

// tables lays the results out once for both output formats.
func (r *report) tables() []table {
	phases := table{
		title: "Throughput and ready-to-lease latency",
		header: []string{"runners", "phase", "offered load", "jobs in flight", "jobs/s", "lease p50", "lease p90", "lease p99", "lease max",
			"ready→done p50", "ready→done p99", "coordinator CPU", "CPU ms/job", "loadgen CPU", "other processes' CPU", "busy after last job"},
	}
	rpcs := table{title: "Call latency seen by the load generator (p50 / p99)", header: []string{"runners", "phase"}}
	rpcs.header = append(rpcs.header, rpcMethods...)
	mem := table{
		title: "Coordinator at rest, memory and store",
		header: []string{"runners", "load avg at start", "fleet connected in", "CPU idle (fleet connected)", "RSS idle", "peak RSS (VmHWM)", "RSS at end",
			"of which anon / file", "jobs completed", "etcd db at end", "etcd writes per job"},
	}
	for _, s := range r.Scenarios {
		for _, p := range s.Phases {
			offered := p.Load.String()
			if p.Load.Rate > 0 {
				offered += fmt.Sprintf(" (achieved %.0f)", p.SubmittedRate)
			}
			perJob := "-"
			if p.CoordCPU >= 0 && p.Throughput > 0 {
				perJob = fmt.Sprintf("%.2f", 1000*p.CoordCPU/p.Throughput)
			}
			phases.rows = append(phases.rows, []string{
				fmt.Sprint(s.Runners), p.Name, offered, fmt.Sprintf("%.0f", p.MeanInFlight), fmt.Sprintf("%.1f", p.Throughput),
				ms(p.Lease.P50), ms(p.Lease.P90), ms(p.Lease.P99), ms(p.Lease.Max),
				ms(p.ReadyToDone.P50), ms(p.ReadyToDone.P99), cores(p.CoordCPU), perJob, cores(p.LoadgenCPU), cores(p.OtherCPU), settleText(p),
			})
			row := []string{fmt.Sprint(s.Runners), p.Name}
			for _, m := range rpcMethods {
				d := p.RPC[m]
				row = append(row, ms(d.P50)+" / "+ms(d.P99))
			}
			rpcs.rows = append(rpcs.rows, row)
		}
		row := []string{fmt.Sprint(s.Runners), orUnknown(s.LoadAvg), s.ConnectTime.Round(10 * time.Millisecond).String(), cores(s.IdleCPU),
			"-", "-", "-", "-", fmt.Sprint(s.JobsCompleted), "-", "-"}
		if s.HasMemory {
			row[4], row[5], row[6] = mib(s.IdleRSS), mib(s.Memory.Peak), mib(s.Memory.Current)
			row[7] = mib(s.Memory.Anon) + " / " + mib(s.Memory.File)
		}
		if s.HasStore {
			row[9] = mib(s.EtcdDB)
			if s.JobsCompleted > 0 {
				row[10] = fmt.Sprintf("%.2f", float64(s.EtcdWrites)/float64(s.JobsCompleted))
			}
		}
		mem.rows = append(mem.rows, row)
	}
	return []table{phases, rpcs, mem}
}

// notes are the per-phase anomalies and the protocol errors, as lines.
func (r *report) notes() []string {
	var out []string
	for _, s := range r.Scenarios {
		for _, p := range s.Phases {
			if p.Missed > 0 {
				out = append(out, fmt.Sprintf("%d runners, %s: %d submissions skipped, every submitter busy (offered load below target)", s.Runners, p.Name, p.Missed))
			}
			if p.Released > 0 {
				out = append(out, fmt.Sprintf("%d runners, %s: %d leases of a job already leased before (epoch > 1)", s.Runners, p.Name, p.Released))
			}
			if p.OtherCPU > 0.25*float64(r.Machine.CPUs) {
				out = append(out, fmt.Sprintf("%d runners, %s: the rest of the machine (other processes, kernel threads) used %.2f of %d CPUs during the window: the coordinator may have been short of CPU, and these numbers understate it",
					s.Runners, p.Name, p.OtherCPU, r.Machine.CPUs))
			}
			if p.Load.Depth > 0 && p.MeanInFlight < 0.5*float64(p.Load.Depth) {
				out = append(out, fmt.Sprintf("%d runners, %s: only %.0f of %d jobs in flight on average: submission (SubmitRun with %d submitters) limited the throughput, not dispatch",
					s.Runners, p.Name, p.MeanInFlight, p.Load.Depth, r.Cfg.Submitters))
			}
			if p.Undrained > 0 {
				out = append(out, fmt.Sprintf("%d runners, %s: %d jobs not completed %s after submitting stopped", s.Runners, p.Name, p.Undrained, r.Cfg.DrainTimeout))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
			e := s.Errors[k]
			out = append(out, fmt.Sprintf("%d runners: %d × %s (e.g. %q)", s.Runners, e.n, k, e.example))
		}
	}
	return out
}

func (r *report) params() string {
	c := r.Cfg
	coord := "fresh coordinator (embedded etcd, temp data dir) per scenario: " + c.CoordinatorBin + ", log level " + c.CoordinatorLogLevel
	if c.Addr != "" {
		coord = "running coordinator at " + c.Addr
	}
	sat := fmt.Sprintf("closed loop at depth %s", depthText(c))
	if c.Rate > 0 {
		sat = fmt.Sprintf("open loop at %.0f jobs/s", c.Rate)
	}
	lat := fmt.Sprintf("open loop at %.0f%% of the measured throughput", 100*c.LatencyLoad)
	if c.LatencyRate > 0 {
		lat = fmt.Sprintf("open loop at %.0f jobs/s", c.LatencyRate)
	}
	return fmt.Sprintf("%s; runs of %d parallel jobs with no source, %d submitters; runner capacity %d; "+
		"jobs finish at once (StartJob, AppendLog of 3 bytes, CompleteJob); saturation phase: %s; latency phase: %s; "+
		"idle %s, then warm-up %s and window %s per phase",
		coord, c.JobsPerRun, c.Submitters, c.Capacity, sat, lat, c.Idle, c.Warmup, c.Duration)
}

func depthText(c *Config) string {
	if c.Depth > 0 {
		return fmt.Sprint(c.Depth)
	}
	return "max(2 × runners × capacity, 4 × jobs per run)"
}

func (r *report) machineText() string {
	m := r.Machine
	s := fmt.Sprintf("%s, %d CPUs, %s RAM, Linux %s; load generator %s (GOMAXPROCS %d)",
		orUnknown(m.CPUModel), m.CPUs, gib(m.MemTotal), orUnknown(m.Kernel), m.GoVersion, m.GOMAXPROCS)
	if m.CoordGo != "" {
		s += ", coordinator built with " + m.CoordGo
	}
	return s + "; load generator and coordinator share the machine; 1-minute load average at start " + orUnknown(m.LoadAvg)
}

// writeText prints the human-readable report.
func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nGantry dispatch benchmark, %s", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	if r.Label != "" {
		fmt.Fprintf(&b, " (%s)", r.Label)
	}
	fmt.Fprintf(&b, "\nmachine: %s\nparameters: %s\n", r.machineText(), r.params())
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	for _, t := range r.tables() {
		if _, err := fmt.Fprintf(w, "\n%s\n", t.title); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	notes := r.notes()
	if len(notes) == 0 {
		notes = []string{"none"}
	}
	_, err := fmt.Fprintf(w, "\nprotocol errors and anomalies:\n  %s\n", strings.Join(notes, "\n  "))
	return err
}

// writeMarkdown prints the report as a Markdown section.
func (r *report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Dispatch benchmark, %s", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	if r.Label != "" {
		fmt.Fprintf(&b, " (%s)", r.Label)
	}
	fmt.Fprintf(&b, "\n\n**Machine:** %s.\n\n**Parameters:** %s.\n", r.machineText(), r.params())
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n### %s\n\n| %s |\n|%s\n", t.title, strings.Join(t.header, " | "), strings.Repeat("---|", len(t.header)))
		for _, row := range t.rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	b.WriteString("\nLatencies in ms. Lease latency is the runner's receive time minus `JobLease.queued_at` (same clock); " +
		"ready→done ends when `CompleteJob` returned OK. CPU is cores used on average over the window; " +
		"CPU ms/job is the coordinator's CPU time per completed job. Jobs in flight: submitted and not completed, averaged over the window. " +
		"Busy after last job: how long, once every job had completed, the coordinator's CPU stayed above its idle level + 0.15 cores (1 s resolution); " +
		"the next phase starts after it.\n")
	notes := r.notes()
	b.WriteString("\n**Protocol errors and anomalies:**")
	if len(notes) == 0 {
		b.WriteString(" none.\n")
	} else {
		b.WriteString("\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(n, "|", `\|`))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// settleText says how long the coordinator stayed busy after a phase.
func settleText(p phaseResult) string {
	switch {
	case p.Settle < 0:
		return "-"
	case !p.Settled:
		return "> " + p.Settle.Round(time.Second).String()
	}
	return p.Settle.Round(time.Second).String()
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func cores(c float64) string {
	if c < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", c)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
