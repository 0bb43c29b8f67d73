package pipeline

import "slices"

// Pipeline is a parsed pipeline file: what to run, in which stages.
type Pipeline struct {
	// Stages in run order; .pre is always first and .post always last.
	Stages []string
	// Variables are the pipeline-level variables, in file order.
	Variables []Variable
	// Jobs are the visible jobs in file order; hidden `.name` jobs
	// (templates) are not included.
	Jobs []*Job
	// Warnings are accepted-but-noteworthy findings, sorted by position.
	Warnings []Warning
}

// Job returns the visible job called name, or nil.
func (p *Pipeline) Job(name string) *Job {
	for _, j := range p.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// Variable is a CI/CD variable defined in the file.
type Variable struct {
	Key, Value, Description string
	// Raw is set by `expand: false`: the value is used as is, without
	// expanding $VARIABLES in it.
	Raw bool
	// Options are the values offered when running the pipeline by hand;
	// Value is one of them.
	Options []string
}

// Job is one visible job with `extends` resolved and `default:` applied.
type Job struct {
	Name  string
	Stage string
	// Pos is where the job's key is written.
	Pos Pos
	// Image is nil when neither the job nor `default:` (or the deprecated
	// top-level `image`) sets one; the runner then uses its own default.
	Image        *Image
	Services     []Service
	BeforeScript []string
	Script       []string
	AfterScript  []string
	// Variables are the job's own variables, in file order; pipeline-level
	// variables are in Pipeline.Variables.
	Variables []Variable
	Tags      []string
	// Retry is nil when neither the job nor `default:` sets `retry:`.
	Retry *Retry
}

// Image is the container image a job runs in.
type Image struct {
	Name       string
	Entrypoint []string
	// EntrypointSet tells an empty override (`entrypoint: [""]` or `[]`)
	// apart from no override.
	EntrypointSet bool
}

// Service is a container started next to the job, reachable by its alias.
type Service struct {
	Name          string
	Alias         string
	Entrypoint    []string
	EntrypointSet bool
	Command       []string
	Variables     []Variable
}

func (i *Image) clone() *Image {
	if i == nil {
		return nil
	}
	c := *i
	c.Entrypoint = slices.Clone(i.Entrypoint)
	return &c
}

func cloneServices(s []Service) []Service {
	if s == nil {
		return nil
	}
	out := make([]Service, len(s))
	for i, svc := range s {
		svc.Entrypoint = slices.Clone(svc.Entrypoint)
		svc.Command = slices.Clone(svc.Command)
		svc.Variables = slices.Clone(svc.Variables)
		out[i] = svc
	}
	return out
}
