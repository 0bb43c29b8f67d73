package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gantry-ci/gantry/pkg/source"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// chunkSize is the size of the source chunks sent after the header.
const chunkSize = 256 << 10

// errStreamClosed reports that the coordinator ended SubmitRun early; its
// reason comes from CloseAndRecv.
var errStreamClosed = errors.New("submit stream closed by the coordinator")

// upload sends hdr and then dir, packed, over one SubmitRun stream.
func upload(ctx context.Context, client gantryv1.PipelineServiceClient, hdr *gantryv1.SubmitHeader, dir string, exclude []string) (*gantryv1.SubmitRunResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if anything below fails
	stream, err := client.SubmitRun(ctx)
	if err != nil {
		return nil, err
	}
	err = stream.Send(&gantryv1.SubmitRunRequest{Msg: &gantryv1.SubmitRunRequest_Header{Header: hdr}})
	if err == nil {
		err = sendSource(ctx, stream, dir, exclude)
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errStreamClosed) {
		return nil, err
	}
	// On success this half-closes and reads the answer; if the
	// coordinator gave up early it returns the coordinator's reason.
	return stream.CloseAndRecv()
}

// sendSource packs dir into the stream in chunkSize pieces. Pack writes
// into a pipe from a goroutine this function waits for; whichever side stops
// first closes its end of the pipe, so the other one returns too.
func sendSource(ctx context.Context, stream gantryv1.PipelineService_SubmitRunClient, dir string, exclude []string) error {
	pr, pw := io.Pipe()
	packed := make(chan error, 1)
	go func() {
		_, err := source.Pack(ctx, dir, pw, source.PackOptions{Exclude: exclude})
		if err != nil {
			err = fmt.Errorf("pack %s: %w", dir, err)
		}
		pw.CloseWithError(err) // nil: the reader sees io.EOF
		packed <- err
	}()
	err := sendChunks(stream, pr)
	pr.CloseWithError(errStreamClosed) // unblocks Pack if sending stopped first
	packErr := <-packed
	if err != nil {
		// A pack error reaches sendChunks through the pipe, and a stream
		// error makes Pack fail: either way this is the cause.
		return err
	}
	return packErr
}

func sendChunks(stream gantryv1.PipelineService_SubmitRunClient, r io.Reader) error {
	for {
		// A fresh buffer each time: gRPC may still look at a sent message
		// after Send returns.
		buf := make([]byte, chunkSize)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			msg := &gantryv1.SubmitRunRequest{Msg: &gantryv1.SubmitRunRequest_SourceChunk{SourceChunk: buf[:n]}}
			if err := stream.Send(msg); err != nil {
				if errors.Is(err, io.EOF) {
					return errStreamClosed
				}
				return err
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return err
		}
	}
}
