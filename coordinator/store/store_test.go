package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/etcdserver/etcdtest"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
)

func newStore(t *testing.T) *store.Store {
	return store.New(etcdtest.New(t), "", zaptest.NewLogger(t))
}

func createRun(t *testing.T, s *store.Store, stages ...int) *store.RunState {
	t.Helper()
	rs, err := s.CreateRun(context.Background(), len(stages), func(runID int64, ids []int64) (*model.Run, []*model.Job, error) {
		run := &model.Run{ID: runID, Status: model.RunPending, JobIDs: ids, CreatedAt: time.Now()}
		var jobs []*model.Job
		for i, id := range ids {
			jobs = append(jobs, &model.Job{ID: id, RunID: runID, Name: "job" + string(rune('a'+i)), StageIndex: stages[i], Status: model.JobCreated, Tags: []string{"docker"}})
		}
		model.Advance(run, jobs, time.Now())
		return run, jobs, nil
	})
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return rs
}

func TestCreateAndGetRun(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	first := createRun(t, s, 0, 1)
	second := createRun(t, s, 0)
	if first.Run.ID != 1 || second.Run.ID != 2 {
		t.Fatalf("run ids %d, %d; want 1, 2", first.Run.ID, second.Run.ID)
	}
	if got := second.Jobs[0].ID; got != 3 {
		t.Fatalf("second run's job id %d, want 3 (ids are global)", got)
	}
	rs, err := s.GetRun(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Jobs) != 2 || rs.Jobs[0].Status != model.JobPending || rs.Jobs[1].Status != model.JobCreated {
		t.Fatalf("unexpected jobs: %+v", rs.Jobs)
	}
	runID, err := s.RunIDForJob(ctx, 3)
	if err != nil || runID != 2 {
		t.Fatalf("RunIDForJob(3) = %d, %v", runID, err)
	}
	if _, err := s.GetRun(ctx, 99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRun(99) err = %v, want ErrNotFound", err)
	}
	q, _, err := s.QueueSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q[0].JobID != 1 || q[1].JobID != 3 || q[0].Tags[0] != "docker" {
		t.Fatalf("queue = %+v, want jobs 1 and 3", q)
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{Limit: 10})
	if err != nil || len(runs) != 2 || runs[0].ID != 2 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	runs, err = s.ListRuns(ctx, store.RunFilter{Limit: 10, BeforeID: 2})
	if err != nil || len(runs) != 1 || runs[0].ID != 1 {
		t.Fatalf("ListRuns before 2 = %v, %v", runs, err)
	}
	active, err := s.ActiveRunIDs(ctx)
	if err != nil || len(active) != 2 {
		t.Fatalf("ActiveRunIDs = %v, %v", active, err)
	}
}

func TestUpdateRunMaintainsIndexes(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	rs := createRun(t, s, 0)
	jobID := rs.Jobs[0].ID
	lease, err := s.GrantSessionLease(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
		j := rs.Job(jobID)
		j.Status, j.Epoch, j.RunnerID, j.SessionLease = model.JobLeased, 1, "r1", lease
		model.Advance(rs.Run, rs.Jobs, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q, _, _ := s.QueueSnapshot(ctx)
	if len(q) != 0 {
		t.Fatalf("leased job still queued: %+v", q)
	}
	leases, _, _ := s.Leases(ctx)
	if len(leases) != 1 || leases[0].RunnerID != "r1" || leases[0].Epoch != 1 {
		t.Fatalf("leases = %+v", leases)
	}
	// The lease key is bound to the session: revoking it deletes the key.
	if err := s.RevokeSessionLease(ctx, lease); err != nil {
		t.Fatal(err)
	}
	leases, _, _ = s.Leases(ctx)
	if len(leases) != 0 {
		t.Fatalf("lease key survived its session: %+v", leases)
	}
	_, err = s.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
		rs.Job(jobID).Status = model.JobSuccess
		model.Advance(rs.Run, rs.Jobs, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	active, _ := s.ActiveRunIDs(ctx)
	if len(active) != 0 {
		t.Fatalf("ended run still active: %v", active)
	}
}

// Concurrent transitions of the same job: exactly one wins.
func TestUpdateRunSerialisesTransitions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	rs := createRun(t, s, 0)
	jobID := rs.Jobs[0].ID
	errTaken := errors.New("taken")
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
				j := rs.Job(jobID)
				if j.Status != model.JobPending {
					return errTaken
				}
				j.Status, j.Epoch, j.RunnerID = model.JobLeased, j.Epoch+1, string(rune('a'+i))
				return nil
			})
			if err == nil {
				mu.Lock()
				winners++
				mu.Unlock()
			} else if !errors.Is(err, errTaken) {
				t.Errorf("UpdateRun: %v", err)
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d goroutines leased the job, want exactly 1", winners)
	}
	got, _ := s.GetRun(ctx, rs.Run.ID)
	if got.Jobs[0].Epoch != 1 {
		t.Fatalf("epoch %d, want 1", got.Jobs[0].Epoch)
	}
}

func TestRunners(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	r := &model.Runner{ID: "r1", Name: "builder", Tags: []string{"docker"}}
	if err := s.CreateRunner(ctx, r, "secret"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRunner(ctx, r, "other"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate runner id: err %v", err)
	}
	got, err := s.RunnerByToken(ctx, "secret")
	if err != nil || got.Name != "builder" {
		t.Fatalf("RunnerByToken = %+v, %v", got, err)
	}
	if _, err := s.RunnerByToken(ctx, "wrong"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: err %v", err)
	}
	all, err := s.ListRunners(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("ListRunners = %v, %v", all, err)
	}
}

func TestWatchRunSeesJobChanges(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := createRun(t, s, 0)
	ch := s.WatchRun(ctx, rs.Run.ID, rs.Revision)
	upd, err := s.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
		rs.Jobs[0].Status = model.JobRunning
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case rev := <-ch:
		if rev != upd {
			t.Fatalf("watch revision %d, want %d", rev, upd)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
}

// Two stores on one etcd (two coordinators) and many goroutines each lease
// distinct jobs of one run; some updates fail after changing the state.
// Every successful update is kept, every failed one leaves no trace, and
// the combining writers' cached state never hides the other store's writes.
func TestUpdateRunCombinesAcrossStores(t *testing.T) {
	cli := etcdtest.New(t)
	a := store.New(cli, "", zaptest.NewLogger(t))
	b := store.New(cli, "", zaptest.NewLogger(t))
	ctx := context.Background()
	stages := make([]int, 40)
	rs := createRun(t, a, stages...)
	errRefused := errors.New("refused")
	var wg sync.WaitGroup
	for i, j := range rs.Jobs {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
				job := rs.Job(j.ID)
				job.Status, job.Epoch, job.RunnerID = model.JobLeased, job.Epoch+1, "r"
				if i%5 == 0 {
					return errRefused // after changing the job: must be undone
				}
				return nil
			})
			if i%5 == 0 && !errors.Is(err, errRefused) {
				t.Errorf("job %d: err %v, want the function's error", j.ID, err)
			}
			if i%5 != 0 && err != nil {
				t.Errorf("job %d: %v", j.ID, err)
			}
		}()
	}
	wg.Wait()
	got, err := b.GetRun(ctx, rs.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := a.QueueSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[int64]bool{}
	for _, e := range q {
		queued[e.JobID] = true
	}
	for i, j := range got.Jobs {
		wantLeased := i%5 != 0
		if leased := j.Status == model.JobLeased && j.Epoch == 1; leased != wantLeased {
			t.Errorf("job %d: status %s epoch %d, want leased=%v", j.ID, j.Status, j.Epoch, wantLeased)
		}
		if queued[j.ID] == wantLeased {
			t.Errorf("job %d: queued=%v, want %v", j.ID, queued[j.ID], !wantLeased)
		}
	}
	// A further update through a's cache decides on b's writes: a stale
	// cache may be offered first, but only a decision on the current state
	// commits.
	var seen []model.JobStatus
	if _, err := a.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
		seen = seen[:0]
		for _, j := range rs.Jobs {
			seen = append(seen, j.Status)
		}
		rs.Run.Ref = "touched"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, st := range seen {
		if want := i%5 != 0; (st == model.JobLeased) != want {
			t.Errorf("store a decided on job %d as %s", got.Jobs[i].ID, st)
		}
	}
}

// An update that binds a job's lease key to a lapsed etcd lease fails
// alone: the updates combined with it in one transaction still commit.
func TestUpdateRunIsolatesLapsedLease(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	rs := createRun(t, s, make([]int, 12)...)
	good, err := s.GrantSessionLease(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	lapsed, err := s.GrantSessionLease(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSessionLease(ctx, lapsed); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(rs.Jobs))
	for i, j := range rs.Jobs {
		lease := good
		if i == 5 {
			lease = lapsed
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateRun(ctx, rs.Run.ID, func(rs *store.RunState) error {
				job := rs.Job(j.ID)
				job.Status, job.Epoch, job.RunnerID, job.SessionLease = model.JobLeased, 1, "r", lease
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			if err == nil {
				t.Errorf("job bound to a revoked lease: no error")
			}
			continue
		}
		if err != nil {
			t.Errorf("job %d failed with its neighbour: %v", i, err)
		}
	}
}

// The runs of a ref that auto-cancel considers: active branch pushes of
// that project and ref only, gone from the index once they end.
func TestActiveRunsOfRef(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	mk := func(project, ref, source string) int64 {
		rs, err := s.CreateRun(ctx, 1, func(runID int64, ids []int64) (*model.Run, []*model.Job, error) {
			run := &model.Run{ID: runID, Status: model.RunPending, JobIDs: ids, ProjectName: project, Ref: ref, Source: source}
			jobs := []*model.Job{{ID: ids[0], RunID: runID, Name: "j", Status: model.JobCreated}}
			model.Advance(run, jobs, time.Now())
			return run, jobs, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return rs.Run.ID
	}
	a := mk("shop", "feature/x", "push")
	mk("shop", "feature/y", "push")
	mk("other", "feature/x", "")
	mk("shop", "feature/x", "schedule")
	b := mk("shop", "feature/x", "")
	got, err := s.ActiveRunsOfRef(ctx, "shop", "feature/x")
	if err != nil || !slices.Equal(got, []int64{a, b}) {
		t.Fatalf("ActiveRunsOfRef = %v, %v; want [%d %d]", got, err, a, b)
	}
	if _, err := s.UpdateRun(ctx, a, func(rs *store.RunState) error {
		rs.Run.CancelRequested = true
		model.Advance(rs.Run, rs.Jobs, time.Now())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ActiveRunsOfRef(ctx, "shop", "feature/x"); !slices.Equal(got, []int64{b}) {
		t.Fatalf("after run %d ended: %v, want [%d]", a, got, b)
	}
}
