package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/store"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// cacheBlob is where a project's cache with a key lives: caches are shared
// by the runs of a project, across runners.
func cacheBlob(project, key string) string {
	sum := sha256.Sum256([]byte(project + "\x00" + key))
	return "caches/" + hex.EncodeToString(sum[:]) + ".tar.gz"
}

// projectOf returns the project of a job's run.
func (h *RunnerHandler) projectOf(ctx context.Context, jobID int64) (string, error) {
	runID, err := h.store.RunIDForJob(ctx, jobID)
	if err != nil {
		return "", err
	}
	rs, err := h.store.GetRun(ctx, runID)
	if err != nil {
		return "", err
	}
	return rs.Run.ProjectName, nil
}

// UploadCache saves a cache for the project of a job the runner holds.
func (h *RunnerHandler) UploadCache(stream gantryv1.RunnerService_UploadCacheServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	ref := first.GetHeader()
	if ref == nil || ref.GetKey() == "" {
		return fmt.Errorf("%w: the first UploadCache message must be the header, with a key", ErrInvalidArgument)
	}
	if err := h.sched.CheckFence(ctx, runnerFrom(ctx).ID, ref.GetJobId(), ref.GetEpoch()); err != nil {
		return err
	}
	project, err := h.projectOf(ctx, ref.GetJobId())
	if err != nil {
		return err
	}
	max := h.maxArtifactBytes
	if max <= 0 {
		max = DefaultMaxArtifactBytes
	}
	res, err := h.blobs.Put(ctx, cacheBlob(project, ref.GetKey()), &chunkReader{next: func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetChunk(), err
	}}, max)
	if err != nil {
		return fmt.Errorf("store cache %q of job %d: %w", ref.GetKey(), ref.GetJobId(), err)
	}
	h.meter.ArtifactBytesReceived("cache", res.Size)
	return stream.SendAndClose(&gantryv1.UploadCacheResponse{Size: res.Size})
}

// DownloadCache streams a project's cache to the runner of one of its
// jobs.
func (h *RunnerHandler) DownloadCache(req *gantryv1.DownloadCacheRequest, stream gantryv1.RunnerService_DownloadCacheServer) error {
	ctx := stream.Context()
	ref := req.GetRef()
	if err := h.sched.CheckFence(ctx, runnerFrom(ctx).ID, ref.GetJobId(), ref.GetEpoch()); err != nil {
		return err
	}
	project, err := h.projectOf(ctx, ref.GetJobId())
	if err != nil {
		return err
	}
	err = streamBlob(ctx, h.blobs, cacheBlob(project, ref.GetKey()), func(b []byte) error {
		return stream.Send(&gantryv1.DownloadCacheResponse{Chunk: b})
	})
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("no cache %q for project %q: %w", ref.GetKey(), project, store.ErrNotFound)
	}
	return err
}
