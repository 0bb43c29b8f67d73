package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gantry-ci/gantry/pkg/protocol"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// load is what a phase offers: closed-loop at a depth of outstanding
// jobs, or open-loop at a job rate.
type load struct {
	// Depth > 0: keep this many jobs submitted and not completed.
	Depth int
	// Rate > 0: submit runs at this many jobs per second regardless.
	Rate float64
}

func (l load) String() string {
	if l.Depth > 0 {
		return fmt.Sprintf("closed loop, depth %d", l.Depth)
	}
	return fmt.Sprintf("open loop, %.0f jobs/s", l.Rate)
}

// submitter submits runs of jobsPerRun parallel jobs with no source.
type submitter struct {
	conn     *grpc.ClientConn
	client   gantryv1.PipelineServiceClient
	pipeline []byte
	jobs     int
	workers  int
	rec      *recorder
}

func newSubmitter(addr string, jobsPerRun, workers int, rec *recorder) (*submitter, error) {
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, protocol.ClientInterceptors()...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("submitter: dial %s: %w", addr, err)
	}
	return &submitter{
		conn: conn, client: gantryv1.NewPipelineServiceClient(conn), pipeline: benchPipeline(jobsPerRun),
		jobs: jobsPerRun, workers: workers, rec: rec,
	}, nil
}

// Close closes the connection.
func (s *submitter) Close() error { return s.conn.Close() }

// benchPipeline is one stage of n jobs that any runner may take.
func benchPipeline(n int) []byte {
	var b strings.Builder
	// Every run is work of its own: a newer run of the ref must not
	// cancel the older ones (GitLab's default auto-cancel would).
	b.WriteString("# Gantry dispatch benchmark: parallel jobs that finish at once.\n" +
		"workflow:\n  auto_cancel:\n    on_new_commit: none\nstages: [bench]\n")
	for i := range n {
		fmt.Fprintf(&b, "job-%d:\n  stage: bench\n  script: [\"true\"]\n", i)
	}
	return []byte(b.String())
}

// Run submits until stop is closed, then waits for submissions in flight
// (so every run the coordinator accepted is counted). ctx ends everything.
func (s *submitter) Run(ctx context.Context, stop <-chan struct{}, l load) error {
	g, gctx := errgroup.WithContext(ctx)
	if l.Depth > 0 {
		for range s.workers {
			g.Go(func() error { return s.closedLoop(gctx, stop, l.Depth) })
		}
		return g.Wait()
	}
	work := make(chan struct{}, s.workers)
	g.Go(func() error {
		defer close(work)
		return s.pace(gctx, stop, work, l.Rate)
	})
	for range s.workers {
		g.Go(func() error {
			for range work {
				if err := s.submit(gctx, 0); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// closedLoop submits a run whenever its jobs fit under depth.
func (s *submitter) closedLoop(ctx context.Context, stop <-chan struct{}, depth int) error {
	for {
		if err := s.rec.reserve(ctx, stop, s.jobs, depth); err != nil {
			if errors.Is(err, errStopped) {
				return nil
			}
			return err
		}
		if err := s.submit(ctx, s.jobs); err != nil {
			return err
		}
	}
}

// pace hands out one submission per run interval on a fixed schedule.
// When every worker is busy the submission is skipped and counted: the
// load actually offered is then below the target.
func (s *submitter) pace(ctx context.Context, stop <-chan struct{}, work chan<- struct{}, rate float64) error {
	interval := time.Duration(float64(s.jobs) / rate * float64(time.Second))
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return nil
		case <-t.C:
		}
		select {
		case work <- struct{}{}:
		default:
			s.rec.missedSubmit()
		}
		next = next.Add(interval)
		t.Reset(time.Until(next))
	}
}

// submit makes one SubmitRun call. reserved jobs were already counted as
// outstanding by the caller. Errors from the coordinator are recorded,
// not returned: only ctx ends submitting.
func (s *submitter) submit(ctx context.Context, reserved int) error {
	start := time.Now()
	resp, err := s.submitOnce(ctx)
	s.rec.rpcDone(ctx, "SubmitRun", time.Since(start), err)
	if err != nil {
		s.rec.unreserve(reserved)
		return ctx.Err()
	}
	s.rec.accepted(len(resp.GetJobs()), reserved)
	return nil
}

// submitOnce streams the header and no source, like `gantry submit` of an
// empty directory.
func (s *submitter) submitOnce(ctx context.Context) (*gantryv1.SubmitRunResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := s.client.SubmitRun(ctx)
	if err != nil {
		return nil, err
	}
	hdr := &gantryv1.SubmitHeader{
		Pipeline: s.pipeline, PipelinePath: ".gantry.yml", Ref: "bench", Sha: "0000000000000000000000000000000000000000",
		Submitter: "loadgen", ProjectName: "dispatch-bench",
	}
	// A failed Send (io.EOF) means the coordinator ended the stream early;
	// CloseAndRecv returns its reason.
	_ = stream.Send(&gantryv1.SubmitRunRequest{Msg: &gantryv1.SubmitRunRequest_Header{Header: hdr}})
	return stream.CloseAndRecv()
}
