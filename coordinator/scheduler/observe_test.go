package scheduler_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
)

// recorder is an Observer keeping what it was told.
type recorder struct {
	mu      sync.Mutex
	leases  []time.Duration // waits
	latency []time.Duration
	expired int
	retried []model.FailureReason
	ended   []model.JobStatus
}

func (r *recorder) LeaseGranted(wait, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leases = append(r.leases, wait)
	r.latency = append(r.latency, latency)
}

func (r *recorder) LeaseExpired() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expired++
}

func (r *recorder) JobRetried(reason model.FailureReason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retried = append(r.retried, reason)
}

func (r *recorder) JobEnded(status model.JobStatus, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, status)
}

func (r *recorder) snapshot() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{leases: append([]time.Duration(nil), r.leases...), latency: append([]time.Duration(nil), r.latency...),
		expired: r.expired, retried: append([]model.FailureReason(nil), r.retried...), ended: append([]model.JobStatus(nil), r.ended...)}
}

// The observer hears of every lease (latency never above the wait), of a
// job's end once, and of an expired lease with the retry it causes.
func TestObserverSeesLeasesEndsAndExpiries(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, scheduler.Config{LeaseTTL: 2 * time.Second, HeartbeatInterval: time.Second, Observer: rec})
	f.submit(t, []string{"docker"}, 0, 0)
	a := f.attach(t, "a", 1, nil)
	l := next(t, a).GetLease()
	if err := f.sched.StartJob(f.ctx, "a", l.JobId, l.Epoch); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the resend is not a second end
		if err := f.sched.CompleteJob(f.ctx, "a", l.JobId, l.Epoch, scheduler.Completion{Status: model.JobSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	second := next(t, a).GetLease()
	f.sched.Detach(a) // no heartbeats: its lease expires
	b := f.attach(t, "b", 1, nil)
	f.heartbeat(t, b)
	retry := next(t, b).GetLease()
	if retry.JobId != second.JobId || retry.Epoch != 2 {
		t.Fatalf("retry %v, want job %d epoch 2", retry, second.JobId)
	}

	got := rec.snapshot()
	if len(got.leases) != 3 {
		t.Fatalf("%d leases observed, want 3", len(got.leases))
	}
	for i := range got.leases {
		if got.latency[i] < 0 || got.latency[i] > got.leases[i] {
			t.Errorf("lease %d: latency %s, wait %s: want 0 <= latency <= wait", i, got.latency[i], got.leases[i])
		}
	}
	if len(got.ended) != 1 || got.ended[0] != model.JobSuccess {
		t.Errorf("ended %v, want one success", got.ended)
	}
	if got.expired != 1 || len(got.retried) != 1 || got.retried[0] != model.ReasonLeaseExpired {
		t.Errorf("expired %d, retried %v: want one expiry, retried as lease_expired", got.expired, got.retried)
	}
}

// CountJobs says why each job that has not started waits, by tag set,
// and counts the held ones.
func TestCountJobs(t *testing.T) {
	f := newFixture(t, scheduler.Config{})
	f.submit(t, []string{"gpu", "linux"}, 0) // no runner has these tags
	f.submit(t, nil, 0, 0, 1)                // two pending, one waiting on its stage
	count := func() scheduler.JobCounts {
		t.Helper()
		c, err := f.sched.CountJobs(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := count()
	want := map[scheduler.WaitKey]int{
		{Tags: "gpu,linux", Reason: scheduler.WaitNoRunner}: 1,
		{Tags: "", Reason: scheduler.WaitNoRunner}:          2,
		{Tags: "", Reason: scheduler.WaitNeeds}:             1,
	}
	if !equalCounts(c.Waiting, want) || c.Held != 0 {
		t.Fatalf("before runners: %v held %d, want %v held 0", c.Waiting, c.Held, want)
	}

	ss := f.attach(t, "a", 1, nil) // untagged jobs, capacity 1
	next(t, ss)
	c = count()
	want = map[scheduler.WaitKey]int{
		{Tags: "gpu,linux", Reason: scheduler.WaitNoRunner}: 1,
		{Tags: "", Reason: scheduler.WaitBusy}:              1,
		{Tags: "", Reason: scheduler.WaitNeeds}:             1,
	}
	if !equalCounts(c.Waiting, want) || c.Held != 1 {
		t.Fatalf("with a full runner: %v held %d, want %v held 1", c.Waiting, c.Held, want)
	}
}

func equalCounts(got, want map[scheduler.WaitKey]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, n := range want {
		if got[k] != n {
			return false
		}
	}
	return true
}

func TestTagSet(t *testing.T) {
	for _, tc := range []struct {
		tags []string
		want string
	}{
		{nil, ""},
		{[]string{"docker"}, "docker"},
		{[]string{"linux", "gpu", "linux"}, "gpu,linux"},
	} {
		if got := scheduler.TagSet(tc.tags); got != tc.want {
			t.Errorf("TagSet(%q) = %q, want %q", tc.tags, got, tc.want)
		}
	}
}
