package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat CPU times; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// status is what /proc/PID/status says of a process's memory, in bytes.
type status struct {
	RSS, Anon, HWM int64
}

// readStatus reads pid's VmRSS, RssAnon and VmHWM.
func readStatus(pid int) (status, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return status{}, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (status, error) {
	var s status
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &s.RSS
		case "RssAnon":
			dst = &s.Anon
		case "VmHWM":
			dst = &s.HWM
		default:
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return status{}, fmt.Errorf("process status: unexpected line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return status{}, fmt.Errorf("process status: %s: %w", key, err)
		}
		*dst = kb << 10
		found++
	}
	if found != 3 {
		return status{}, fmt.Errorf("process status: VmRSS, RssAnon or VmHWM missing")
	}
	return s, nil
}

// readCPU returns the user plus system CPU time pid has used.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// parseStat extracts utime + stime from /proc/PID/stat. The command name
// (field 2) may contain spaces, so fields are counted after its ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process stat: no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // after the name: state is field 3, utime 14, stime 15
		return 0, fmt.Errorf("process stat: %d fields after the name", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process stat: cpu time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// sample is one reading of a process.
type sample struct {
	at        time.Time
	rss, anon int64
	cpu       time.Duration
}

// sampler reads the memory and CPU time of a few processes periodically,
// so that each measured window can be given its peak and its CPU use.
type sampler struct {
	every  time.Duration
	pids   []int
	mu     sync.Mutex
	series map[int][]sample
}

func newSampler(every time.Duration, pids ...int) *sampler {
	return &sampler{every: every, pids: pids, series: make(map[int][]sample)}
}

// run samples until ctx is done.
func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.sampleOnce()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *sampler) sampleOnce() {
	for _, pid := range s.pids {
		now := time.Now()
		st, err := readStatus(pid)
		if err != nil {
			continue // exited
		}
		cpu, err := readCPU(pid)
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.series[pid] = append(s.series[pid], sample{at: now, rss: st.RSS, anon: st.Anon, cpu: cpu})
		s.mu.Unlock()
	}
}

// usage is a process's use of memory and CPU over a window.
type usage struct {
	// PeakRSS is the largest VmRSS sampled in the window, PeakAnon the
	// largest RssAnon (the heap and stacks, without mapped files).
	PeakRSS, PeakAnon int64
	// CPU is the CPU time used in the window.
	CPU time.Duration
}

// window returns pid's usage between from and to. The CPU time is read
// at the last sample before from and the first one after to and scaled
// to the window; window waits for that sample if it is not taken yet.
func (s *sampler) window(pid int, from, to time.Time) usage {
	for range 20 {
		s.mu.Lock()
		ss := s.series[pid]
		taken := len(ss) > 0 && !ss[len(ss)-1].at.Before(to)
		s.mu.Unlock()
		if taken {
			break
		}
		time.Sleep(s.every)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return windowUsage(s.series[pid], from, to)
}

func windowUsage(ss []sample, from, to time.Time) usage {
	var u usage
	var first, last *sample
	for i := range ss {
		x := &ss[i]
		if !x.at.After(from) {
			first = x
		}
		if last == nil && !x.at.Before(to) {
			last = x
		}
		if !x.at.Before(from) && !x.at.After(to) {
			u.PeakRSS, u.PeakAnon = max(u.PeakRSS, x.rss), max(u.PeakAnon, x.anon)
		}
	}
	if first != nil && last != nil && last.at.After(first.at) {
		// Scaled from the samples' span to the window's.
		u.CPU = time.Duration(float64(last.cpu-first.cpu) * to.Sub(from).Seconds() / last.at.Sub(first.at).Seconds())
	}
	return u
}

// loadAvg returns /proc/loadavg's 1-minute figure, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// uptimeOffset returns wall-clock time minus the kernel's uptime clock
// (/proc/uptime, CLOCK_BOOTTIME in 10 ms steps), to place times a job in
// a container read from /proc/uptime, where `date` has no nanoseconds.
func uptimeOffset() (time.Duration, error) {
	b, err := os.ReadFile("/proc/uptime")
	now := time.Now()
	if err != nil {
		return 0, err
	}
	up, err := parseUptime(string(b))
	if err != nil {
		return 0, err
	}
	return time.Duration(now.UnixNano()) - up, nil
}

// parseUptime reads the first field of /proc/uptime ("12345.67").
func parseUptime(s string) (time.Duration, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("uptime: empty")
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("uptime %q: %w", f[0], err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}
