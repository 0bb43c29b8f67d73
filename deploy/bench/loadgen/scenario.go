package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// errCoordinatorExited means the coordinator under test died mid-scenario.
var errCoordinatorExited = errors.New("coordinator exited during the benchmark")

// scenarioResult is what one fleet size measured.
type scenarioResult struct {
	Runners int
	// LoadAvg is the machine's 1-minute load average as the scenario
	// started: other work there skews everything.
	LoadAvg     string
	ConnectTime time.Duration
	Phases      []phaseResult
	// HasMemory is false when the coordinator's process is unknown.
	HasMemory bool
	// IdleRSS is the coordinator's resident set once the fleet connected,
	// before any job; IdleCPU the cores it used meanwhile (negative:
	// unknown), with the fleet only heartbeating.
	IdleRSS int64
	IdleCPU float64
	// Memory is read at the end of the scenario: the high-water mark
	// (VmHWM) and the resident set then.
	Memory memory
	// JobsCompleted counts every job completed in the scenario, warm-up
	// and drain included.
	JobsCompleted int64
	// HasStore is false when the coordinator's etcd is not ours to ask.
	HasStore bool
	// EtcdDB is the embedded etcd's backend size at the end; EtcdWrites
	// the revisions (write transactions) from fleet connected to the end.
	EtcdDB, EtcdWrites int64
	Errors             map[string]errorCount
}

// phaseResult is what one load phase measured in its window.
type phaseResult struct {
	Name   string
	Load   load
	Window time.Duration
	// Throughput is CompleteJob calls accepted per second of window.
	Throughput float64
	Completed  int
	// SubmittedRate is jobs accepted by SubmitRun per second of window.
	SubmittedRate float64
	// Missed counts open-loop submissions skipped: every submitter busy.
	Missed int
	// Released counts leases of an attempt after the first (epoch > 1).
	Released int
	// Lease is ready-to-lease latency: lease received - queued_at.
	Lease dist
	// ReadyToDone is queued_at to CompleteJob returning OK.
	ReadyToDone dist
	RPC         map[string]dist
	// CoordCPU and LoadgenCPU are the CPU cores each used on average over
	// the window; OtherCPU is what the rest of the machine used then.
	// Negative means unknown.
	CoordCPU, LoadgenCPU, OtherCPU float64
	// Undrained jobs were still not completed DrainTimeout after the
	// phase stopped submitting.
	Undrained int64
	// MeanInFlight is the average of jobs submitted and not completed:
	// well below a closed loop's depth, submission was the bottleneck.
	MeanInFlight float64
	// Settle is how long the coordinator stayed busy after its last job
	// completed (negative: not measured); Settled is false when it was
	// still busy at SettleTimeout.
	Settle  time.Duration
	Settled bool
}

// scenario runs the phases for one fleet size.
type scenario struct {
	cfg   *Config
	n     int
	coord *coordinator
	rec   *recorder
	sub   *submitter
	log   *zap.Logger
	// idleCPU is the coordinator's CPU with the fleet connected and no
	// jobs, in cores; negative when unknown.
	idleCPU float64
}

// runScenario measures one fleet size on a fresh coordinator (or the one
// at --addr).
func runScenario(ctx context.Context, cfg *Config, n int, log *zap.Logger) (*scenarioResult, error) {
	log = log.With(zap.Int("runners", n))
	coord := &coordinator{Addr: cfg.Addr, Token: cfg.RegistrationToken, PID: cfg.PID}
	if cfg.Addr == "" {
		token := cfg.RegistrationToken
		if token == "" {
			token = randomToken()
		}
		var err error
		if coord, err = startCoordinator(ctx, cfg.CoordinatorBin, cfg.CoordinatorLogLevel, token, log); err != nil {
			return nil, err
		}
	}
	defer coord.Stop(log)

	sc := &scenario{cfg: cfg, n: n, coord: coord, rec: newRecorder(), log: log, idleCPU: -1}
	res := &scenarioResult{Runners: n, LoadAvg: loadAvg()}
	defer func() { res.Errors = sc.rec.takeErrors() }()

	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	fl, err := registerFleet(rctx, coord.Addr, coord.Token, n, cfg.Capacity, cfg.ConnectConcurrency, sc.rec)
	cancel()
	defer func() { _ = fl.Close() }()
	if err != nil {
		return res, err
	}
	if sc.sub, err = newSubmitter(coord.Addr, cfg.JobsPerRun, cfg.Submitters, sc.rec); err != nil {
		return res, err
	}
	defer func() { _ = sc.sub.Close() }()

	g, gctx := errgroup.WithContext(ctx)
	fctx, stopFleet := context.WithCancel(gctx)
	defer stopFleet()
	g.Go(func() error { return fl.Run(fctx, cfg.ConnectConcurrency) })
	if coord.cmd != nil {
		g.Go(func() error {
			select {
			case <-coord.Exited():
				return fmt.Errorf("%w:\n%s", errCoordinatorExited, coord.logTail(30))
			case <-fctx.Done():
				return nil
			}
		})
	}
	g.Go(func() error {
		defer stopFleet()
		if err := fl.WaitConnected(gctx, cfg.ConnectTimeout-time.Since(start)); err != nil {
			return err
		}
		res.ConnectTime = time.Since(start)
		log.Info("runners connected", zap.Duration("took", res.ConnectTime))
		return sc.measure(gctx, res)
	})
	return res, g.Wait()
}

// measure runs the saturation phase, then the latency phase at a part of
// the throughput the first one found.
func (sc *scenario) measure(ctx context.Context, res *scenarioResult) error {
	res.IdleCPU = -1
	cpu0, cpuErr := sc.coordCPU()
	start := time.Now()
	if err := sleep(ctx, sc.cfg.Idle); err != nil {
		return err
	}
	if cpu1, err := sc.coordCPU(); err == nil && cpuErr == nil && sc.cfg.Idle > 0 {
		res.IdleCPU = (cpu1 - cpu0).Seconds() / time.Since(start).Seconds()
		sc.idleCPU = res.IdleCPU
	}
	if sc.coord.PID != 0 {
		if m, err := readMemory(sc.coord.PID); err == nil {
			res.IdleRSS, res.HasMemory = m.Current, true
		}
	}
	idle, storeErr := sc.coord.storeStats(ctx)
	sat := load{Depth: sc.cfg.depth(sc.n)}
	if sc.cfg.Rate > 0 {
		sat = load{Rate: sc.cfg.Rate}
	}
	p, err := sc.phase(ctx, "saturation", sat)
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, p)

	rate := sc.cfg.LatencyRate
	if rate == 0 {
		rate = sc.cfg.LatencyLoad * p.Throughput
	}
	if rate <= 0 {
		return errors.New("no job completed in the saturation phase; nothing to base the latency phase on")
	}
	p, err = sc.phase(ctx, "latency", load{Rate: rate})
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, p)

	res.JobsCompleted = sc.rec.totalCompleted()
	if storeErr == nil {
		end, err := sc.coord.storeStats(ctx)
		if err != nil {
			return err
		}
		res.HasStore, res.EtcdDB, res.EtcdWrites = true, end.DBSize, end.Revision-idle.Revision
	}
	if res.HasMemory {
		m, err := readMemory(sc.coord.PID)
		if err != nil {
			return err
		}
		res.Memory = m
	}
	return nil
}

// phase offers l for warm-up plus window, measures the window, then stops
// submitting and waits for the outstanding jobs to finish.
func (sc *scenario) phase(ctx context.Context, name string, l load) (phaseResult, error) {
	log := sc.log.With(zap.String("phase", name), zap.Stringer("load", l))
	log.Info("phase started", zap.Duration("warmup", sc.cfg.Warmup), zap.Duration("window", sc.cfg.Duration))
	res := phaseResult{Name: name, Load: l, CoordCPU: -1, OtherCPU: -1}
	stop := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sc.sub.Run(gctx, stop, l) })
	g.Go(func() error {
		defer close(stop)
		if err := sleep(gctx, sc.cfg.Warmup); err != nil {
			return err
		}
		coord0, coordErr := sc.coordCPU()
		self0 := selfCPU()
		busy0, busyErr := machineBusy()
		sc.rec.begin(time.Now())
		if err := sc.sampleUntil(gctx, time.Now().Add(sc.cfg.Duration)); err != nil {
			return err
		}
		w, length := sc.rec.end(time.Now())
		coord1, coordErr1 := sc.coordCPU()
		busy1, busyErr1 := machineBusy()
		res.fill(w, length)
		res.LoadgenCPU = (selfCPU() - self0).Seconds() / length.Seconds()
		if coordErr == nil && coordErr1 == nil {
			res.CoordCPU = (coord1 - coord0).Seconds() / length.Seconds()
			if busyErr == nil && busyErr1 == nil {
				res.OtherCPU = max(0, (busy1-busy0).Seconds()/length.Seconds()-res.CoordCPU-res.LoadgenCPU)
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("phase %s: %w", name, err)
	}
	undrained, err := sc.rec.drain(ctx, sc.cfg.DrainTimeout)
	if err != nil {
		return res, fmt.Errorf("phase %s: drain: %w", name, err)
	}
	res.Undrained = undrained
	if undrained > 0 {
		log.Warn("jobs still outstanding after the phase", zap.Int64("jobs", undrained), zap.Duration("waited", sc.cfg.DrainTimeout))
	}
	if res.Settle, res.Settled, err = sc.settle(ctx); err != nil {
		return res, fmt.Errorf("phase %s: settle: %w", name, err)
	}
	if !res.Settled {
		log.Warn("coordinator still busy after the phase", zap.Duration("waited", res.Settle))
	}
	log.Info("phase done", zap.Float64("jobs_per_s", res.Throughput), zap.Duration("lease_p50", res.Lease.P50), zap.Duration("lease_p99", res.Lease.P99))
	return res, nil
}

// settle waits until the coordinator's CPU over one second is back near
// its idle level, and returns how long that took. Work queued behind the
// jobs (watch events, say) would otherwise run into the next phase.
func (sc *scenario) settle(ctx context.Context) (time.Duration, bool, error) {
	if sc.coord.PID == 0 || sc.cfg.SettleTimeout == 0 {
		return -1, true, nil
	}
	threshold := 0.25 // cores, when the idle level is unknown
	if sc.idleCPU >= 0 {
		threshold = sc.idleCPU + 0.15
	}
	start := time.Now()
	prev, err := sc.coordCPU()
	if err != nil {
		return -1, true, nil //nolint:nilerr // the coordinator's CPU is not readable: nothing to wait for
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := start
	for {
		select {
		case <-ctx.Done():
			return time.Since(start), false, ctx.Err()
		case now := <-t.C:
			cur, err := sc.coordCPU()
			if err != nil {
				return -1, true, nil //nolint:nilerr // as above
			}
			busy := (cur - prev).Seconds() / now.Sub(last).Seconds()
			if busy <= threshold {
				// The quiet second does not count as busy time.
				return max(0, last.Sub(start)), true, nil
			}
			if now.Sub(start) >= sc.cfg.SettleTimeout {
				return now.Sub(start), false, nil
			}
			prev, last = cur, now
		}
	}
}

// sampleUntil samples the jobs in flight every 100 ms until deadline.
func (sc *scenario) sampleUntil(ctx context.Context, deadline time.Time) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		sc.rec.sampleInFlight()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// coordCPU returns the CPU time the coordinator has used.
func (sc *scenario) coordCPU() (time.Duration, error) {
	if sc.coord.PID == 0 {
		return 0, errors.New("coordinator process unknown")
	}
	return processCPU(sc.coord.PID)
}

// fill summarises a window.
func (p *phaseResult) fill(w window, length time.Duration) {
	p.Window = length
	p.Completed = w.completed
	p.Throughput = float64(w.completed) / length.Seconds()
	p.SubmittedRate = float64(w.submittedJobs) / length.Seconds()
	p.Missed, p.Released = w.missedSubmits, w.releasedLeases
	if w.inFlightN > 0 {
		p.MeanInFlight = float64(w.inFlightSum) / float64(w.inFlightN)
	}
	p.Lease = summarize(w.leaseLatency)
	p.ReadyToDone = summarize(w.readyToDone)
	p.RPC = make(map[string]dist, len(w.rpc))
	for m, s := range w.rpc {
		p.RPC[m] = summarize(s)
	}
}
