package expiry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/etcdserver/etcdtest"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
)

// Real embedded etcd and the filesystem blob store; only the clock is the
// test's.
func TestCollectorDeletesWhatExpired(t *testing.T) {
	ctx := context.Background()
	st := store.New(etcdtest.New(t), "", zaptest.NewLogger(t))
	blobs, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	put := func(key string) {
		t.Helper()
		if _, err := blobs.Put(ctx, key, strings.NewReader("archive "+key), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Three jobs: one expiring in an hour, one in a day, one never.
	rs, err := st.CreateRun(ctx, 3, func(runID int64, ids []int64) (*model.Run, []*model.Job, error) {
		run := &model.Run{ID: runID, Status: model.RunSuccess, JobIDs: ids, CreatedAt: t0}
		var jobs []*model.Job
		for i, id := range ids {
			jobs = append(jobs, &model.Job{ID: id, RunID: runID, Name: []string{"hour", "day", "never"}[i], Status: model.JobSuccess})
		}
		return run, jobs, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"artifacts/1/a.tar.gz", "artifacts/2/b.tar.gz", "artifacts/3/c.tar.gz"}
	for _, k := range keys {
		put(k)
	}
	// The hour's expiry is not on a whole second: its entry must not be
	// due (and dropped as if re-uploaded) before it.
	expire := []time.Time{t0.Add(time.Hour + 500*time.Millisecond), t0.Add(24 * time.Hour), {}}
	setArtifacts := func(keys []string, expire []time.Time) {
		t.Helper()
		if _, err := st.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
			for i, j := range rs.Jobs {
				if keys[i] != "" {
					j.Artifact = &model.Artifact{BlobKey: keys[i], CreatedAt: t0, ExpireAt: expire[i]}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setArtifacts(keys, expire)

	c := New(st, blobs, time.Minute, zaptest.NewLogger(t))
	at := func(d time.Duration) int {
		t.Helper()
		c.now = func() time.Time { return t0.Add(d) }
		n, err := c.Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	exists := func(key string) bool {
		f, err := blobs.Open(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		return true
	}
	if n := at(59 * time.Minute); n != 0 {
		t.Fatalf("deleted %d before anything expired", n)
	}
	if n := at(time.Hour + 200*time.Millisecond); n != 0 {
		t.Fatalf("deleted %d 300 ms before the hour's expiry", n)
	}
	if n := at(2 * time.Hour); n != 1 || exists(keys[0]) || !exists(keys[1]) || !exists(keys[2]) {
		t.Fatalf("after 2h: deleted %d; blobs %v %v %v; want only the hour's gone", n, exists(keys[0]), exists(keys[1]), exists(keys[2]))
	}
	got, err := st.GetRun(ctx, rs.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.JobByName("hour").Artifact; a == nil || !a.DeletedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("the hour's record: %+v, want it kept and marked deleted at 2h", a)
	}
	if a := got.JobByName("day").Artifact; !a.DeletedAt.IsZero() {
		t.Fatalf("the day's artifact is marked deleted: %+v", a)
	}

	// A retry replaces the day's archive with one that lives longer: the
	// first archive still goes at its time, the second stays.
	put("artifacts/2/b2.tar.gz")
	setArtifacts([]string{"", "artifacts/2/b2.tar.gz", ""}, []time.Time{{}, t0.Add(72 * time.Hour), {}})
	if n := at(25 * time.Hour); n != 1 || exists(keys[1]) || !exists("artifacts/2/b2.tar.gz") {
		t.Fatalf("after 25h: deleted %d; old %v new %v; want the replaced archive gone, the new kept", n, exists(keys[1]), exists("artifacts/2/b2.tar.gz"))
	}
	if n := at(100 * 24 * time.Hour); n != 1 || !exists(keys[2]) {
		t.Fatalf("after 100 days: deleted %d, never-expiring kept: %v", n, exists(keys[2]))
	}
	if n := at(200 * 24 * time.Hour); n != 0 {
		t.Fatalf("a second pass deleted %d more: entries were not removed", n)
	}
}
