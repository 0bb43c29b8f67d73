package scheduler

import (
	"testing"
	"time"

	"github.com/gantry-ci/gantry/coordinator/store"
)

// The mirrored queue learns each change twice, from this coordinator's own
// commit and from the watch, in any interleaving; only revisions decide.
func TestQueueMirrorOrdersChangesByRevision(t *testing.T) {
	type step struct {
		own   bool // reported by this coordinator's commit, else the watch
		added bool
		rev   int64
	}
	own := func(added bool, rev int64) step { return step{true, added, rev} }
	watch := func(added bool, rev int64) step { return step{false, added, rev} }
	const add, del = true, false
	cases := []struct {
		name   string
		steps  []step
		queued bool
	}{
		{"own add, then the watch's", []step{own(add, 5), watch(add, 5)}, true},
		{"own add and removal, then the late watch add", []step{own(add, 5), own(del, 7), watch(add, 5)}, false},
		{"own add and removal, then both from the watch", []step{own(add, 5), own(del, 7), watch(add, 5), watch(del, 7)}, false},
		{"requeued after removal", []step{own(add, 5), own(del, 7), own(add, 9), watch(add, 5), watch(del, 7)}, true},
		{"watch only", []step{watch(add, 5), watch(del, 7), watch(add, 9)}, true},
		// The committing goroutine may report its add after the watch has
		// delivered the add and its removal: the late report must not
		// bring the job back.
		{"late own add after the watch saw add and removal", []step{watch(add, 5), own(del, 7), watch(del, 7), own(add, 5)}, false},
		{"late own removal after the watch's", []step{watch(add, 5), watch(del, 7), own(del, 7)}, false},
		{"late own add after a requeue", []step{watch(add, 5), watch(del, 7), watch(add, 9), own(add, 5), own(del, 7)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Scheduler{queue: map[int64]store.QueueEntry{}, removed: map[int64]int64{}, now: time.Now}
			for _, st := range c.steps {
				ev := store.QueueEvent{Entry: store.QueueEntry{JobID: 1, RunID: 1, Rev: st.rev}, Added: st.added}
				if st.own {
					s.applyOwnLocked(ev)
				} else {
					s.applyWatchLocked(ev)
					s.pruneRemovedLocked()
				}
			}
			if _, ok := s.queue[1]; ok != c.queued {
				t.Fatalf("queued = %v, want %v", ok, c.queued)
			}
			for id, rev := range s.removed {
				if rev <= s.watchRev {
					t.Fatalf("removal of %d at %d kept after the watch reached %d", id, rev, s.watchRev)
				}
			}
		})
	}
}
