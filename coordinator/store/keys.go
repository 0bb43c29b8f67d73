package store

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
)

// Key layout. Every key lives under the store's prefix (default "/gantry/").
// IDs are zero-padded so lexical order is numeric order.
//
//	run/<run>                 run record (rewritten on every job change: its
//	                          mod revision guards the whole run)
//	jobs/<run>/<job>          job records
//	jobindex/<job>            job id -> run id (immutable)
//	queue/<job>               pending jobs (QueueEntry)
//	leases/<job>              held jobs (LeaseEntry), bound to the holding
//	                          runner session's etcd lease
//	active/<run>              runs that have not ended
//	runners/<id>              runner records
//	runnertokens/<sha256>     runner token hash -> runner id
//	counters/<name>           id allocators
//	expiry/<unix s>/<job>-<n> artifacts to delete then (ExpiryEntry)
type keys struct{ prefix string }

func pad(id int64) string { return fmt.Sprintf("%016d", id) }

func (k keys) run(id int64) string        { return k.prefix + "run/" + pad(id) }
func (k keys) runs() string               { return k.prefix + "run/" }
func (k keys) jobs(runID int64) string    { return k.prefix + "jobs/" + pad(runID) + "/" }
func (k keys) job(runID, id int64) string { return k.jobs(runID) + pad(id) }

// refRuns indexes the active branch-push runs of a project's ref (for
// auto-cancel); names are escaped so "/" in refs stays inside a segment.
func (k keys) refRuns(project, ref string) string {
	return k.prefix + "refruns/" + url.PathEscape(project) + "/" + url.PathEscape(ref) + "/"
}
func (k keys) refRun(project, ref string, id int64) string { return k.refRuns(project, ref) + pad(id) }
func (k keys) delayedJobs() string                         { return k.prefix + "delayed/" }
func (k keys) delayed(id int64) string                     { return k.delayedJobs() + pad(id) }
func (k keys) spec(id int64) string                        { return k.prefix + "specs/" + pad(id) }
func (k keys) jobIndex(id int64) string                    { return k.prefix + "jobindex/" + pad(id) }
func (k keys) queue() string                               { return k.prefix + "queue/" }
func (k keys) queued(id int64) string                      { return k.queue() + pad(id) }
func (k keys) leases() string                              { return k.prefix + "leases/" }
func (k keys) lease(id int64) string                       { return k.leases() + pad(id) }
func (k keys) active(runID int64) string                   { return k.prefix + "active/" + pad(runID) }
func (k keys) activeRuns() string                          { return k.prefix + "active/" }
func (k keys) runners() string                             { return k.prefix + "runners/" }
func (k keys) runner(id string) string                     { return k.runners() + id }
func (k keys) token(hash string) string                    { return k.prefix + "runnertokens/" + hash }
func (k keys) counter(name string) string                  { return k.prefix + "counters/" + name }
func (k keys) expiries() string                            { return k.prefix + "expiry/" }

// expiry names an artifact's expiry entry; the blob key's hash keeps the
// entries of several attempts of one job apart.
func (k keys) expiry(at int64, jobID int64, blobKey string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(blobKey))
	return k.expiries() + pad(at) + "/" + pad(jobID) + "-" + strconv.FormatUint(uint64(h.Sum32()), 16)
}

// idFromKey parses the trailing id of a key.
func idFromKey(key string) (int64, error) {
	i := strings.LastIndexByte(key, '/')
	return strconv.ParseInt(key[i+1:], 10, 64)
}
