package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat CPU times; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// memory is a process's resident set from /proc/PID/status.
type memory struct {
	// Peak is VmHWM, the high-water mark of the resident set.
	Peak int64
	// Current is VmRSS, the sum of Anon (heap, stacks) and File (mapped
	// files: etcd's bbolt database, the binary) and shared memory.
	Current, Anon, File int64
}

// readMemory reads pid's resident set sizes in bytes.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("read process status: %w", err)
	}
	return parseStatus(b)
}

// parseStatus extracts VmHWM and VmRSS (reported in kB) from a
// /proc/PID/status file.
func parseStatus(b []byte) (memory, error) {
	var m memory
	var found int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS" && key != "RssAnon" && key != "RssFile") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return memory{}, fmt.Errorf("process status: unexpected %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("process status: %s: %w", key, err)
		}
		switch key {
		case "VmHWM":
			m.Peak = kb << 10
			found++
		case "VmRSS":
			m.Current = kb << 10
			found++
		case "RssAnon":
			m.Anon = kb << 10
		case "RssFile":
			m.File = kb << 10
		}
	}
	if found != 2 {
		return memory{}, fmt.Errorf("process status: VmHWM or VmRSS missing")
	}
	return m, nil
}

// processCPU returns the user plus system CPU time pid has used.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
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
	// After the name: state is field 3, utime 14, stime 15.
	if len(f) < 13 {
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

// machineBusy returns the CPU time all CPUs have spent busy (everything
// but idle and iowait) since boot, from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	return parseProcStat(b)
}

// parseProcStat sums the busy fields of the aggregate "cpu" line: user,
// nice, system, irq, softirq and steal (guest time is inside user).
func parseProcStat(b []byte) (time.Duration, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machine describes where the benchmark ran.
type machine struct {
	CPUModel   string
	CPUs       int
	MemTotal   int64
	Kernel     string
	GoVersion  string // the load generator's
	CoordGo    string // the coordinator binary's, when known
	GOMAXPROCS int
	// LoadAvg is /proc/loadavg's 1-minute figure at the start: other work
	// on the machine skews every number.
	LoadAvg string
}

// describeMachine reads /proc; missing facts are left empty.
func describeMachine(coordinatorBin string) machine {
	m := machine{GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel, m.CPUs = parseCPUInfo(b)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					m.MemTotal = kb << 10
				}
			}
		}
	}
	if coordinatorBin != "" {
		if bi, err := buildinfo.ReadFile(coordinatorBin); err == nil {
			m.CoordGo = bi.GoVersion
		}
	}
	return m
}

// loadAvg returns the 1-minute load average, or "" when unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// parseCPUInfo returns the first model name and the number of processors.
func parseCPUInfo(b []byte) (model string, cpus int) {
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "processor":
			cpus++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(val)
			}
		}
	}
	return model, cpus
}

// raiseFileLimit lifts the soft open-file limit to the hard one: every
// simulated runner holds its own connection. The coordinator started
// afterwards inherits the raised limit.
func raiseFileLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise open-file limit to %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return lim.Cur, fmt.Errorf("open-file limit %d is below the %d this fleet needs (raise the hard limit: ulimit -Hn)", lim.Cur, need)
	}
	return lim.Cur, nil
}
