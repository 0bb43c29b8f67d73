package pipeline

import (
	"slices"
	"time"
)

// Pipeline is a parsed pipeline file, with its includes merged, `extends`
// and `!reference` resolved and `default:` applied: what may run, in which
// stages. Which jobs do run depends on the ref; see Plan.
type Pipeline struct {
	// Stages in run order; .pre is always first and .post always last.
	Stages []string
	// Variables are the pipeline-level variables, in file order.
	Variables []Variable
	// Workflow is nil when the file has no `workflow:`.
	Workflow *Workflow
	// Jobs are the visible jobs in file order; hidden `.name` jobs
	// (templates) are not included. A job with `parallel:` is one Job here
	// and several jobs in a Plan.
	Jobs []*Job
	// Files are the files read: the pipeline file, then every included file
	// in the order it was first included.
	Files []string
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

// Workflow is `workflow:`: whether a pipeline is created, and its name.
type Workflow struct {
	// Name is `workflow:name`, with $VARIABLES not yet expanded.
	Name string
	// Rules are `workflow:rules`; with UsesRules false every pipeline is
	// created. A rule's When is "", "always" or "never".
	Rules     []*Rule
	UsesRules bool
	// AutoCancel is `workflow:auto_cancel`, nil when not set.
	AutoCancel *AutoCancel
}

// AutoCancel is `auto_cancel:`: what a new pipeline or a failed job cancels.
type AutoCancel struct {
	// OnNewCommit is "", "conservative", "interruptible" or "none".
	OnNewCommit string
	// OnJobFailure is "", "none" or "all".
	OnJobFailure string
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
	// InheritVariables says which pipeline-level variables the job gets
	// (`inherit:variables`).
	InheritVariables Inheritance
	// Tags select runners; $VARIABLES in them are expanded by Plan.
	Tags []string
	// Retry is nil when neither the job nor `default:` sets `retry:`.
	Retry *Retry

	// Rules decide whether the job is in a pipeline when UsesRules is set
	// (`rules: []` is a job that never runs). Otherwise Only and Except
	// do; a nil Only means GitLab's default, branches and tags, or no
	// condition at all when the pipeline has workflow:rules.
	Rules     []*Rule
	UsesRules bool
	Only      *Policy
	Except    *Policy

	// When is "on_success", "on_failure", "always", "manual" or
	// "delayed"; StartIn is set with "delayed".
	When    string
	StartIn time.Duration
	// AllowFailure is nil when not written: false, except for a job whose
	// own `when:` is manual (see Plan).
	AllowFailure *AllowFailure
	// ManualConfirmation is the text to confirm before running a manual job.
	ManualConfirmation string

	// Needs are the jobs this job waits for, instead of the earlier stages,
	// when UsesNeeds is set; `needs: []` starts the job at once.
	Needs     []Need
	UsesNeeds bool
	// Dependencies are the jobs whose artifacts the job downloads, when
	// UsesDependencies is set; otherwise every earlier job's (or, with
	// needs, the needed jobs' with artifacts).
	Dependencies     []string
	UsesDependencies bool

	// Parallel is nil for a single job.
	Parallel *Parallel
	// Timeout is 0 when not set: the runner's or project's default.
	Timeout       time.Duration
	Artifacts     *Artifacts
	Cache         []Cache
	Coverage      string // a /regex/ as written; "" when not set
	Environment   *Environment
	ResourceGroup string
	// Interruptible is nil when neither the job nor `default:` sets it.
	Interruptible *bool
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

// Inheritance says which pipeline-level values a job inherits. The zero
// value inherits everything.
type Inheritance struct {
	// None is set by `false`.
	None bool
	// Only, when not empty, lists the names inherited.
	Only []string
}

// Includes reports whether name is inherited.
func (in Inheritance) Includes(name string) bool {
	switch {
	case in.None:
		return false
	case len(in.Only) > 0:
		return slices.Contains(in.Only, name)
	}
	return true
}

// Rule is one entry of `rules:` (of a job, of `workflow:` or of an
// include). It matches when every condition it has is true; a rule
// without conditions always matches.
type Rule struct {
	Pos Pos
	// If is the `if:` expression as written, "" when absent.
	If string
	// Changes is nil when absent.
	Changes *Changes
	// Exists are the `exists:` globs, nil when absent.
	Exists []string
	// When is "" when the rule does not set it: the job's own `when:`
	// applies.
	When    string
	StartIn time.Duration
	// AllowFailure is nil when the rule does not set it.
	AllowFailure *bool
	Variables    []Variable
	// Needs replace the job's needs when UsesNeeds is set.
	Needs         []Need
	UsesNeeds     bool
	Interruptible *bool
	// AutoCancel is for workflow rules only.
	AutoCancel *AutoCancel

	ifx expression // If, parsed
}

// Changes is `changes:`: true when a file matching one of Paths changed,
// compared with CompareTo (a ref) when set.
type Changes struct {
	Paths     []string
	CompareTo string
}

// Policy is `only:` or `except:` in its mapping form (a list is Refs).
type Policy struct {
	Pos  Pos
	Refs []string
	// Variables are expressions as written; any true one satisfies them.
	Variables []string
	Changes   *Changes

	refs []refPattern
	vars []expression
}

// AllowFailure is `allow_failure:`. With ExitCodes, only those exit codes
// are allowed to fail.
type AllowFailure struct {
	Allowed   bool
	ExitCodes []int
}

// Need is one entry of `needs:`.
type Need struct {
	Pos Pos
	Job string
	// Artifacts is whether the needed job's artifacts are downloaded
	// (default true).
	Artifacts bool
	// Optional needs are dropped when the job is not in the pipeline.
	Optional bool
	// Matrix, for a job with parallel:matrix, selects the instances needed
	// (`needs:parallel:matrix`); empty means all of them.
	Matrix []MatrixRow
}

// Parallel is `parallel:`: Count copies of the job, or one job per
// combination of each Matrix row's values.
type Parallel struct {
	Count  int
	Matrix []MatrixRow
}

// MatrixRow is one entry of `parallel:matrix`.
type MatrixRow []MatrixVar

// MatrixVar is one variable of a matrix row and its values.
type MatrixVar struct {
	Name   string
	Values []string
}

// Artifacts is `artifacts:`.
type Artifacts struct {
	Paths     []string
	Exclude   []string
	Untracked bool
	Name      string
	// When is "on_success" (the default), "on_failure" or "always".
	When string
	// ExpireIn is 0 when not set (the instance default); ExpireNever is
	// `expire_in: never`.
	ExpireIn    time.Duration
	ExpireNever bool
	ExposeAs    string
	// Public is false for `public: false` or `access: none|developer`.
	Public bool
	// Access is "all", "developer" or "none".
	Access  string
	Reports Reports
}

// Reports is `artifacts:reports`.
type Reports struct {
	JUnit          []string
	CoverageReport *CoverageReport
	Dotenv         []string
	// Other are the report types only GitLab's UI reads (sast, codequality,
	// ...), by type: kept as artifacts, not interpreted.
	Other map[string][]string
}

// CoverageReport is `artifacts:reports:coverage_report`.
type CoverageReport struct {
	Format string // "cobertura" or "jacoco" (GitLab's), "gocover" or "lcov"
	Path   string
}

// Cache is one entry of `cache:`.
type Cache struct {
	// Key is the key as written ("default" when not set); with KeyFiles
	// the key is computed from those files' contents, prefixed with
	// KeyPrefix.
	Key       string
	KeyFiles  []string
	KeyPrefix string
	Paths     []string
	Untracked bool
	Unprotect bool
	// Policy is "pull-push" (the default), "pull", "push", or a $VARIABLE
	// holding one of them.
	Policy string
	// When is "on_success" (the default), "on_failure" or "always".
	When         string
	FallbackKeys []string
}

// Environment is `environment:`.
type Environment struct {
	Name string
	URL  string
	// Action is "start" (the default), "prepare", "stop", "verify" or
	// "access".
	Action         string
	DeploymentTier string
	OnStop         string
	// AutoStopIn is as written: a duration, "never", or "" when not set.
	AutoStopIn string
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
