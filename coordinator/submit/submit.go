// Package submit turns a submitted pipeline file into a stored run: it
// parses the file, expands it into jobs with their execution specs and
// predefined variables, stores the source archive, and creates the run.
package submit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gantry-ci/gantry/coordinator/blob"
	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/pkg/pipeline"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// ErrInvalidPipeline wraps every problem with the submitted pipeline.
var ErrInvalidPipeline = errors.New("invalid pipeline")

// DefaultJobTimeout is GitLab's default job timeout.
const DefaultJobTimeout = time.Hour

// Request is one submission.
type Request struct {
	Pipeline     []byte
	PipelinePath string
	Ref          string
	SHA          string
	Submitter    string
	ProjectName  string
	Variables    []*gantryv1.Variable
	// Source is the tar.gz of the working tree; nil or empty means none.
	Source io.Reader
}

// Service creates runs.
type Service struct {
	store          *store.Store
	blobs          *blob.FS
	log            *zap.Logger
	maxSourceBytes int64
	now            func() time.Time
}

// New returns a submission service. maxSourceBytes bounds source archives.
func New(st *store.Store, blobs *blob.FS, maxSourceBytes int64, logger *zap.Logger) *Service {
	return &Service{store: st, blobs: blobs, log: logger, maxSourceBytes: maxSourceBytes, now: time.Now}
}

// Submit validates and stores a run. Pipeline problems are returned as
// ErrInvalidPipeline wrapping the parser's positioned errors; nothing is
// stored then.
func (s *Service) Submit(ctx context.Context, req Request) (*store.RunState, []string, error) {
	if req.PipelinePath == "" {
		req.PipelinePath = ".gantry.yml"
	}
	if req.ProjectName == "" {
		req.ProjectName = "project"
	}
	p, err := pipeline.Parse(req.PipelinePath, req.Pipeline)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPipeline, err)
	}
	if len(p.Jobs) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: the pipeline defines no jobs to run (hidden `.jobs` are templates)", ErrInvalidPipeline, req.PipelinePath)
	}
	warnings := make([]string, 0, len(p.Warnings))
	for _, w := range p.Warnings {
		warnings = append(warnings, w.String())
	}
	warnings = append(warnings, notHonoured(p)...)

	var digest string
	if req.Source != nil {
		res, err := s.blobs.PutContentAddressed(ctx, "sources", ".tar.gz", req.Source, s.maxSourceBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("store source archive: %w", err)
		}
		if res.Size > 0 {
			digest = res.SHA256
		}
	}

	now := s.now()
	rs, err := s.store.CreateRun(ctx, len(p.Jobs), func(runID int64, jobIDs []int64) (*model.Run, []*model.Job, error) {
		run := &model.Run{
			ID: runID, Status: model.RunPending, Ref: req.Ref, SHA: req.SHA, Submitter: req.Submitter,
			ProjectName: req.ProjectName, PipelinePath: req.PipelinePath, Stages: p.Stages,
			JobIDs: jobIDs, SourceDigest: digest, CreatedAt: now,
		}
		jobs := make([]*model.Job, len(p.Jobs))
		for i, pj := range p.Jobs {
			j, err := s.job(run, jobIDs[i], p, pj, req.Variables)
			if err != nil {
				return nil, nil, err
			}
			j.CreatedAt = now
			jobs[i] = j
		}
		model.Advance(run, jobs, now)
		return run, jobs, nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("run submitted", zap.Int64("run_id", rs.Run.ID), zap.Int("jobs", len(rs.Jobs)), zap.String("ref", req.Ref), zap.String("submitter", req.Submitter))
	return rs, warnings, nil
}

// job builds a stored job and its execution spec.
func (s *Service) job(run *model.Run, id int64, p *pipeline.Pipeline, pj *pipeline.Job, extra []*gantryv1.Variable) (*model.Job, error) {
	spec := &gantryv1.JobSpec{
		RunId: run.ID, JobId: id, Name: pj.Name, Stage: pj.Stage,
		BeforeScript: pj.BeforeScript, Script: pj.Script, AfterScript: pj.AfterScript,
		Timeout: durationpb.New(DefaultJobTimeout), ProjectName: run.ProjectName, Tags: pj.Tags,
		HasSource: run.SourceDigest != "",
	}
	if pj.Image != nil {
		spec.Image = &gantryv1.ImageSpec{Name: pj.Image.Name, Entrypoint: pj.Image.Entrypoint, EntrypointSet: pj.Image.EntrypointSet}
	}
	for _, sv := range pj.Services {
		spec.Services = append(spec.Services, &gantryv1.ServiceSpec{
			Name: sv.Name, Alias: sv.Alias, Entrypoint: sv.Entrypoint, EntrypointSet: sv.EntrypointSet,
			Command: sv.Command, Variables: vars(sv.Variables),
		})
	}
	// Precedence, lowest first: predefined, pipeline, job, submit-time.
	spec.Variables = append(predefined(run, id, pj), vars(p.Variables)...)
	spec.Variables = append(spec.Variables, vars(pj.Variables)...)
	spec.Variables = append(spec.Variables, extra...)

	enc, err := proto.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode job %q spec: %w", pj.Name, err)
	}
	stage := slices.Index(p.Stages, pj.Stage)
	j := &model.Job{
		ID: id, RunID: run.ID, Name: pj.Name, Stage: pj.Stage, StageIndex: stage,
		Status: model.JobCreated, Tags: pj.Tags, Spec: enc, Retry: pj.Retry,
	}
	if pj.Image != nil {
		j.Image = pj.Image.Name
	}
	return j, nil
}

func vars(in []pipeline.Variable) []*gantryv1.Variable {
	out := make([]*gantryv1.Variable, 0, len(in))
	for _, v := range in {
		out = append(out, &gantryv1.Variable{Key: v.Key, Value: v.Value})
	}
	return out
}

// predefined returns GitLab's predefined variables for a job.
func predefined(run *model.Run, jobID int64, pj *pipeline.Job) []*gantryv1.Variable {
	short := run.SHA
	if len(short) > 8 {
		short = short[:8]
	}
	kv := [][2]string{
		{"CI", "true"},
		{"GANTRY", "true"},
		{"CI_SERVER_NAME", "Gantry"},
		{"CI_PIPELINE_ID", strconv.FormatInt(run.ID, 10)},
		{"CI_PIPELINE_IID", strconv.FormatInt(run.ID, 10)},
		{"CI_PIPELINE_SOURCE", "push"},
		{"CI_JOB_ID", strconv.FormatInt(jobID, 10)},
		{"CI_JOB_NAME", pj.Name},
		{"CI_JOB_STAGE", pj.Stage},
		{"CI_PROJECT_NAME", run.ProjectName},
		{"CI_COMMIT_SHA", run.SHA},
		{"CI_COMMIT_SHORT_SHA", short},
		{"CI_COMMIT_REF_NAME", run.Ref},
	}
	if run.Ref != "" {
		kv = append(kv, [2]string{"CI_COMMIT_BRANCH", run.Ref})
	}
	out := make([]*gantryv1.Variable, 0, len(kv))
	for _, p := range kv {
		out = append(out, &gantryv1.Variable{Key: p[0], Value: p[1]})
	}
	return out
}
