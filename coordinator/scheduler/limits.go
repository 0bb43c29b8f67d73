package scheduler

import (
	"fmt"
	"strconv"

	"github.com/gantry-ci/gantry/coordinator/store"
)

// limitKeys returns the concurrency limits a job counts against, as keys
// of Scheduler.holders, with how many holders each allows.
func limitKeys(runID int64, l store.Limits) (keys []string, max []int) {
	if l.ResourceGroup != "" {
		keys, max = append(keys, "resource_group\x00"+l.ResourceGroup), append(max, 1)
	}
	if l.MatrixGroup != "" && l.MaxParallel > 0 {
		keys, max = append(keys, "matrix\x00"+strconv.FormatInt(runID, 10)+"\x00"+l.MatrixGroup), append(max, l.MaxParallel)
	}
	return keys, max
}

// limitFreeLocked reports whether a job with these limits may be leased
// now, or says what holds it back.
func (s *Scheduler) limitFreeLocked(runID int64, l store.Limits) (bool, string) {
	keys, max := limitKeys(runID, l)
	for i, k := range keys {
		if h := s.holders[k]; len(h) >= max[i] {
			if l.ResourceGroup != "" && i == 0 {
				for id := range h {
					return false, fmt.Sprintf("waiting for resource group %q, held by job %d", l.ResourceGroup, id)
				}
			}
			return false, fmt.Sprintf("waiting for a slot of matrix %q (max-parallel %d)", l.MatrixGroup, l.MaxParallel)
		}
	}
	return true, ""
}

// holdLocked counts a job against its limits (planned or held).
func (s *Scheduler) holdLocked(jobID, runID int64, l store.Limits) {
	keys, _ := limitKeys(runID, l)
	for _, k := range keys {
		if s.holders[k] == nil {
			s.holders[k] = map[int64]struct{}{}
		}
		s.holders[k][jobID] = struct{}{}
	}
}

// unhold stops counting a job against its limits (its lease failed or
// ended), and lets a waiting job have the slot.
func (s *Scheduler) unhold(jobID, runID int64, l store.Limits) {
	keys, _ := limitKeys(runID, l)
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	for _, k := range keys {
		delete(s.holders[k], jobID)
		if len(s.holders[k]) == 0 {
			delete(s.holders, k)
		}
	}
	s.mu.Unlock()
	s.Kick()
}

// resetHolders rebuilds the limits' holders from the held jobs' leases
// (at start, and whenever the lease watch restarts).
func (s *Scheduler) resetHolders(leases []store.LeaseEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holders = map[string]map[int64]struct{}{}
	for id := range s.leasing {
		if e, ok := s.queue[id]; ok {
			s.holdLocked(id, e.RunID, e.Limits)
		}
	}
	for _, l := range leases {
		s.holdLocked(l.JobID, l.RunID, l.Limits)
	}
}
