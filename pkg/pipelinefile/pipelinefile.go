// Package pipelinefile reads a pipeline file of either format Gantry
// runs: a GitLab CI file (package pipeline) or a GitHub Actions workflow
// (package ghworkflow). The coordinator at submit and the CLI's submit,
// lint and plan use it, so both formats are accepted everywhere alike.
package pipelinefile

import (
	"github.com/gantry-ci/gantry/pkg/ghworkflow"
	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// File is a parsed pipeline file; exactly one of GitLab and GitHub is set.
type File struct {
	GitLab *pipeline.Pipeline
	GitHub *ghworkflow.Workflow
}

// Parse parses data, read from path: a GitHub Actions workflow when
// ghworkflow.IsWorkflow says so (by path under .github/workflows/, or by
// its top-level keys), else a GitLab CI file with opts (includes, facts).
// Problems with the file are a pipeline.ErrorList.
func Parse(path string, data []byte, opts pipeline.ParseOptions) (*File, error) {
	if ghworkflow.IsWorkflow(path, data) {
		w, err := ghworkflow.Parse(path, data)
		if err != nil {
			return nil, err
		}
		return &File{GitHub: w}, nil
	}
	p, err := pipeline.ParseWith(path, data, opts)
	if err != nil {
		return nil, err
	}
	return &File{GitLab: p}, nil
}

// Format is "gitlab" or "github".
func (f *File) Format() string {
	if f.GitHub != nil {
		return "github"
	}
	return "gitlab"
}

// Warnings are what the file does that is accepted but ignored or
// approximated, by position.
func (f *File) Warnings() []pipeline.Warning {
	if f.GitHub != nil {
		return f.GitHub.Warnings()
	}
	return f.GitLab.Warnings
}

// Plan decides what runs for a ref. secrets are the names of the masked
// variables of the run, which a workflow's `secrets.NAME` reads.
func (f *File) Plan(in pipeline.PlanInput, secrets []string) (*pipeline.Plan, error) {
	if f.GitHub != nil {
		return f.GitHub.Plan(in, secrets)
	}
	return f.GitLab.Plan(in)
}

// Jobs counts the job definitions of the file (before rules and
// matrices), 0 when it defines none to run.
func (f *File) Jobs() int {
	if f.GitHub != nil {
		return f.GitHub.JobCount()
	}
	return len(f.GitLab.Jobs)
}
