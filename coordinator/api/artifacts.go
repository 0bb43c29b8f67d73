package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// DefaultMaxArtifactBytes bounds one artifact archive (compressed).
const DefaultMaxArtifactBytes = 2 << 30

// UploadArtifacts stores the artifact archive of a job the calling runner
// holds; the attempt's epoch fences it like every other job message.
func (h *RunnerHandler) UploadArtifacts(stream gantryv1.RunnerService_UploadArtifactsServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hdr := first.GetHeader()
	if hdr == nil {
		return fmt.Errorf("%w: the first UploadArtifacts message must be the header", ErrInvalidArgument)
	}
	runnerID := runnerFrom(ctx).ID
	if err := h.sched.CheckFence(ctx, runnerID, hdr.GetJobId(), hdr.GetEpoch()); err != nil {
		return err
	}
	if hdr.GetReports() {
		resp, err := h.uploadReports(ctx, runnerID, hdr, func() ([]byte, error) {
			m, err := stream.Recv()
			return m.GetChunk(), err
		})
		if err != nil {
			return err
		}
		return stream.SendAndClose(resp)
	}
	max := h.maxArtifactBytes
	if max <= 0 {
		max = DefaultMaxArtifactBytes
	}
	// Each job's archives have a prefix of their own, so the expiry
	// collector deletes one without another job's sharing it.
	prefix := fmt.Sprintf("artifacts/%d", hdr.GetJobId())
	res, err := h.blobs.PutContentAddressed(ctx, prefix, ".tar.gz", &chunkReader{next: func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetChunk(), err
	}}, max)
	if err != nil {
		if errors.Is(err, blob.ErrTooLarge) {
			return fmt.Errorf("%w: artifacts of job %d are larger than the coordinator's %d byte limit (--max-artifact-size)", ErrInvalidArgument, hdr.GetJobId(), max)
		}
		return fmt.Errorf("store artifacts of job %d: %w", hdr.GetJobId(), err)
	}
	h.meter.ArtifactBytesReceived("artifacts", res.Size)
	a := model.Artifact{
		Name: h.artifactName(ctx, hdr.GetJobId()), Size: res.Size, SHA256: res.SHA256,
		BlobKey: prefix + "/" + res.SHA256 + ".tar.gz", Epoch: hdr.GetEpoch(), CreatedAt: time.Now(),
	}
	j, err := h.sched.RecordArtifact(ctx, runnerID, hdr.GetJobId(), hdr.GetEpoch(), a)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&gantryv1.UploadArtifactsResponse{Artifact: artifactToProto(j)})
}

// artifactName is artifacts:name with the job's variables expanded
// ("artifacts" when unset, as GitLab names the archive).
func (h *RunnerHandler) artifactName(ctx context.Context, jobID int64) string {
	const def = "artifacts"
	b, err := h.store.JobSpec(ctx, jobID)
	if err != nil {
		return def
	}
	spec := &gantryv1.JobSpec{}
	if proto.Unmarshal(b, spec) != nil || spec.GetArtifacts().GetName() == "" {
		return def
	}
	vars := map[string]string{}
	for _, v := range spec.GetVariables() {
		vars[v.GetKey()] = v.GetValue()
	}
	if name := os.Expand(spec.GetArtifacts().GetName(), func(k string) string { return vars[k] }); name != "" {
		return name
	}
	return def
}

// DownloadArtifacts streams the artifacts of a job of the same run to the
// runner holding the requesting job.
func (h *RunnerHandler) DownloadArtifacts(req *gantryv1.DownloadArtifactsRequest, stream gantryv1.RunnerService_DownloadArtifactsServer) error {
	ctx := stream.Context()
	if err := h.sched.CheckFence(ctx, runnerFrom(ctx).ID, req.GetJobId(), req.GetEpoch()); err != nil {
		return err
	}
	runID, err := h.store.RunIDForJob(ctx, req.GetJobId())
	if err != nil {
		return err
	}
	rs, err := h.store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	from := rs.Job(req.GetFromJobId())
	if from == nil {
		return fmt.Errorf("job %d is not in run %d of job %d: %w", req.GetFromJobId(), runID, req.GetJobId(), store.ErrNotFound)
	}
	if from.Artifact == nil {
		return fmt.Errorf("job %q of run %d has no artifacts: %w", from.Name, runID, store.ErrNotFound)
	}
	if err := expired(from); err != nil {
		return err
	}
	return streamBlob(ctx, h.blobs, from.Artifact.BlobKey, func(b []byte) error {
		return stream.Send(&gantryv1.DownloadArtifactsResponse{Chunk: b})
	})
}

// streamBlob sends a blob in chunks.
func streamBlob(ctx context.Context, blobs BlobStore, key string, send func([]byte) error) error {
	f, err := blobs.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s: %w", key, err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if serr := send(buf[:n]); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
	}
}

// ListArtifacts lists the artifact archives of a run's jobs.
func (h *PipelineHandler) ListArtifacts(ctx context.Context, req *gantryv1.ListArtifactsRequest) (*gantryv1.ListArtifactsResponse, error) {
	rs, err := h.store.GetRun(ctx, req.GetRunId())
	if err != nil {
		return nil, err
	}
	out := &gantryv1.ListArtifactsResponse{}
	for _, j := range rs.Jobs {
		if j.Artifact != nil {
			out.Artifacts = append(out.Artifacts, artifactToProto(j))
		}
	}
	return out, nil
}

// DownloadArtifact streams one job's artifact archive, its description
// first.
func (h *PipelineHandler) DownloadArtifact(req *gantryv1.DownloadArtifactRequest, stream gantryv1.PipelineService_DownloadArtifactServer) error {
	ctx := stream.Context()
	j, _, err := h.findJob(ctx, req.GetRunId(), req.GetJobName(), req.GetJobId())
	if err != nil {
		return err
	}
	if j.Artifact == nil {
		return fmt.Errorf("job %q of run %d has no artifacts (none were declared, none matched, or it has not finished): %w", j.Name, req.GetRunId(), store.ErrNotFound)
	}
	if err := expired(j); err != nil {
		return err
	}
	if err := h.mayDownload(ctx, j); err != nil {
		return err
	}
	if err := stream.Send(&gantryv1.DownloadArtifactResponse{Artifact: artifactToProto(j)}); err != nil {
		return err
	}
	return streamBlob(ctx, h.blobs, j.Artifact.BlobKey, func(b []byte) error {
		return stream.Send(&gantryv1.DownloadArtifactResponse{Chunk: b})
	})
}

func artifactToProto(j *model.Job) *gantryv1.Artifact {
	a := j.Artifact
	if a == nil {
		return nil
	}
	return &gantryv1.Artifact{
		JobId: j.ID, JobName: j.Name, Name: a.Name, Size: a.Size, Sha256: a.SHA256,
		CreatedAt: ts(a.CreatedAt), ExpireAt: ts(a.ExpireAt), DeletedAt: ts(a.DeletedAt),
		ExposeAs: a.ExposeAs, Access: a.Access,
	}
}

// expired says when a job's artifacts were deleted, nil while they exist.
func expired(j *model.Job) error {
	if a := j.Artifact; a != nil && !a.DeletedAt.IsZero() {
		return fmt.Errorf("the artifacts of job %q expired at %s (artifacts:expire_in) and were deleted; run the job again to have them: %w",
			j.Name, a.ExpireAt.UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	return nil
}
