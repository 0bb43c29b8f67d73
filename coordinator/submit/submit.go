// Package submit turns a submitted pipeline file into a stored run: it
// stores the source archive, parses the file with the files it includes
// from that source, plans what runs for the ref (workflow rules, rules,
// only/except, parallel and matrix jobs, needs), and creates the run with
// each job's execution spec and predefined variables.
package submit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gantry-ci/gantry/coordinator/model"
	"github.com/gantry-ci/gantry/coordinator/store"
	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/pipelinefile"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

var (
	// ErrInvalidPipeline wraps every problem with the submitted pipeline.
	ErrInvalidPipeline = errors.New("invalid pipeline")
	// ErrNoPipeline means the file is valid but its rules create no
	// pipeline for this ref (GitLab's "filtered out by workflow rules").
	ErrNoPipeline = errors.New("no pipeline for this ref")
)

// DefaultJobTimeout is GitLab's default job timeout.
const DefaultJobTimeout = time.Hour

// Request is one submission.
type Request struct {
	Pipeline     []byte
	PipelinePath string
	Ref          string
	// IsTag: Ref names a tag.
	IsTag     bool
	SHA       string
	Submitter string
	// ProjectName is CI_PROJECT_NAME.
	ProjectName string
	Variables   []*gantryv1.Variable
	// PipelineSource is GitLab's CI_PIPELINE_SOURCE (push when empty).
	PipelineSource string
	// DefaultBranch is CI_DEFAULT_BRANCH (main when empty).
	DefaultBranch string
	// ChangedFiles, when ChangedFilesKnown, answer `rules:changes`.
	ChangedFiles      []string
	ChangedFilesKnown bool
	// Archive is the tar.gz of the working tree; nil or empty means none.
	Archive io.Reader
}

// Options tune submissions.
type Options struct {
	// MaxSourceBytes bounds source archives (0: no limit).
	MaxSourceBytes int64
	// Registry is the container registry jobs push to (host[:port]), for
	// CI_REGISTRY and CI_REGISTRY_IMAGE; "" leaves them unset.
	Registry string
}

// Service creates runs.
type Service struct {
	store *store.Store
	blobs BlobStore
	log   *zap.Logger
	opts  Options
	now   func() time.Time
}

// New returns a submission service.
func New(st *store.Store, blobs BlobStore, opts Options, logger *zap.Logger) *Service {
	return &Service{store: st, blobs: blobs, log: logger, opts: opts, now: time.Now}
}

// Submit validates and stores a run. Pipeline problems are returned as
// ErrInvalidPipeline wrapping the parser's positioned errors, a pipeline
// its rules do not create as ErrNoPipeline; nothing is stored then but
// the source archive.
func (s *Service) Submit(ctx context.Context, req Request) (*store.RunState, []string, error) {
	if req.PipelinePath == "" {
		req.PipelinePath = ".gantry.yml"
	}
	if req.ProjectName == "" {
		req.ProjectName = "project"
	}
	if req.PipelineSource == "" {
		req.PipelineSource = "push"
	}
	if req.DefaultBranch == "" {
		req.DefaultBranch = "main"
	}
	digest, src, err := s.storeSource(ctx, req.Archive)
	if err != nil {
		return nil, nil, err
	}

	in := pipeline.PlanInput{
		Ref: req.Ref, IsTag: req.IsTag, SHA: req.SHA, Source: req.PipelineSource, DefaultBranch: req.DefaultBranch,
		Predefined: []pipeline.Variable{
			{Key: "GANTRY", Value: "true"},
			{Key: "CI_SERVER_NAME", Value: "Gantry"},
			{Key: "CI_PROJECT_NAME", Value: req.ProjectName},
		},
	}
	if r := s.opts.Registry; r != "" {
		in.Predefined = append(in.Predefined,
			pipeline.Variable{Key: "CI_REGISTRY", Value: r},
			pipeline.Variable{Key: "CI_REGISTRY_IMAGE", Value: r + "/" + strings.ToLower(req.ProjectName)})
	}
	if req.ChangedFilesKnown {
		in.ChangedFiles = append([]string{}, req.ChangedFiles...)
	}
	masked := map[string]bool{}
	var secrets []string
	for _, v := range req.Variables {
		in.Variables = append(in.Variables, pipeline.Variable{Key: v.GetKey(), Value: v.GetValue()})
		masked[v.GetKey()] = v.GetMasked()
		if v.GetMasked() {
			secrets = append(secrets, v.GetKey())
		}
	}
	opts := pipeline.ParseOptions{Facts: &in, ReadFile: noSource}
	if src != nil {
		opts.ReadFile, opts.ListFiles = src.ReadFile, src.ListFiles
		in.FileExists = src.exists(pipeline.MatchGlob)
	}
	p, err := pipelinefile.Parse(req.PipelinePath, req.Pipeline, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPipeline, err)
	}
	if p.Jobs() == 0 {
		return nil, nil, fmt.Errorf("%w: %s: the pipeline defines no jobs to run (hidden `.jobs` are templates)", ErrInvalidPipeline, req.PipelinePath)
	}
	plan, err := p.Plan(in, secrets)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPipeline, err)
	}
	if !plan.Created {
		return nil, nil, fmt.Errorf("%w %q (source %s): %s", ErrNoPipeline, req.Ref, req.PipelineSource, plan.Reason)
	}
	warnings := make([]string, 0, len(p.Warnings()))
	for _, w := range p.Warnings() {
		warnings = append(warnings, w.String())
	}

	now := s.now()
	rs, err := s.store.CreateRun(ctx, len(plan.Jobs), func(runID int64, jobIDs []int64) (*model.Run, []*model.Job, error) {
		run := &model.Run{
			ID: runID, Status: model.RunPending, Ref: req.Ref, SHA: req.SHA, Submitter: req.Submitter,
			ProjectName: req.ProjectName, PipelinePath: req.PipelinePath, Stages: plan.Stages,
			JobIDs: jobIDs, SourceDigest: digest, CreatedAt: now, Name: plan.Name, Source: req.PipelineSource,
		}
		if plan.AutoCancel != nil {
			run.AutoCancel = plan.AutoCancel.OnNewCommit
		}
		for _, v := range req.Variables {
			if !slices.Contains(run.VariableKeys, v.GetKey()) {
				run.VariableKeys = append(run.VariableKeys, v.GetKey())
			}
		}
		ids := make(map[string]int64, len(plan.Jobs))
		for i, pj := range plan.Jobs {
			ids[pj.Name] = jobIDs[i]
		}
		jobs := make([]*model.Job, len(plan.Jobs))
		for i, pj := range plan.Jobs {
			j, err := s.job(run, jobIDs[i], pj, masked, ids, src)
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

func noSource(name string) ([]byte, error) {
	return nil, fmt.Errorf("%s: no source tree was submitted with the pipeline: %w", name, fs.ErrNotExist)
}

// storeSource stores the archive, if any, and indexes its files.
func (s *Service) storeSource(ctx context.Context, archive io.Reader) (string, *tree, error) {
	if archive == nil {
		return "", nil, nil
	}
	res, err := s.blobs.PutContentAddressed(ctx, "sources", ".tar.gz", archive, s.opts.MaxSourceBytes)
	if err != nil {
		return "", nil, fmt.Errorf("store source archive: %w", err)
	}
	if res.Size == 0 {
		return "", nil, nil
	}
	f, err := s.blobs.Open(ctx, "sources/"+res.SHA256+".tar.gz")
	if err != nil {
		return "", nil, fmt.Errorf("read source archive: %w", err)
	}
	defer f.Close()
	t, err := readTree(f)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrInvalidPipeline, err)
	}
	return res.SHA256, t, nil
}

// job builds a stored job and its execution spec from a planned job.
func (s *Service) job(run *model.Run, id int64, pj *pipeline.PlanJob, masked map[string]bool, ids map[string]int64, src *tree) (*model.Job, error) {
	def := pj.Job
	timeout := pj.Timeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	spec := &gantryv1.JobSpec{
		RunId: run.ID, JobId: id, Name: pj.Name, Stage: pj.Stage,
		BeforeScript: def.BeforeScript, Script: def.Script, AfterScript: def.AfterScript,
		Timeout: durationpb.New(timeout), ProjectName: run.ProjectName, Tags: pj.Tags,
		HasSource: run.SourceDigest != "", CoverageRegex: pj.Coverage,
	}
	if def.Image != nil {
		spec.Image = &gantryv1.ImageSpec{Name: def.Image.Name, Entrypoint: def.Image.Entrypoint, EntrypointSet: def.Image.EntrypointSet}
	}
	for _, sv := range def.Services {
		spec.Services = append(spec.Services, &gantryv1.ServiceSpec{
			Name: sv.Name, Alias: sv.Alias, Entrypoint: sv.Entrypoint, EntrypointSet: sv.EntrypointSet,
			Command: sv.Command, Variables: vars(sv.Variables, nil),
		})
	}
	spec.Artifacts = artifactsSpec(pj.Artifacts)
	for _, dep := range pj.Dependencies {
		if depID, ok := ids[dep]; ok {
			spec.Dependencies = append(spec.Dependencies, &gantryv1.ArtifactDependency{JobId: depID, JobName: dep})
		}
	}
	// Precedence, lowest first: the job's predefined variables, then
	// everything the plan resolved (predefined, file, rules, the run's).
	spec.Variables = append(jobPredefined(run, id, pj), vars(pj.Variables, masked)...)
	spec.Caches = caches(pj.Cache, spec.Variables, src)

	enc, err := proto.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode job %q spec: %w", pj.Name, err)
	}
	j := &model.Job{
		ID: id, RunID: run.ID, Name: pj.Name, Stage: pj.Stage, StageIndex: pj.StageIndex,
		Status: model.JobCreated, Tags: pj.Tags, Spec: enc, Retry: pj.Retry,
		AllowFailure: pj.AllowFailure, AllowFailureExitCodes: pj.AllowFailureExitCodes,
		When: pj.When, StartIn: pj.StartIn, UsesNeeds: pj.UsesNeeds,
		ResourceGroup: pj.ResourceGroup, Interruptible: pj.Interruptible,
		MatrixGroup: pj.MatrixGroup, FailFast: pj.FailFast, MaxParallel: pj.MaxParallel,
	}
	if j.When == "on_success" {
		j.When = ""
	}
	if a := pj.Artifacts; a != nil {
		j.ArtifactsExpireIn = a.ExpireIn
		j.ArtifactsExposeAs = a.ExposeAs
		switch {
		case a.Access == "none" || a.Access == "developer":
			j.ArtifactsAccess = a.Access
		case !a.Public:
			j.ArtifactsAccess = "developer"
		}
		if a.ExpireNever {
			j.ArtifactsExpireIn = -1
		}
	}
	for _, n := range pj.Needs {
		j.Needs = append(j.Needs, n.Job)
	}
	if def.Image != nil {
		j.Image = def.Image.Name
	}
	return j, nil
}

// environmentSlug is GitLab's CI_ENVIRONMENT_SLUG, simplified: lower
// case, runs of characters other than a-z and 0-9 as "-", at most 24
// bytes, starting with a letter (GitLab also adds a random suffix when it
// shortens a name; Gantry does not).
func environmentSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if b.Len() == 0 && r <= '9' {
				b.WriteString("env-")
			}
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > 24 {
		s = s[:24]
	}
	return strings.Trim(s, "-")
}

// environmentTier is deployment_tier, or the tier GitLab guesses from the
// environment's name.
func environmentTier(env *pipeline.Environment) string {
	if env.DeploymentTier != "" {
		return env.DeploymentTier
	}
	name := strings.ToLower(env.Name)
	has := func(words ...string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(name, w) })
	}
	switch {
	case has("prod", "live"):
		return "production"
	case has("stag", "model", "demo", "pre"):
		return "staging"
	case has("test", "qa"):
		return "testing"
	case has("dev", "review", "trunk"):
		return "development"
	}
	return "other"
}

// caches resolves a job's `cache:` keys as GitLab does: `key:` with the
// job's variables expanded ("default" when unset or empty); `key: files:`
// a digest of those files of the source (GitLab uses the commits that
// last changed them; Gantry, which sees no history, their contents), with
// `prefix` in front, or "default" when none of them exists. Fallback keys
// follow.
func caches(in []pipeline.Cache, vars []*gantryv1.Variable, src *tree) []*gantryv1.CacheSpec {
	values := map[string]string{}
	for _, v := range vars {
		values[v.GetKey()] = v.GetValue()
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return values[k] }) }
	var out []*gantryv1.CacheSpec
	for _, c := range in {
		key := expand(c.Key)
		if len(c.KeyFiles) > 0 {
			h := sha256.New()
			found := false
			for _, f := range c.KeyFiles {
				if src == nil {
					break
				}
				if sum, ok := src.sums[path.Clean(strings.TrimPrefix(f, "./"))]; ok {
					fmt.Fprintf(h, "%s\x00%s\n", f, sum)
					found = true
				}
			}
			key = "default"
			if found {
				key = hex.EncodeToString(h.Sum(nil))[:40]
			}
			if p := expand(c.KeyPrefix); p != "" {
				key = p + "-" + key
			}
		}
		if key == "" {
			key = "default"
		}
		spec := &gantryv1.CacheSpec{Keys: []string{key}, Paths: c.Paths, Untracked: c.Untracked, Policy: c.Policy, When: c.When}
		for _, fb := range c.FallbackKeys {
			if k := expand(fb); k != "" && !slices.Contains(spec.Keys, k) {
				spec.Keys = append(spec.Keys, k)
			}
		}
		out = append(out, spec)
	}
	return out
}

func vars(in []pipeline.Variable, masked map[string]bool) []*gantryv1.Variable {
	out := make([]*gantryv1.Variable, 0, len(in))
	for _, v := range in {
		out = append(out, &gantryv1.Variable{Key: v.Key, Value: v.Value, Masked: masked[v.Key], Raw: v.Raw})
	}
	return out
}

// jobPredefined returns the predefined variables that depend on the job
// and run ids, which the plan cannot know.
func jobPredefined(run *model.Run, jobID int64, pj *pipeline.PlanJob) []*gantryv1.Variable {
	kv := [][2]string{
		{"CI_PIPELINE_ID", strconv.FormatInt(run.ID, 10)},
		{"CI_PIPELINE_IID", strconv.FormatInt(run.ID, 10)},
		{"CI_JOB_ID", strconv.FormatInt(jobID, 10)},
		{"CI_JOB_NAME", pj.Name},
		{"CI_JOB_STAGE", pj.Stage},
	}
	if run.Name != "" {
		kv = append(kv, [2]string{"CI_PIPELINE_NAME", run.Name})
	}
	if env := pj.Environment; env != nil && env.Name != "" {
		action := cmp.Or(env.Action, "start")
		kv = append(kv, [2]string{"CI_ENVIRONMENT_NAME", env.Name}, [2]string{"CI_ENVIRONMENT_SLUG", environmentSlug(env.Name)},
			[2]string{"CI_ENVIRONMENT_ACTION", action}, [2]string{"CI_ENVIRONMENT_TIER", environmentTier(env)})
		if env.URL != "" {
			kv = append(kv, [2]string{"CI_ENVIRONMENT_URL", env.URL})
		}
	}
	if pj.NodeTotal > 0 {
		kv = append(kv, [2]string{"CI_NODE_INDEX", strconv.Itoa(pj.NodeIndex)}, [2]string{"CI_NODE_TOTAL", strconv.Itoa(pj.NodeTotal)})
	}
	out := make([]*gantryv1.Variable, 0, len(kv))
	for _, p := range kv {
		out = append(out, &gantryv1.Variable{Key: p[0], Value: p[1]})
	}
	return out
}

// artifactsSpec is the runner's view of a job's `artifacts:`, nil when it
// keeps nothing.
func artifactsSpec(a *pipeline.Artifacts) *gantryv1.ArtifactsSpec {
	if a == nil {
		return nil
	}
	spec := &gantryv1.ArtifactsSpec{Paths: a.Paths, Exclude: a.Exclude, Untracked: a.Untracked, When: a.When, Name: a.Name}
	r := a.Reports
	if len(r.JUnit) > 0 {
		spec.Reports = append(spec.Reports, &gantryv1.ReportSpec{Kind: "junit", Paths: r.JUnit})
	}
	if c := r.CoverageReport; c != nil && c.Path != "" {
		spec.Reports = append(spec.Reports, &gantryv1.ReportSpec{Kind: "coverage_report", Paths: []string{c.Path}, Format: c.Format})
	}
	if len(r.Dotenv) > 0 {
		spec.Reports = append(spec.Reports, &gantryv1.ReportSpec{Kind: "dotenv", Paths: r.Dotenv})
	}
	for _, kind := range slices.Sorted(maps.Keys(r.Other)) {
		spec.Reports = append(spec.Reports, &gantryv1.ReportSpec{Kind: kind, Paths: r.Other[kind]})
	}
	if len(spec.Paths) == 0 && !spec.Untracked && len(spec.Reports) == 0 {
		return nil
	}
	return spec
}
