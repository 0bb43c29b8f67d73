package agent

import (
	"context"
	"errors"
	"fmt"
	"io"

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
	as := spec.GetArtifacts()
	if as == nil {
		return
	}
	ej.Artifacts = &executor.Artifacts{Paths: as.GetPaths(), Exclude: as.GetExclude(), Untracked: as.GetUntracked(), When: as.GetWhen()}
	ej.MaxArtifactBytes = a.cfg.MaxArtifactBytes
	ej.UploadArtifacts = func(ctx context.Context, archive io.Reader) error {
		return a.uploadArtifacts(ctx, j, archive)
	}
}

// uploadArtifacts streams an artifact archive to the coordinator.
func (a *Agent) uploadArtifacts(ctx context.Context, j *job, archive io.Reader) error {
	stream, err := a.client.UploadArtifacts(ctx)
	if err != nil {
		return fmt.Errorf("upload artifacts: %w", err)
	}
	hdr := &gantryv1.UploadArtifactsRequest{Msg: &gantryv1.UploadArtifactsRequest_Header{Header: &gantryv1.UploadArtifactsHeader{JobId: j.id, Epoch: j.epoch}}}
	if err := stream.Send(hdr); err != nil {
		_, err = stream.CloseAndRecv() // the server's reason, if it gave one
		return fmt.Errorf("upload artifacts: %w", err)
	}
	buf := make([]byte, artifactChunk)
	for {
		n, rerr := io.ReadFull(archive, buf)
		if n > 0 {
			if err := stream.Send(&gantryv1.UploadArtifactsRequest{Msg: &gantryv1.UploadArtifactsRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				_, err = stream.CloseAndRecv()
				return fmt.Errorf("upload artifacts: %w", err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			_ = stream.CloseSend()
			return fmt.Errorf("upload artifacts: %w", rerr)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("upload artifacts: %w", err)
	}
	return nil
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
