package ghworkflow

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/pkg/expr/actions"
	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// builder builds one plan job: a job of the file, or one combination of
// its matrix.
type builder struct {
	pl     *planner
	j      *job
	when   string
	combo  combination
	index  int
	total  int
	matrix bool
	// failFast and maxParallel are the strategy's, for matrix jobs.
	failFast    bool
	maxParallel int

	ctx     *actions.Context // the job-level contexts
	jobCtx  map[string]any   // the job context, without status
	name    string
	display string
	// env is the env context of the steps (workflow and job env) with the
	// values known before the run; envRT holds the names whose values are
	// known only while the job runs (they read secrets...).
	env   map[string]any
	envRT map[string]bool
	// exported is the job's env, exported at the start of the script.
	exported []envValue
	// secretsRead are the secrets the script reads, in order.
	secretsRead []string
	steps       []stepState
	cmds        []string
	ok          bool

	uploads   []string // artifact names
	retention int      // days, 0 for the default
	downloads []download
}

// stepState is what later steps need to know about a step.
type stepState struct {
	s *step
	// noop steps (actions Gantry does itself) have no outputs.
	noop bool
	coe  bool
}

// download is a download-artifact step: the artifacts it selects.
type download struct {
	name    string // "" for all
	pattern *filterPattern
}

func (b *builder) failf(pos pipeline.Pos, format string, args ...any) {
	b.pl.d.Errorf(pos, format, args...)
	b.ok = false
}

func (b *builder) build() *instance {
	pl, j := b.pl, b.j
	b.ok = true
	b.setupContexts()
	sc := &scope{ctx: b.ctx}

	// Names: the plan's is the id and, for a matrix, the combination;
	// the display name is only shown.
	label := ""
	if b.matrix {
		label = " (" + b.combo.label() + ")"
	}
	b.name = pl.uniqueName(j.id + label)
	b.display = j.id
	if j.name != nil {
		if s, ok := pl.text(j.path+".name", j.name, sc); ok {
			b.display = s
			if b.matrix && !slices.ContainsFunc(j.name.refs(), func(r string) bool { return strings.HasPrefix(r, "matrix") }) {
				b.display += label
			}
		}
	} else {
		b.display += label
	}

	pj := &pipeline.PlanJob{
		Name: b.name, Stage: stage, StageIndex: slices.Index(planStages, stage), When: b.when,
		UsesNeeds: true, Needs: []pipeline.PlanNeed{}, Dependencies: []string{},
	}
	if b.matrix {
		pj.MatrixGroup, pj.FailFast, pj.MaxParallel = j.id, b.failFast, b.maxParallel
	}
	pj.Tags = b.tags(sc)
	b.jobEnv()
	image := b.image(sc)
	services := b.services(sc)
	if j.timeout != nil {
		if m, ok := pl.number(j.path+".timeout-minutes", j.timeout, sc); ok {
			if m <= 0 {
				b.failf(j.timeout.n.Pos, "%s.timeout-minutes must be more than 0", j.path)
			}
			pj.Timeout = time.Duration(m * float64(time.Minute)).Round(time.Second)
		}
	}
	if j.continueOnError != nil {
		if v, ok := pl.boolean(j.path+".continue-on-error", j.continueOnError, sc); ok {
			pj.AllowFailure = v
		}
	}
	if e := j.environment; e != nil {
		env := &pipeline.Environment{Action: "start"}
		env.Name, _ = pl.text(j.path+".environment", e.name, sc)
		if e.url != nil {
			env.URL, _ = pl.text(j.path+".environment.url", e.url, sc)
		}
		pj.Environment = env
	}
	if j.concurrency != nil {
		pj.ResourceGroup, _ = pl.text(j.path+".concurrency", j.concurrency, sc)
	}

	b.script()
	if b.budget(); !b.ok || pl.d.failed() {
		return nil
	}
	b.needsAndArtifacts(pj)
	pj.Variables = b.variables()
	pj.Job = &pipeline.Job{
		Name:             b.name,
		Stage:            stage,
		Pos:              j.pos,
		Image:            image,
		Services:         services,
		Script:           b.cmds,
		Variables:        pj.Variables,
		Tags:             pj.Tags,
		When:             b.when,
		AllowFailure:     &pipeline.AllowFailure{Allowed: pj.AllowFailure},
		UsesNeeds:        true,
		Dependencies:     pj.Dependencies,
		UsesDependencies: true,
		Timeout:          pj.Timeout,
		Artifacts:        pj.Artifacts,
		Environment:      pj.Environment,
		ResourceGroup:    pj.ResourceGroup,
	}
	for _, n := range pj.Needs {
		pj.Job.Needs = append(pj.Job.Needs, pipeline.Need{Pos: j.pos, Job: n.Job, Artifacts: n.Artifacts})
	}
	return &instance{pj: pj, uploads: b.uploads}
}

// budget charges the script to the plan's budget.
func (b *builder) budget() {
	n := 0
	for _, c := range b.cmds {
		n += len(c)
	}
	if b.pl.budget -= n; b.pl.budget < 0 {
		b.failf(b.j.pos, "%s: the plan is too big: its scripts are more than %d MiB", b.j.path, maxScriptBudget>>20)
	}
}

func (b *builder) setupContexts() {
	pl, j := b.pl, b.j
	b.ctx = pl.baseContext()
	b.ctx.Contexts["github"] = pl.githubFor(j)
	b.ctx.Contexts["needs"] = pl.needsContext(j, b.when)
	b.ctx.Contexts["runner"] = map[string]any{"os": "Linux", "arch": "", "name": "", "environment": "self-hosted", "debug": ""}
	matrix := map[string]any{}
	if b.matrix {
		matrix = b.combo.context()
	}
	b.ctx.Contexts["matrix"] = matrix
	maxParallel := b.maxParallel
	if maxParallel == 0 {
		maxParallel = b.total
	}
	b.ctx.Contexts["strategy"] = map[string]any{
		"fail-fast": b.failFast || !b.matrix, "job-index": float64(b.index), "job-total": float64(b.total), "max-parallel": float64(maxParallel),
	}
	services := map[string]any{}
	for _, s := range j.services {
		ports := map[string]any{}
		for _, p := range s.ports {
			ports[p] = p
		}
		services[s.id] = map[string]any{"id": "", "network": "", "ports": ports}
	}
	b.jobCtx = map[string]any{"container": map[string]any{"id": "", "network": ""}, "services": services}
	b.ctx.Contexts["job"] = b.jobCtx
}

// linuxLabels are the runs-on labels every Gantry runner satisfies.
var linuxLabels = regexp.MustCompile(`^(self-hosted|linux|x64|ubuntu-latest|ubuntu-\d+\.\d+)$`)

// tags turns runs-on into runner tags: self-hosted and the labels of
// GitHub's Linux x64 runners add none (Gantry runners are Linux with
// Docker); any other label (windows-latest, macos-14, gpu, arm64...) is
// a tag, so that only runners that have it take the job.
func (b *builder) tags(sc *scope) []string {
	j := b.j
	var tags []string
	add := func(label string) {
		label = strings.TrimSpace(label)
		if label == "" || linuxLabels.MatchString(strings.ToLower(label)) || slices.Contains(tags, label) {
			return
		}
		tags = append(tags, label)
	}
	for _, t := range j.runsOn.labels {
		v, ok := b.pl.value(j.path+".runs-on", t, sc)
		if !ok {
			continue
		}
		switch x := v.(type) {
		case []any:
			for _, item := range x {
				add(displayValue(item))
			}
		case map[string]any:
			b.failf(t.n.Pos, "%s: `%s` gives a mapping; runs-on takes labels", j.path, t.n.Value)
		default:
			add(displayValue(x))
		}
	}
	return tags
}

func (b *builder) image(sc *scope) *pipeline.Image {
	if b.j.image == nil {
		return nil
	}
	name, ok := b.pl.text(b.j.path+".container", b.j.image, sc)
	if !ok || strings.TrimSpace(name) == "" {
		return nil // GitHub runs a job whose image is '' on the runner
	}
	return &pipeline.Image{Name: strings.TrimPrefix(name, "docker://")}
}

func (b *builder) services(sc *scope) []pipeline.Service {
	var out []pipeline.Service
	for _, s := range b.j.services {
		path := b.j.path + ".services." + s.id
		image, ok := b.pl.text(path, s.image, sc)
		if !ok || strings.TrimSpace(image) == "" {
			continue // GitHub skips a service whose image is ''
		}
		svc := pipeline.Service{Name: strings.TrimPrefix(image, "docker://"), Alias: s.id}
		ctx := cloneContext(sc.ctx)
		ctx.Contexts["env"] = b.envContextFor(nil)
		for _, e := range s.env {
			v, ok := b.pl.text(path+".env."+e.key, e.value, &scope{ctx: ctx})
			if ok {
				svc.Variables = append(svc.Variables, pipeline.Variable{Key: e.key, Value: v, Raw: true})
			}
		}
		out = append(out, svc)
	}
	return out
}

func cloneContext(c *actions.Context) *actions.Context {
	return &actions.Context{Contexts: maps.Clone(c.Contexts), Status: c.Status}
}

// envContextFor returns the env context with extra variables on top.
func (b *builder) envContextFor(extra map[string]any) map[string]any {
	out := make(map[string]any, len(b.env)+len(extra))
	maps.Copy(out, b.env)
	maps.Copy(out, extra)
	return out
}

// variables are the plan job's variables: GitHub's default environment
// variables the plan knows. GITHUB_WORKSPACE, RUNNER_TEMP and the files
// of the workflow commands are set by the script, which also exports the
// workflow's and job's env (so that secrets stay out of the plan).
func (b *builder) variables() []pipeline.Variable {
	g := b.ctx.Contexts["github"].(map[string]any)
	str := func(k string) string { s, _ := g[k].(string); return s }
	kvs := [][2]string{
		{"CI", "true"}, {"GITHUB_ACTIONS", "true"}, {"GITHUB_WORKFLOW", str("workflow")},
		{"GITHUB_RUN_ID", str("run_id")}, {"GITHUB_RUN_NUMBER", str("run_number")}, {"GITHUB_RUN_ATTEMPT", "1"},
		{"GITHUB_JOB", b.j.id}, {"GITHUB_ACTOR", ""}, {"GITHUB_REPOSITORY", str("repository")},
		{"GITHUB_REPOSITORY_OWNER", str("repository_owner")}, {"GITHUB_EVENT_NAME", str("event_name")},
		{"GITHUB_REF", str("ref")}, {"GITHUB_REF_NAME", str("ref_name")}, {"GITHUB_REF_TYPE", str("ref_type")},
		{"GITHUB_REF_PROTECTED", "false"}, {"GITHUB_SHA", str("sha")},
		{"GITHUB_HEAD_REF", str("head_ref")}, {"GITHUB_BASE_REF", str("base_ref")},
		{"RUNNER_OS", "Linux"}, {"RUNNER_ENVIRONMENT", "self-hosted"},
	}
	out := make([]pipeline.Variable, 0, len(kvs))
	for _, kv := range kvs {
		if kv[1] == "" && kv[0] != "GITHUB_ACTOR" && kv[0] != "GITHUB_HEAD_REF" && kv[0] != "GITHUB_BASE_REF" {
			continue
		}
		out = append(out, pipeline.Variable{Key: kv[0], Value: kv[1], Raw: true})
	}
	return out
}

// defaultVariables are GitHub's default environment variables, which
// `env:` cannot set (GitHub ignores such entries; CI may be set).
var defaultVariables = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`GITHUB_ACTION GITHUB_ACTION_PATH GITHUB_ACTION_REPOSITORY GITHUB_ACTIONS
		GITHUB_ACTOR GITHUB_ACTOR_ID GITHUB_API_URL GITHUB_BASE_REF GITHUB_ENV GITHUB_EVENT_NAME GITHUB_EVENT_PATH
		GITHUB_GRAPHQL_URL GITHUB_HEAD_REF GITHUB_JOB GITHUB_OUTPUT GITHUB_PATH GITHUB_REF GITHUB_REF_NAME
		GITHUB_REF_PROTECTED GITHUB_REF_TYPE GITHUB_REPOSITORY GITHUB_REPOSITORY_ID GITHUB_REPOSITORY_OWNER
		GITHUB_REPOSITORY_OWNER_ID GITHUB_RETENTION_DAYS GITHUB_RUN_ATTEMPT GITHUB_RUN_ID GITHUB_RUN_NUMBER
		GITHUB_SERVER_URL GITHUB_SHA GITHUB_STATE GITHUB_STEP_SUMMARY GITHUB_TRIGGERING_ACTOR GITHUB_WORKFLOW
		GITHUB_WORKFLOW_REF GITHUB_WORKFLOW_SHA GITHUB_WORKSPACE RUNNER_ARCH RUNNER_DEBUG RUNNER_ENVIRONMENT
		RUNNER_NAME RUNNER_OS RUNNER_TEMP RUNNER_TOOL_CACHE`) {
		m[k] = true
	}
	return m
}()

// needsAndArtifacts sets the needs, the artifacts the job uploads and the
// jobs whose artifacts it downloads.
func (b *builder) needsAndArtifacts(pj *pipeline.PlanJob) {
	pl, j := b.pl, b.j
	// The jobs whose artifacts the downloads take: jobs this one needs,
	// directly or not (those have ended before it starts).
	var deps []*instance
	if len(b.downloads) > 0 {
		for _, a := range pl.ancestors(j) {
			if slices.ContainsFunc(a.uploads, b.downloadsArtifact) {
				deps = append(deps, a)
			}
		}
	}
	for _, a := range deps {
		pj.Dependencies = append(pj.Dependencies, a.pj.Name)
	}
	for _, nd := range j.needs {
		jp := pl.jobs[nd.id]
		if jp == nil || !jp.included {
			continue
		}
		for _, inst := range jp.instances {
			pj.Needs = append(pj.Needs, pipeline.PlanNeed{Job: inst.pj.Name, Artifacts: slices.Contains(deps, inst)})
		}
	}
	if len(b.uploads) > 0 {
		art := &pipeline.Artifacts{Name: strings.Join(b.uploads, ", "), When: "always", Public: true, Access: "all"}
		for _, u := range b.uploads {
			art.Paths = append(art.Paths, artifactsDir+"/"+u+"/")
		}
		if b.retention > 0 {
			art.ExpireIn = time.Duration(b.retention) * 24 * time.Hour
		}
		pj.Artifacts = art
	}
}

func (b *builder) downloadsArtifact(name string) bool {
	for _, d := range b.downloads {
		switch {
		case d.name != "" && d.name == name:
			return true
		case d.name == "" && (d.pattern == nil || d.pattern.re.MatchString(name)):
			return true
		}
	}
	return false
}

// ancestors returns the plan jobs j needs, directly or not, in file
// order.
func (pl *planner) ancestors(j *job) []*instance {
	seen := map[string]bool{}
	var walk func(j *job)
	walk = func(j *job) {
		for _, nd := range j.needs {
			if !seen[nd.id] {
				seen[nd.id] = true
				walk(pl.w.byID[strings.ToLower(nd.id)])
			}
		}
	}
	walk(j)
	var out []*instance
	for _, o := range pl.w.jobs {
		if jp := pl.jobs[o.id]; seen[o.id] && jp != nil {
			out = append(out, jp.instances...)
		}
	}
	return out
}

// eventJSON is the event payload, for $GITHUB_EVENT_PATH.
func (b *builder) eventJSON() string {
	g := b.ctx.Contexts["github"].(map[string]any)
	data, err := json.MarshalIndent(g["event"], "", "  ")
	if err != nil {
		return "{}"
	}
	return string(data)
}

// stepDisplay is a step's name as GitHub shows it.
func (b *builder) stepDisplay(s *step, sc *scope) string {
	if s.name != nil {
		if s.name.constant() {
			return scalarText(s.name.n)
		}
		if ps, ok := b.pl.piecesQuiet(s.name, sc); ok {
			var out strings.Builder
			for _, p := range ps {
				if p.ref == nil {
					out.WriteString(p.lit)
				} else {
					out.WriteString("${{ " + p.text + " }}")
				}
			}
			return out.String()
		}
		return s.name.n.Value
	}
	if s.act != nil {
		return "Run " + s.act.uses
	}
	first, _, _ := strings.Cut(strings.TrimSpace(s.run.n.Value), "\n")
	return "Run " + first
}

// quoteLabel renders a label for a shell comment, on one line.
func quoteLabel(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// fmtBool renders a flag for the script library.
func fmtBool(v bool) string {
	if v {
		return "1"
	}
	return "0"
}
