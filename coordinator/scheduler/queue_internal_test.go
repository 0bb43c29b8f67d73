package scheduler

import (
	"testing"

	"github.com/gantry-ci/gantry/coordinator/store"
)

// The mirrored queue learns each change twice, from this coordinator's own
// commit and from the watch, in either order; only revisions decide.
func TestQueueMirrorOrdersChangesByRevision(t *testing.T) {
	add := func(id, rev int64) store.QueueEvent {
		return store.QueueEvent{Entry: store.QueueEntry{JobID: id, RunID: 1, Rev: rev}, Added: true}
	}
	del := func(id, rev int64) store.QueueEvent {
		return store.QueueEvent{Entry: store.QueueEntry{JobID: id, RunID: 1, Rev: rev}}
	}
	cases := []struct {
		name    string
		commits []store.QueueEvent // from own commits, applied first
		watch   []store.QueueEvent // then the watch delivers these
		queued  bool
	}{
		{"own add, then watch add", []store.QueueEvent{add(1, 5)}, []store.QueueEvent{add(1, 5)}, true},
		{"own add and removal, then late watch add", []store.QueueEvent{add(1, 5), del(1, 7)}, []store.QueueEvent{add(1, 5)}, false},
		{"late watch add, then its removal", []store.QueueEvent{add(1, 5), del(1, 7)}, []store.QueueEvent{add(1, 5), del(1, 7)}, false},
		{"requeued after removal", []store.QueueEvent{add(1, 5), del(1, 7), add(1, 9)}, []store.QueueEvent{add(1, 5), del(1, 7)}, true},
		{"watch first", nil, []store.QueueEvent{add(1, 5), del(1, 7), add(1, 9)}, true},
		{"own removal seen after the watch's", []store.QueueEvent{}, []store.QueueEvent{add(1, 5), del(1, 7)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Scheduler{queue: map[int64]store.QueueEntry{}, removed: map[int64]int64{}}
			for _, ev := range c.commits {
				s.applyQueueLocked(ev)
			}
			for _, ev := range c.watch {
				s.applyQueueLocked(ev)
				s.watchRev = max(s.watchRev, ev.Entry.Rev)
			}
			s.pruneRemovedLocked()
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
