package agent

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
	"github.com/gantry-ci/gantry/runner/executor"
)

// artifactChunk is the size of one UploadArtifacts message.
const artifactChunk = 256 << 10

// withArtifacts adds the spec's artifact dependencies and `artifacts:` to
// the executor's job, wired to the coordinator.
func (a *Agent) withArtifacts(ej *executor.Job, j *job, spec *gantryv1.JobSpec) {
	for _, d := range spec.GetDependencies() {
		from := d.GetJobId()
		ej.Dependencies = append(ej.Dependencies, executor.Dependency{
			JobName: d.GetJobName(),
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				ctx, cancel := context.WithCancel(ctx)
				stream, err := a.client.DownloadArtifacts(ctx, &gantryv1.DownloadArtifactsRequest{JobId: j.id, Epoch: j.epoch, FromJobId: from})
				if err != nil {
					cancel()
					return nil, fmt.Errorf("download artifacts of %s: %w", d.GetJobName(), err)
				}
				return &streamReader{what: "download artifacts of " + d.GetJobName(), cancel: cancel, recv: func() ([]byte, error) {
					m, err := stream.Recv()
					return m.GetChunk(), err
				}}, nil
			},
		})
	}
	a.withCaches(ej, j, spec)
	as := spec.GetArtifacts()
	if as == nil {
		return
	}
	ej.MaxArtifactBytes = a.cfg.MaxArtifactBytes
	if len(as.GetPaths()) > 0 || as.GetUntracked() {
		ej.Artifacts = &executor.Artifacts{Paths: as.GetPaths(), Exclude: as.GetExclude(), Untracked: as.GetUntracked(), When: as.GetWhen()}
		ej.UploadArtifacts = func(ctx context.Context, archive io.Reader) error {
			_, err := a.uploadArtifacts(ctx, j, archive, false)
			return err
		}
	}
	for _, r := range as.GetReports() {
		ej.Reports = append(ej.Reports, executor.Report{Kind: r.GetKind(), Paths: r.GetPaths()})
	}
	if len(ej.Reports) > 0 {
		ej.UploadReports = func(ctx context.Context, archive io.Reader) ([]string, error) {
			resp, err := a.uploadArtifacts(ctx, j, archive, true)
			return reportLines(resp), err
		}
	}
}

// withCaches adds the spec's caches, stored through the coordinator so
// that any runner restores what another saved.
func (a *Agent) withCaches(ej *executor.Job, j *job, spec *gantryv1.JobSpec) {
	if len(spec.GetCaches()) == 0 {
		return
	}
	for _, c := range spec.GetCaches() {
		ej.Caches = append(ej.Caches, executor.Cache{Keys: c.GetKeys(), Paths: c.GetPaths(), Untracked: c.GetUntracked(), Policy: c.GetPolicy(), When: c.GetWhen()})
	}
	ej.MaxArtifactBytes = a.cfg.MaxArtifactBytes
	ej.OpenCache = func(ctx context.Context, key string) (io.ReadCloser, error) {
		ctx, cancel := context.WithCancel(ctx)
		stream, err := a.client.DownloadCache(ctx, &gantryv1.DownloadCacheRequest{Ref: &gantryv1.CacheRef{JobId: j.id, Epoch: j.epoch, Key: key}})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("download cache %s: %w", key, err)
		}
		// The first message tells a missing cache from a present one.
		first, err := stream.Recv()
		if status.Code(err) == codes.NotFound {
			cancel()
			return nil, fmt.Errorf("cache %s: %w", key, executor.ErrNoCache)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			cancel()
			return nil, fmt.Errorf("download cache %s: %w", key, err)
		}
		pending := first.GetChunk()
		return &streamReader{what: "download cache " + key, cancel: cancel, recv: func() ([]byte, error) {
			if pending != nil {
				b := pending
				pending = nil
				return b, nil
			}
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			m, rerr := stream.Recv()
			return m.GetChunk(), rerr
		}}, nil
	}
	ej.UploadCache = func(ctx context.Context, key string, archive io.Reader) error {
		return a.upload(ctx, "cache "+key, countingReader{archive, "cache", a.cfg.Observer}, func(ctx context.Context) (chunkSender, error) {
			stream, err := a.client.UploadCache(ctx)
			if err != nil {
				return nil, err
			}
			return cacheSender{stream}, stream.Send(&gantryv1.UploadCacheRequest{Msg: &gantryv1.UploadCacheRequest_Header{Header: &gantryv1.CacheRef{JobId: j.id, Epoch: j.epoch, Key: key}}})
		})
	}
}

// chunkSender is a client stream that takes byte chunks.
type chunkSender interface {
	sendChunk([]byte) error
	closeAndRecv() error
}

type cacheSender struct {
	s gantryv1.RunnerService_UploadCacheClient
}

func (c cacheSender) sendChunk(b []byte) error {
	return c.s.Send(&gantryv1.UploadCacheRequest{Msg: &gantryv1.UploadCacheRequest_Chunk{Chunk: b}})
}

func (c cacheSender) closeAndRecv() error {
	_, err := c.s.CloseAndRecv()
	return err
}

type artifactSender struct {
	s    gantryv1.RunnerService_UploadArtifactsClient
	resp *gantryv1.UploadArtifactsResponse
}

func (c *artifactSender) sendChunk(b []byte) error {
	return c.s.Send(&gantryv1.UploadArtifactsRequest{Msg: &gantryv1.UploadArtifactsRequest_Chunk{Chunk: b}})
}

func (c *artifactSender) closeAndRecv() error {
	resp, err := c.s.CloseAndRecv()
	c.resp = resp
	return err
}

// upload streams an archive on a client stream that open started (its
// header sent), in chunks.
func (a *Agent) upload(ctx context.Context, what string, archive io.Reader, open func(context.Context) (chunkSender, error)) error {
	s, err := open(ctx)
	if err != nil {
		if s != nil {
			err = s.closeAndRecv() // the server's reason, if it gave one
		}
		return fmt.Errorf("upload %s: %w", what, err)
	}
	buf := make([]byte, artifactChunk)
	for {
		n, rerr := io.ReadFull(archive, buf)
		if n > 0 {
			if err := s.sendChunk(buf[:n]); err != nil {
				return fmt.Errorf("upload %s: %w", what, s.closeAndRecv())
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			_ = s.closeAndRecv()
			return fmt.Errorf("upload %s: %w", what, rerr)
		}
	}
	if err := s.closeAndRecv(); err != nil {
		return fmt.Errorf("upload %s: %w", what, err)
	}
	return nil
}

// uploadArtifacts streams an artifact archive, or the report archive, to
// the coordinator and returns its answer.
func (a *Agent) uploadArtifacts(ctx context.Context, j *job, archive io.Reader, reports bool) (*gantryv1.UploadArtifactsResponse, error) {
	what := "artifacts"
	if reports {
		what = "reports"
	}
	var sender *artifactSender
	err := a.upload(ctx, what, countingReader{archive, what, a.cfg.Observer}, func(ctx context.Context) (chunkSender, error) {
		stream, err := a.client.UploadArtifacts(ctx)
		if err != nil {
			return nil, err
		}
		sender = &artifactSender{s: stream}
		hdr := &gantryv1.UploadArtifactsRequest{Msg: &gantryv1.UploadArtifactsRequest_Header{Header: &gantryv1.UploadArtifactsHeader{JobId: j.id, Epoch: j.epoch, Reports: reports}}}
		return sender, stream.Send(hdr)
	})
	if sender == nil {
		return nil, err
	}
	return sender.resp, err
}

// reportLines says in the job log what the coordinator read in the
// job's reports.
func reportLines(resp *gantryv1.UploadArtifactsResponse) []string {
	var lines []string
	if t := resp.GetTests(); t != nil {
		lines = append(lines, fmt.Sprintf("Test report: %d tests, %d failures, %d errors, %d skipped", t.GetTests(), t.GetFailures(), t.GetErrors(), t.GetSkipped()))
	}
	if c := resp.GetCoverage(); c != nil {
		lines = append(lines, fmt.Sprintf("Coverage report (%s): %.2f%% of %d lines", c.GetFormat(), c.GetPercent(), c.GetLinesValid()))
	}
	if n := resp.GetDotenvVariables(); n > 0 {
		lines = append(lines, fmt.Sprintf("dotenv report: %d variables for later jobs", n))
	}
	for _, w := range resp.GetWarnings() {
		lines = append(lines, "WARNING: "+w)
	}
	return lines
}

// streamReader reads a server stream of chunks as one stream.
type streamReader struct {
	what   string
	recv   func() ([]byte, error)
	cancel context.CancelFunc
	buf    []byte
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		b, err := r.recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("%s: %w", r.what, err)
		}
		r.buf = b
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *streamReader) Close() error {
	r.cancel()
	return nil
}
