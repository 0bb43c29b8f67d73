package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/jobreports"
	"github.com/gantry-ci/gantry/coordinator/model"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// uploadReports stores a job's report archive, reads it and records what
// it says on the job (fenced like the artifacts). Unreadable reports are
// warnings on the job, not errors of the upload.
func (h *RunnerHandler) uploadReports(ctx context.Context, runnerID string, hdr *gantryv1.UploadArtifactsHeader, next func() ([]byte, error)) (*gantryv1.UploadArtifactsResponse, error) {
	jobID, epoch := hdr.GetJobId(), hdr.GetEpoch()
	max := h.maxArtifactBytes
	if max <= 0 {
		max = DefaultMaxArtifactBytes
	}
	put, err := h.blobs.PutContentAddressed(ctx, "reports", ".tar.gz", &chunkReader{next: next}, max)
	if err != nil {
		if errors.Is(err, blob.ErrTooLarge) {
			return nil, fmt.Errorf("%w: reports of job %d are larger than the coordinator's %d byte limit (--max-artifact-size)", ErrInvalidArgument, jobID, max)
		}
		return nil, fmt.Errorf("store reports of job %d: %w", jobID, err)
	}
	h.meter.ArtifactBytesReceived("reports", put.Size)
	key := "reports/" + put.SHA256 + ".tar.gz"
	spec := &gantryv1.JobSpec{}
	if b, err := h.store.JobSpec(ctx, jobID); err != nil {
		return nil, err
	} else if err := proto.Unmarshal(b, spec); err != nil {
		return nil, fmt.Errorf("job %d spec: %w", jobID, err)
	}
	f, err := h.blobs.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read reports of job %d: %w", jobID, err)
	}
	res, err := jobreports.Read(ctx, f, spec.GetArtifacts().GetReports())
	f.Close()
	if err != nil {
		return nil, err
	}
	sum := res.Summary
	sum.BlobKey = key
	if res.Detail.Tests != nil || len(res.Detail.Files) > 0 {
		detail, err := json.Marshal(res.Detail)
		if err != nil {
			return nil, fmt.Errorf("encode reports of job %d: %w", jobID, err)
		}
		d, err := h.blobs.PutContentAddressed(ctx, "report-details", ".json", bytes.NewReader(detail), 0)
		if err != nil {
			return nil, fmt.Errorf("store reports of job %d: %w", jobID, err)
		}
		sum.DetailKey = "report-details/" + d.SHA256 + ".json"
	}
	if err := h.sched.RecordReports(ctx, runnerID, jobID, epoch, sum); err != nil {
		return nil, err
	}
	return &gantryv1.UploadArtifactsResponse{
		Tests: testsToProto(sum.Tests), Coverage: coverageToProto(sum.Coverage),
		DotenvVariables: int32(len(sum.Dotenv)), Warnings: sum.Warnings,
	}, nil
}

// GetJobReport returns a job's report summaries with their details: every
// failing case, the coverage of each file.
func (h *PipelineHandler) GetJobReport(ctx context.Context, req *gantryv1.GetJobReportRequest) (*gantryv1.GetJobReportResponse, error) {
	j, _, err := h.findJob(ctx, req.GetRunId(), req.GetJobName(), req.GetJobId())
	if err != nil {
		return nil, err
	}
	resp := &gantryv1.GetJobReportResponse{Job: jobToProto(j)}
	if j.Reports == nil {
		return resp, nil
	}
	resp.Tests = testsToProto(j.Reports.Tests)
	resp.Coverage = coverageToProto(j.Reports.Coverage)
	if j.Reports.DetailKey == "" {
		return resp, nil
	}
	f, err := h.blobs.Open(ctx, j.Reports.DetailKey)
	if err != nil {
		return nil, fmt.Errorf("report of job %q: %w", j.Name, err)
	}
	defer f.Close()
	var d jobreports.Detail
	if err := json.NewDecoder(io.LimitReader(f, 256<<20)).Decode(&d); err != nil {
		return nil, fmt.Errorf("report of job %q: %w", j.Name, err)
	}
	if d.Tests != nil {
		resp.Tests = testsToProto(d.Tests)
	}
	for _, fc := range d.Files {
		resp.Files = append(resp.Files, &gantryv1.FileCoverage{Path: fc.Path, LinesValid: fc.LinesValid, LinesCovered: fc.LinesCovered})
	}
	return resp, nil
}

func testsToProto(t *model.TestSummary) *gantryv1.TestSummary {
	if t == nil {
		return nil
	}
	out := &gantryv1.TestSummary{
		Tests: int32(t.Tests), Failures: int32(t.Failures), Errors: int32(t.Errors), Skipped: int32(t.Skipped),
		Time: durationpb.New(t.Time), FailedOmitted: int32(t.FailedOmitted),
	}
	for _, c := range t.Failed {
		out.Failed = append(out.Failed, &gantryv1.TestCase{Suite: c.Suite, ClassName: c.Class, Name: c.Name, Kind: c.Kind, Message: c.Message, Output: c.Output})
	}
	return out
}

func coverageToProto(c *model.CoverageSummary) *gantryv1.CoverageSummary {
	if c == nil {
		return nil
	}
	return &gantryv1.CoverageSummary{
		Format: c.Format, LinesValid: c.LinesValid, LinesCovered: c.LinesCovered,
		Percent: c.Percent(), Files: int32(c.Files),
	}
}
