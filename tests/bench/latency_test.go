package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/tests/harness"
)

// uptime reads the kernel's uptime in seconds: a clock the job's container
// and this process share (/proc/uptime is not namespaced), 10 ms steps.
func uptime(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/uptime")
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(raw))[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func percentile(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// waitLine follows a job's log until it holds want.
func waitLine(ctx context.Context, b *testing.B, c *harness.Client, jobID int64, want string) {
	stream, err := c.Pipeline.FollowLog(ctx, &gantryv1.FollowLogRequest{JobId: jobID, Follow: true})
	if err != nil {
		b.Fatal(err)
	}
	var seen strings.Builder
	for !strings.Contains(seen.String(), want) {
		msg, err := stream.Recv()
		if err != nil {
			b.Fatalf("job %d's log ended without %q: %v\n%s", jobID, want, err, seen.String())
		}
		seen.Write(msg.GetData())
	}
}

var stamped = regexp.MustCompile(`(tick|term) ([0-9.]+)`)

// BenchmarkFollowAndCancelLatency measures, with a real coordinator and a
// Docker runner: how long a line a job writes takes to reach a live
// follower (FollowLog with follow, as `gantry logs -f` uses), and how long
// `gantry cancel` takes to reach the job's process as SIGTERM. Both are
// read on the kernel's uptime clock, which the container shares.
func BenchmarkFollowAndCancelLatency(b *testing.B) {
	if err := harness.BuildTestImages(); err != nil {
		b.Fatal(err)
	}
	harness.Docker(b)
	dir, addr, token := b.TempDir(), harness.FreeAddr(b), "bench-token"
	harness.Coordinator(b, dir, addr, token, "--log-level", "warn")
	r := harness.Runner(b, dir, "bench-runner", addr, token, "--log-level", "warn")
	harness.RunnerID(b, dir, "bench-runner", r)
	client := harness.Dial(b, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	src := b.TempDir()
	harness.WriteTree(b, src, map[string]string{".gantry.yml": `
ticks:
  image: gantry-test/busybox:latest
  script:
    - i=0; while [ $i -lt 50 ]; do echo "tick $(cut -d' ' -f1 /proc/uptime)"; i=$((i+1)); sleep 0.1; done
`})
	cancelSrc := b.TempDir()
	harness.WriteTree(b, cancelSrc, map[string]string{".gantry.yml": `
wait:
  image: gantry-test/busybox:latest
  script:
    - trap 'echo "term $(cut -d" " -f1 /proc/uptime)"; exit 143' TERM; echo ready; while true; do sleep 0.02; done
`})
	submit := func(dir string) int64 {
		res := harness.CLI(ctx, b, addr, "submit", "--detach", dir)
		m := regexp.MustCompile(`Run #(\d+)`).FindStringSubmatch(res.Stdout)
		if res.Code != 0 || m == nil {
			b.Fatalf("submit: %d %s %s", res.Code, res.Stdout, res.Stderr)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return id
	}
	jobOf := func(runID int64, st gantryv1.JobStatus) *gantryv1.Job {
		m := client.WaitRun(ctx, b, runID, func(m *gantryv1.WatchRunResponse) bool {
			return len(m.GetJobs()) > 0 && (m.GetJobs()[0].GetStatus() == st || harness.RunEnded(m))
		})
		return m.GetJobs()[0]
	}

	var follow, cancelLat []float64
	rounds := 5
	b.ResetTimer()
	for range b.N {
		for range rounds {
			// Follow: every line's arrival minus the time the job wrote it.
			j := jobOf(submit(src), gantryv1.JobStatus_JOB_STATUS_RUNNING)
			stream, err := client.Pipeline.FollowLog(ctx, &gantryv1.FollowLogRequest{JobId: j.GetId(), Follow: true})
			if err != nil {
				b.Fatal(err)
			}
			var partial string
			for {
				msg, err := stream.Recv()
				if err != nil {
					break
				}
				now := uptime(b)
				partial += string(msg.GetData())
				lines := strings.Split(partial, "\n")
				partial = lines[len(lines)-1]
				for _, l := range lines[:len(lines)-1] {
					if m := stamped.FindStringSubmatch(l); m != nil && m[1] == "tick" {
						at, _ := strconv.ParseFloat(m[2], 64)
						follow = append(follow, (now-at)*1000)
					}
				}
			}

			// Cancel: SIGTERM in the job minus the time the CLI was run.
			runID := submit(cancelSrc)
			jc := jobOf(runID, gantryv1.JobStatus_JOB_STATUS_RUNNING)
			waitLine(ctx, b, client, jc.GetId(), "ready")
			at := uptime(b)
			if res := harness.CLI(ctx, b, addr, "cancel", strconv.FormatInt(runID, 10)); res.Code != 0 {
				b.Fatalf("cancel: %d %s", res.Code, res.Stderr)
			}
			client.WaitRun(ctx, b, runID, harness.RunEnded)
			m := stamped.FindStringSubmatch(client.Log(ctx, b, jc.GetId()))
			if m == nil || m[1] != "term" {
				b.Fatalf("job log shows no SIGTERM:\n%s", client.Log(ctx, b, jc.GetId()))
			}
			t, _ := strconv.ParseFloat(m[2], 64)
			cancelLat = append(cancelLat, (t-at)*1000)
		}
	}
	b.StopTimer()
	b.ReportMetric(percentile(follow, 0.5), "follow-p50-ms")
	b.ReportMetric(percentile(follow, 0.99), "follow-p99-ms")
	b.ReportMetric(percentile(cancelLat, 0.5), "cancel-p50-ms")
	b.ReportMetric(slices.Max(cancelLat), "cancel-max-ms")
	fmt.Printf("live follow: %d lines, write->follower p50 %.0f ms, p99 %.0f ms, max %.0f ms (10 ms clock)\n",
		len(follow), percentile(follow, 0.5), percentile(follow, 0.99), slices.Max(follow))
	fmt.Printf("cancel: %d runs, gantry cancel -> SIGTERM in the job p50 %.0f ms, max %.0f ms (includes the CLI's start)\n",
		len(cancelLat), percentile(cancelLat, 0.5), slices.Max(cancelLat))
}
