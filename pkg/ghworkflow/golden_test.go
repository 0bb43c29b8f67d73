package ghworkflow

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGoldenPlans")

// goldenSecrets are the secrets the golden runs have.
var goldenSecrets = []string{"DEPLOY_KEY", "NPM_TOKEN", "E2E_TOKEN", "REGISTRY_PASSWORD"}

// goldenRefs are the refs every golden workflow is planned for. The
// feature branch and the merge request change the files listed in the
// workflow's .changed file (none when it has none).
func goldenRefs(changed []string) []struct {
	name string
	in   pipeline.PlanInput
} {
	project := []pipeline.Variable{{Key: "CI_PROJECT_PATH", Value: "acme/shop"}, {Key: "CI_PIPELINE_ID", Value: "1234"}, {Key: "CI_PIPELINE_IID", Value: "56"}}
	mr := append(slices.Clone(project),
		pipeline.Variable{Key: "CI_MERGE_REQUEST_IID", Value: "42"},
		pipeline.Variable{Key: "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", Value: "main"})
	const sha = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a"
	return []struct {
		name string
		in   pipeline.PlanInput
	}{
		{"push to main", pipeline.PlanInput{Ref: "main", SHA: sha, Source: "push", DefaultBranch: "main", ChangedFiles: changed, Predefined: project}},
		{"push to feature/login", pipeline.PlanInput{Ref: "feature/login", SHA: sha, Source: "push", DefaultBranch: "main", ChangedFiles: changed, Predefined: project}},
		{"new branch feature/fresh (changes unknown)", pipeline.PlanInput{Ref: "feature/fresh", SHA: sha, Source: "push", DefaultBranch: "main", Predefined: project}},
		{"tag v1.4.0", pipeline.PlanInput{Ref: "v1.4.0", IsTag: true, SHA: sha, Source: "push", DefaultBranch: "main", Predefined: project}},
		{"merge request feature/login -> main", pipeline.PlanInput{Ref: "feature/login", SHA: sha, Source: "merge_request_event", DefaultBranch: "main", ChangedFiles: changed, Predefined: mr}},
		{"schedule on main", pipeline.PlanInput{Ref: "main", SHA: sha, Source: "schedule", DefaultBranch: "main", Predefined: project}},
		{"run by hand on main with environment=production", pipeline.PlanInput{Ref: "main", SHA: sha, Source: "web", DefaultBranch: "main", Predefined: project,
			Variables: []pipeline.Variable{{Key: "environment", Value: "production"}}}},
	}
}

// TestGoldenPlans parses each workflow of testdata/workflows and plans it
// for goldenRefs; the result must match testdata/golden/<name>.golden.
// The scripts are shown for the first ref the workflow runs for.
func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob("testdata/workflows/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("found %d golden workflows, want at least 8", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		t.Run(name, func(t *testing.T) {
			got := goldenOutput(t, f)
			golden := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("plans differ from %s (run with -update to accept):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

func readLines(t testing.TB, path string) []string {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func goldenOutput(t *testing.T, file string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	changed := readLines(t, strings.TrimSuffix(file, ".yml")+".changed")
	if changed == nil {
		changed = []string{}
	}
	shown := ".github/workflows/" + filepath.Base(file)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s; changed files on feature/login: %s\n", shown, strings.Join(changed, ", "))
	w, err := Parse(shown, data)
	if err != nil {
		fmt.Fprintf(&b, "\nparse error:\n%v\n", err)
		return b.String()
	}
	for _, warn := range w.Warnings() {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	scriptsShown := false
	for _, ref := range goldenRefs(changed) {
		fmt.Fprintf(&b, "\n## %s\n", ref.name)
		plan, err := w.Plan(ref.in, goldenSecrets)
		if err != nil {
			fmt.Fprintf(&b, "plan error:\n%v\n", err)
			continue
		}
		checkPlanInvariants(t, plan)
		b.WriteString(plan.Text())
		b.WriteString(planDetails(plan))
		if plan.Created && !scriptsShown {
			scriptsShown = true
			b.WriteString(planScripts(plan))
		}
	}
	return b.String()
}

// planDetails renders what Text leaves out, for each job.
func planDetails(plan *pipeline.Plan) string {
	var b strings.Builder
	for _, j := range plan.Jobs {
		var f []string
		add := func(k, v string) { f = append(f, k+"="+v) }
		if d := displayName(j); d != j.Name {
			add("display", fmt.Sprintf("%q", d))
		}
		if j.MatrixGroup != "" {
			add("matrix", fmt.Sprintf("%s(fail-fast=%t max-parallel=%d)", j.MatrixGroup, j.FailFast, j.MaxParallel))
		}
		if len(j.Tags) > 0 {
			add("tags", "["+strings.Join(j.Tags, ", ")+"]")
		}
		if j.Job.Image != nil {
			add("image", j.Job.Image.Name)
		}
		for _, s := range j.Job.Services {
			var vars []string
			for _, v := range s.Variables {
				vars = append(vars, v.Key+"="+v.Value)
			}
			add("service", fmt.Sprintf("%s as %s {%s}", s.Name, s.Alias, strings.Join(vars, " ")))
		}
		if j.Timeout > 0 {
			add("timeout", j.Timeout.String())
		}
		if e := j.Environment; e != nil {
			add("environment", strings.TrimSpace(e.Name+" "+e.URL))
		}
		if j.ResourceGroup != "" {
			add("resource_group", j.ResourceGroup)
		}
		if a := j.Artifacts; a != nil {
			v := fmt.Sprintf("%s [%s] when %s", a.Name, strings.Join(a.Paths, ", "), a.When)
			if a.ExpireIn > 0 {
				v += fmt.Sprintf(" expire %dd", a.ExpireIn/(24*time.Hour))
			}
			add("artifacts", v)
		}
		if len(j.Dependencies) > 0 {
			add("artifacts_from", "["+strings.Join(j.Dependencies, ", ")+"]")
		}
		if len(f) > 0 {
			fmt.Fprintf(&b, "  %s: %s\n", j.Name, strings.Join(f, " "))
		}
	}
	return b.String()
}

// displayName reads the display name from the script's first line.
func displayName(j *pipeline.PlanJob) string {
	first, _, _ := strings.Cut(j.Job.Script[0], "\n")
	first = strings.TrimPrefix(first, "# GitHub Actions job ")
	name, _, _ := strings.Cut(first, " (jobs.")
	return name
}

// planScripts renders the jobs' scripts, with the library (the same in
// every job) and the event payload left out.
func planScripts(plan *pipeline.Plan) string {
	var b strings.Builder
	b.WriteString("\n### scripts\n")
	for _, j := range plan.Jobs {
		fmt.Fprintf(&b, "\n#### %s\n", j.Name)
		vars := make([]string, len(j.Variables))
		for i, v := range j.Variables {
			vars[i] = v.Key + "=" + v.Value
		}
		fmt.Fprintf(&b, "variables: %s\n", strings.Join(vars, " "))
		for i, c := range j.Job.Script {
			if i == 0 {
				c = strings.Replace(c, scriptLibrary, "<library>", 1)
				if start := strings.Index(c, "cat > \"$GITHUB_EVENT_PATH\""); start >= 0 {
					if end := strings.Index(c[start:], "\nGH_EVENT\n"); end >= 0 {
						c = c[:start] + "<event payload>" + c[start+end+len("\nGH_EVENT"):]
					}
				}
			}
			fmt.Fprintf(&b, "%s\n", c)
		}
	}
	return b.String()
}

// checkPlanInvariants checks what every plan promises the scheduler.
func checkPlanInvariants(t testing.TB, plan *pipeline.Plan) {
	t.Helper()
	if !plan.Created {
		if plan.Reason == "" || len(plan.Jobs) > 0 {
			t.Fatalf("plan not created, reason %q, %d jobs", plan.Reason, len(plan.Jobs))
		}
		return
	}
	names := map[string]*pipeline.PlanJob{}
	for _, j := range plan.Jobs {
		if names[j.Name] != nil {
			t.Fatalf("job %q planned twice", j.Name)
		}
		names[j.Name] = j
		if j.StageIndex < 0 || j.StageIndex >= len(plan.Stages) || plan.Stages[j.StageIndex] != j.Stage {
			t.Fatalf("job %q: stage %q at index %d of %q", j.Name, j.Stage, j.StageIndex, plan.Stages)
		}
		if !slices.Contains([]string{"on_success", "on_failure", "always"}, j.When) {
			t.Fatalf("job %q: when %q", j.Name, j.When)
		}
		if !j.UsesNeeds || j.Needs == nil {
			t.Fatalf("job %q does not use needs", j.Name)
		}
		if j.Job == nil || len(j.Job.Script) < 2 {
			t.Fatalf("job %q has no script", j.Name)
		}
	}
	for _, j := range plan.Jobs {
		for _, n := range j.Needs {
			if names[n.Job] == nil {
				t.Fatalf("job %q needs %q, which is not planned", j.Name, n.Job)
			}
		}
		for _, d := range j.Dependencies {
			if names[d] == nil {
				t.Fatalf("job %q depends on %q, which is not planned", j.Name, d)
			}
		}
	}
}

// lineDiff shows the lines of two texts that differ, for failures.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n   got: %s\n", i+1, wl, gl)
			if shown++; shown >= 20 {
				b.WriteString("...\n")
				break
			}
		}
	}
	return b.String()
}
