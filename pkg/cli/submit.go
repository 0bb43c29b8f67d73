package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// pipelineFiles are looked for in DIR, in this order, when -f is not given.
var pipelineFiles = []string{".gantry.yml", ".gitlab-ci.yml"}

type submitOptions struct {
	file     string
	excludes []string
	ref      string
	sha      string
	project  string
	vars     []string
	secrets  []string
	detach   bool
	plain    bool
	// The facts GitLab's rules test.
	tag           bool
	source        string
	defaultBranch string
	changed       []string
}

func (a *app) submitCommand() *cobra.Command {
	var o submitOptions
	cmd := &cobra.Command{
		Use:   "submit [DIR]",
		Short: "Submit the pipeline of DIR (default .) with DIR as its source, and follow the run",
		Long: `Submit checks DIR/.gantry.yml (else DIR/.gitlab-ci.yml, or -f FILE) locally,
uploads DIR as the run's source and follows the run as gantry watch does: on
a terminal a live view of the jobs redrawn in place, elsewhere (or with
--plain) each job's status changes and log. It exits 0 when the run passes, 1 when it fails or is
canceled, 3 when it waits for a manual job to be played (gantry play), 2 on
any other error. Ctrl-C stops following; the run goes on.`,
		Example: `  gantry submit                          # the pipeline of ., followed to its end
  gantry submit ../web -f ci/pipeline.yml
  gantry submit --var DEPLOY_ENV=staging --secret API_TOKEN
  gantry submit --detach                 # print the run number and return
  gantry submit --ref v1.4.0 --tag --source web`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return a.submit(cmd.Context(), dir, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "pipeline file, relative to DIR (default .gantry.yml, else .gitlab-ci.yml)")
	f.StringArrayVar(&o.excludes, "exclude", nil, "leave paths matching this glob out of the source (repeatable; .git is sent unless excluded)")
	f.StringVar(&o.ref, "ref", "", "git ref of the run (default: the current branch of DIR)")
	f.StringVar(&o.sha, "sha", "", "commit of the run (default: HEAD of DIR)")
	f.StringVar(&o.project, "project", "", "project name (default: the name of DIR)")
	f.StringArrayVar(&o.vars, "var", nil, "KEY=VALUE variable for every job (repeatable)")
	f.StringArrayVar(&o.secrets, "secret", nil, "masked variable for every job: KEY=VALUE, or KEY to take the value from the environment; its value (8+ characters) is replaced by [MASKED] in logs (repeatable)")
	f.BoolVarP(&o.detach, "detach", "d", false, "print the run number and return without following it")
	f.BoolVar(&o.plain, "plain", false, "on a terminal too, print a line per job change and the jobs' logs instead of the live view")
	f.BoolVar(&o.tag, "tag", false, "--ref names a tag (CI_COMMIT_TAG) rather than a branch")
	f.StringVar(&o.source, "source", "push", "pipeline source for rules: push, web, api, schedule, merge_request_event...")
	f.StringVar(&o.defaultBranch, "default-branch", "main", "the project's default branch (CI_DEFAULT_BRANCH)")
	f.StringArrayVar(&o.changed, "changed", nil, "a file the change touches, for rules:changes (repeatable; without it changes: always matches, as for a new branch)")
	return cmd
}

func (a *app) submit(ctx context.Context, dir string, o submitOptions) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(absDir); err != nil || !fi.IsDir() {
		return usagef("%s is not a directory", dir)
	}
	vars, err := parseVars(o.vars)
	if err != nil {
		return err
	}
	secrets, err := parseSecrets(o.secrets, os.LookupEnv)
	if err != nil {
		return err
	}
	vars = append(vars, secrets...)
	if o.tag && o.ref == "" {
		return usagef("--tag needs --ref TAG")
	}
	facts := &pipeline.PlanInput{Ref: cmp.Or(o.ref, gitRef(ctx, absDir)), IsTag: o.tag, Source: o.source, DefaultBranch: o.defaultBranch}
	for _, v := range vars {
		facts.Variables = append(facts.Variables, pipeline.Variable{Key: v.GetKey(), Value: v.GetValue()})
	}
	pf, pl, err := parseLocal(dir, o.file, facts)
	if err != nil {
		if pf == nil {
			return err
		}
		return a.invalidPipeline(pf.shown, err)
	}
	// The coordinator parses the same file and repeats these warnings,
	// named by pipeline_path; remember them so they are shown once.
	known := map[string]bool{}
	for _, w := range pl.Warnings() {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
		w.Pos.File = pf.rel
		known[w.String()] = true
	}

	hdr := header(ctx, absDir, pf, o, vars)
	client, err := a.pipelineClient()
	if err != nil {
		return err
	}
	resp, err := upload(ctx, client, hdr, absDir, o.excludes)
	if err != nil {
		return err
	}
	run := resp.GetRun()
	fmt.Fprintf(a.stdout, "Run #%d submitted: %s in %s\n", run.GetId(),
		plural(len(resp.GetJobs()), "job", "jobs"), plural(countStages(resp.GetJobs()), "stage", "stages"))
	for _, w := range resp.GetWarnings() {
		if !known[w] {
			fmt.Fprintf(a.stderr, "warning: %s\n", w)
		}
	}
	if o.detach {
		fmt.Fprintf(a.stdout, "check on it with: gantry runs %d\n", run.GetId())
		return nil
	}
	return a.followRun(ctx, client, run.GetId(), a.stdoutTTY && !o.plain)
}

// header describes the submission; ref and sha come from git unless given.
func header(ctx context.Context, absDir string, pf *pipelineFile, o submitOptions, vars []*gantryv1.Variable) *gantryv1.SubmitHeader {
	hdr := &gantryv1.SubmitHeader{
		Pipeline:          pf.data,
		PipelinePath:      pf.rel,
		Ref:               o.ref,
		Sha:               o.sha,
		Submitter:         submitter(),
		ProjectName:       cmp.Or(o.project, filepath.Base(absDir)),
		Variables:         vars,
		RefIsTag:          o.tag,
		Source:            o.source,
		DefaultBranch:     o.defaultBranch,
		ChangedFiles:      o.changed,
		ChangedFilesKnown: len(o.changed) > 0,
	}
	if hdr.Ref == "" {
		hdr.Ref = gitRef(ctx, absDir)
	}
	if hdr.Sha == "" {
		hdr.Sha = git(ctx, absDir, "rev-parse", "HEAD")
	}
	return hdr
}

// followRun follows a run to its end and prints the summary. The error
// carries the exit code: 1 for a failed or canceled run, 130 on Ctrl-C.
// live shows the run redrawn in place, for a terminal; otherwise each job
// change is a line and the jobs' logs follow.
func (a *app) followRun(ctx context.Context, client gantryv1.PipelineServiceClient, runID int64, live bool) error {
	out, errs := &printer{w: a.stdout}, &printer{w: a.stderr}
	f := newFollower(client, runID, out, errs, a.color)
	if live {
		f.view = &liveView{w: a.stdout, now: a.now, color: a.color, size: func() (int, int) { return terminalSize(a.stdout) }}
	}
	last, err := f.follow(ctx)
	if err != nil && ctx.Err() != nil {
		return &exitError{code: ExitInterrupted, msg: fmt.Sprintf("still running: gantry runs %d", runID)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	if live {
		// The last frame lists the jobs already; point at the logs it
		// left out.
		if err := printLiveOutcome(a.stdout, runID, last, a.now()); err != nil {
			return err
		}
	} else if err := printRunSummary(a.stdout, last.GetRun(), last.GetJobs()); err != nil {
		return err
	}
	switch last.GetRun().GetStatus() {
	case gantryv1.RunStatus_RUN_STATUS_SUCCESS:
	case gantryv1.RunStatus_RUN_STATUS_BLOCKED:
		var manual []string
		for _, j := range last.GetJobs() {
			if j.GetStatus() == gantryv1.JobStatus_JOB_STATUS_MANUAL && !j.GetAllowFailure() {
				manual = append(manual, fmt.Sprintf("gantry play %d %q", runID, j.GetName()))
			}
		}
		return &exitError{code: ExitBlocked, msg: fmt.Sprintf("run #%d waits for a manual job; start it with: %s, then follow it with: gantry watch %d",
			runID, strings.Join(manual, " or "), runID)}
	default:
		return &exitError{code: ExitRunFailed}
	}
	return nil
}

// invalidPipeline prints every problem Parse found and ends with exit 2.
func (a *app) invalidPipeline(path string, err error) error {
	var list pipeline.ErrorList
	if !errors.As(err, &list) {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range list {
		fmt.Fprintln(a.stderr, e)
	}
	return &exitError{code: ExitError, msg: fmt.Sprintf("gantry: %s is invalid (%s); nothing was submitted",
		path, plural(len(list), "error", "errors"))}
}

// pipelineFile is the pipeline file to submit.
type pipelineFile struct {
	shown string // as the user would name it, for local messages
	rel   string // slash-separated and relative to DIR: pipeline_path
	data  []byte
}

// findPipeline reads the pipeline file: file (relative to DIR) when given,
// else the first of pipelineFiles that exists in DIR.
func findPipeline(dir, absDir, file string) (*pipelineFile, error) {
	candidates := pipelineFiles
	if file != "" {
		candidates = []string{file}
	}
	for _, name := range candidates {
		abs := name
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(absDir, name)
		}
		rel, err := filepath.Rel(absDir, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, usagef("pipeline file %s is outside %s", name, dir)
		}
		data, err := os.ReadFile(abs)
		if errors.Is(err, os.ErrNotExist) && file == "" {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &pipelineFile{shown: filepath.Join(dir, rel), rel: filepath.ToSlash(rel), data: data}, nil
	}
	return nil, usagef("no pipeline file in %s: add %s (or %s), or name one with -f",
		dir, pipelineFiles[0], pipelineFiles[1])
}

// parseVars turns KEY=VALUE arguments into variables.
func parseVars(args []string) ([]*gantryv1.Variable, error) {
	vars := make([]*gantryv1.Variable, 0, len(args))
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--var %q: want KEY=VALUE", kv)
		}
		vars = append(vars, &gantryv1.Variable{Key: k, Value: v})
	}
	return vars, nil
}

// minSecretLen is GitLab's minimum length of a masked value: shorter ones
// would mask ordinary words in logs.
const minSecretLen = 8

// parseSecrets turns KEY=VALUE or KEY (value from the environment)
// arguments into masked variables.
func parseSecrets(args []string, lookup func(string) (string, bool)) ([]*gantryv1.Variable, error) {
	vars := make([]*gantryv1.Variable, 0, len(args))
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usagef("--secret %q: want KEY=VALUE, or KEY to read $KEY", kv)
		}
		if !ok {
			if v, ok = lookup(k); !ok {
				return nil, usagef("--secret %s: $%s is not set; export it or give %s=VALUE", k, k, k)
			}
		}
		if len(v) < minSecretLen {
			return nil, usagef("--secret %s: a masked value needs at least %d characters, this one has %d", k, minSecretLen, len(v))
		}
		vars = append(vars, &gantryv1.Variable{Key: k, Value: v, Masked: true})
	}
	return vars, nil
}

func countStages(jobs []*gantryv1.Job) int {
	stages := map[string]bool{}
	for _, j := range jobs {
		stages[j.GetStage()] = true
	}
	return len(stages)
}

// submitter is $USER@hostname.
func submitter() string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, _ := os.Hostname()
	return cmp.Or(name, "unknown") + "@" + cmp.Or(host, "unknown")
}

// gitRef is DIR's current branch, or "" when detached or not in git.
func gitRef(ctx context.Context, dir string) string {
	if ref := git(ctx, dir, "rev-parse", "--abbrev-ref", "HEAD"); ref != "HEAD" {
		return ref
	}
	return ""
}

// git runs a git query in dir and returns its trimmed output, or "" when
// git is missing or dir is not in a repository: both are normal for a
// submit and just leave the field empty.
func git(ctx context.Context, dir string, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
