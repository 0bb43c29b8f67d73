package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/coordinator/logstore"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/scheduler"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/coordinator/submit"
	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// PipelineHandler serves PipelineService.
type PipelineHandler struct {
	gantryv1.UnimplementedPipelineServiceServer

	store  *store.Store
	sched  *scheduler.Scheduler
	submit *submit.Service
	logs   *logstore.Store
	blobs  BlobStore
	log    *zap.Logger
	// adminToken admits downloads of artifacts with access: developer.
	adminToken string
}

var _ gantryv1.PipelineServiceServer = (*PipelineHandler)(nil)

// SetAdminToken sets the token that downloads of artifacts with
// `access: developer` (or `public: false`) must carry: the coordinator has
// no user accounts, so the admin token stands for a project member.
func (h *PipelineHandler) SetAdminToken(token string) { h.adminToken = token }

// mayDownload applies the artifact's artifacts:access to the caller.
func (h *PipelineHandler) mayDownload(ctx context.Context, j *model.Job) error {
	switch j.Artifact.Access {
	case "none":
		return fmt.Errorf("%w: the artifacts of job %q have artifacts:access: none; only jobs of the run can fetch them", ErrPermissionDenied, j.Name)
	case "developer":
		if h.adminToken == "" {
			return fmt.Errorf("%w: the artifacts of job %q are not public (artifacts:public: false or access: developer) and this coordinator has no --admin-token to admit anyone", ErrPermissionDenied, j.Name)
		}
		tok, _ := protocol.TokenFromIncoming(ctx)
		if subtle.ConstantTimeCompare([]byte(tok), []byte(h.adminToken)) != 1 {
			return fmt.Errorf("%w: the artifacts of job %q are not public; give the admin token (gantry --token or GANTRY_TOKEN)", ErrPermissionDenied, j.Name)
		}
	}
	return nil
}

// NewPipelineHandler returns the PipelineService handler.
func NewPipelineHandler(st *store.Store, sched *scheduler.Scheduler, sub *submit.Service, logs *logstore.Store, blobs BlobStore, logger *zap.Logger) *PipelineHandler {
	return &PipelineHandler{store: st, sched: sched, submit: sub, logs: logs, blobs: blobs, log: logger}
}

// SubmitRun reads the header, then the source archive, and creates the run.
func (h *PipelineHandler) SubmitRun(stream gantryv1.PipelineService_SubmitRunServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hdr := first.GetHeader()
	if hdr == nil {
		return fmt.Errorf("%w: the first SubmitRun message must be the header", ErrInvalidArgument)
	}
	rs, warnings, err := h.submit.Submit(stream.Context(), submit.Request{
		Pipeline: hdr.GetPipeline(), PipelinePath: hdr.GetPipelinePath(), Ref: hdr.GetRef(), SHA: hdr.GetSha(),
		Submitter: hdr.GetSubmitter(), ProjectName: hdr.GetProjectName(), Variables: hdr.GetVariables(),
		Archive: &chunkReader{next: func() ([]byte, error) {
			m, err := stream.Recv()
			return m.GetSourceChunk(), err
		}},
		IsTag: hdr.GetRefIsTag(), PipelineSource: hdr.GetSource(), DefaultBranch: hdr.GetDefaultBranch(),
		ChangedFiles: hdr.GetChangedFiles(), ChangedFilesKnown: hdr.GetChangedFilesKnown(),
	})
	if err != nil {
		return err
	}
	if err := h.sched.SupersedeOlderRuns(stream.Context(), rs.Run); err != nil {
		// The new run exists; failing to cancel older ones is not its fault.
		h.log.Warn("auto-cancel older runs", zap.Int64("run_id", rs.Run.ID), zap.Error(err))
	}
	return stream.SendAndClose(&gantryv1.SubmitRunResponse{Run: runToProto(rs.Run), Jobs: h.jobs(rs), Warnings: warnings})
}

// PlayJob starts a manual or delayed job.
func (h *PipelineHandler) PlayJob(ctx context.Context, req *gantryv1.PlayJobRequest) (*gantryv1.PlayJobResponse, error) {
	if req.GetRunId() <= 0 || req.GetJobName() == "" {
		return nil, fmt.Errorf("%w: PlayJob needs a run id and a job name", ErrInvalidArgument)
	}
	j, err := h.sched.PlayJob(ctx, req.GetRunId(), req.GetJobName())
	if err != nil {
		return nil, err
	}
	return &gantryv1.PlayJobResponse{Job: jobToProto(j)}, nil
}

var _ io.Reader = (*chunkReader)(nil)

// chunkReader reads the byte chunks of a client stream (a source archive,
// an artifact archive) as one stream; next returns io.EOF at the end.
type chunkReader struct {
	next func() ([]byte, error)
	buf  []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		b, err := c.next()
		if err != nil {
			return 0, err
		}
		c.buf = b
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// jobs converts a run's jobs, explaining why pending ones wait.
func (h *PipelineHandler) jobs(rs *store.RunState) []*gantryv1.Job {
	out := make([]*gantryv1.Job, 0, len(rs.Jobs))
	reasons := map[string]string{}
	for _, j := range rs.Jobs {
		pj := jobToProto(j)
		if j.Status == model.JobPending {
			// One explanation per tag set and limits: each scans every
			// runner session.
			key := strings.Join(j.Tags, "\x00") + "\x01" + j.ResourceGroup + "\x01" + j.MatrixGroup
			r, ok := reasons[key]
			if !ok {
				r = h.sched.Explain(j, rs.Jobs)
				reasons[key] = r
			}
			pj.PendingReason = r
		} else {
			pj.PendingReason = h.sched.Explain(j, rs.Jobs)
		}
		out = append(out, pj)
	}
	return out
}

// GetRun returns a run and its jobs.
func (h *PipelineHandler) GetRun(ctx context.Context, req *gantryv1.GetRunRequest) (*gantryv1.GetRunResponse, error) {
	rs, err := h.store.GetRun(ctx, req.GetRunId())
	if err != nil {
		return nil, err
	}
	return &gantryv1.GetRunResponse{Run: runToProto(rs.Run), Jobs: h.jobs(rs)}, nil
}

// ListRuns lists runs, newest first.
func (h *PipelineHandler) ListRuns(ctx context.Context, req *gantryv1.ListRunsRequest) (*gantryv1.ListRunsResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 || limit > 1000 {
		limit = 20
	}
	runs, err := h.store.ListRuns(ctx, store.RunFilter{Limit: limit, BeforeID: req.GetBeforeId(), Ref: req.GetRef()})
	if err != nil {
		return nil, err
	}
	resp := &gantryv1.ListRunsResponse{}
	for _, r := range runs {
		resp.Runs = append(resp.Runs, runToProto(r))
	}
	return resp, nil
}

// WatchRun sends the run now and after every change, until it ends.
func (h *PipelineHandler) WatchRun(req *gantryv1.WatchRunRequest, stream gantryv1.PipelineService_WatchRunServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	rs, err := h.store.GetRun(ctx, req.GetRunId())
	if err != nil {
		return err
	}
	changes := h.store.WatchRun(ctx, req.GetRunId(), rs.Revision)
	for {
		if err := stream.Send(&gantryv1.WatchRunResponse{Run: runToProto(rs.Run), Jobs: h.jobs(rs)}); err != nil {
			return err
		}
		if rs.Run.Status.Terminal() {
			return nil
		}
		rev, ok := <-changes
		if !ok {
			if err := ctx.Err(); err != nil {
				return err
			}
			return errors.New("run watch interrupted; watch again")
		}
		// Coalesce a burst of changes into one message.
		for drained := false; !drained; {
			select {
			case r, ok := <-changes:
				if ok {
					rev = r
				} else {
					drained = true
				}
			default:
				drained = true
			}
		}
		rs, err = h.store.GetRunAt(ctx, req.GetRunId(), rev)
		if errors.Is(err, rpctypes.ErrCompacted) {
			// A follower far behind: its revision's history is gone, and
			// the newest state does as well.
			rs, err = h.store.GetRun(ctx, req.GetRunId())
		}
		if err != nil {
			return err
		}
	}
}

// CancelRun cancels a run.
func (h *PipelineHandler) CancelRun(ctx context.Context, req *gantryv1.CancelRunRequest) (*gantryv1.CancelRunResponse, error) {
	run, err := h.sched.CancelRun(ctx, req.GetRunId())
	if err != nil {
		return nil, err
	}
	return &gantryv1.CancelRunResponse{Run: runToProto(run)}, nil
}

// FollowLog streams a job's log; with follow it waits for the job to start
// and streams until its attempt ends. New bytes wake it through the log
// store, job changes through a watch on the run, so it never polls.
func (h *PipelineHandler) FollowLog(req *gantryv1.FollowLogRequest, stream gantryv1.PipelineService_FollowLogServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	job, rev, err := h.findJob(ctx, req.GetRunId(), req.GetJobName(), req.GetJobId())
	if err != nil {
		return err
	}
	var runChanged <-chan int64
	if req.GetFollow() {
		runChanged = h.store.WatchRun(ctx, job.RunID, rev)
	}
	// reload re-reads the job after the run changed.
	reload := func() error {
		rs, err := h.store.GetRun(ctx, job.RunID)
		if err != nil {
			return err
		}
		job = rs.Job(job.ID)
		return nil
	}
	for job.Epoch == 0 && !job.Status.Terminal() {
		if !req.GetFollow() {
			return nil
		}
		if err := waitRun(ctx, runChanged, nil); err != nil && !errors.Is(err, errRunChanged) {
			return err
		}
		if err := reload(); err != nil {
			return err
		}
	}
	epoch, offset := job.Epoch, req.GetOffset()
	for {
		data, logChanged, err := h.logs.ReadAt(ctx, job.ID, epoch, offset, 64<<10)
		if err != nil {
			return err
		}
		if len(data) > 0 {
			if err := stream.Send(&gantryv1.FollowLogResponse{Offset: offset, Data: data}); err != nil {
				return err
			}
			offset += int64(len(data))
			continue
		}
		if !req.GetFollow() {
			return nil
		}
		if job.Epoch != epoch || !job.Status.Active() {
			// The attempt ended, and its completion waited for the whole
			// log, so everything has been sent.
			return nil
		}
		switch err := waitRun(ctx, runChanged, logChanged); {
		case errors.Is(err, errRunChanged):
			if err := reload(); err != nil {
				return err
			}
		case err != nil:
			return err
		}
	}
}

// errRunChanged tells FollowLog to re-read the job.
var errRunChanged = errors.New("run changed")

// waitRun waits for new log bytes (nil error) or a run change
// (errRunChanged).
func waitRun(ctx context.Context, runChanged <-chan int64, logChanged <-chan struct{}) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-logChanged:
		return nil
	case _, ok := <-runChanged:
		if !ok {
			if err := ctx.Err(); err != nil {
				return err
			}
			return errors.New("run watch interrupted; follow again")
		}
		return errRunChanged
	}
}

// findJob returns a job, by id or else by name within the run, and the
// revision it was read at. With an id, the run may be left 0.
func (h *PipelineHandler) findJob(ctx context.Context, runID int64, name string, id int64) (*model.Job, int64, error) {
	if id != 0 {
		r, err := h.store.RunIDForJob(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		runID = r
	}
	rs, err := h.store.GetRun(ctx, runID)
	if err != nil {
		return nil, 0, err
	}
	j := rs.JobByName(name)
	if id != 0 {
		j, name = rs.Job(id), fmt.Sprint(id)
	}
	if j == nil {
		return nil, 0, fmt.Errorf("run %d has no job %q: %w", runID, name, store.ErrNotFound)
	}
	return j, rs.Revision, nil
}
