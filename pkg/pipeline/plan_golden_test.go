package pipeline

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGoldenPlans")

// goldenRefs are the refs every golden pipeline is planned for. The
// feature branch and the merge request change the files listed in the
// pipeline's changed.txt (none when it has no such file).
func goldenRefs(changed []string) []struct {
	name string
	in   PlanInput
} {
	project := []Variable{{Key: "CI_PROJECT_PATH", Value: "acme/shop"}, {Key: "CI_PROJECT_NAME", Value: "shop"}}
	mr := append(slices.Clone(project),
		Variable{Key: "CI_MERGE_REQUEST_IID", Value: "42"},
		Variable{Key: "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", Value: "main"},
		Variable{Key: "CI_MERGE_REQUEST_LABELS", Value: "backend,review"})
	const sha = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a"
	return []struct {
		name string
		in   PlanInput
	}{
		{"push to main", PlanInput{Ref: "main", SHA: sha, Source: "push", DefaultBranch: "main", ChangedFiles: changed, Predefined: project}},
		{"push to feature/login", PlanInput{Ref: "feature/login", SHA: sha, Source: "push", DefaultBranch: "main", ChangedFiles: changed, Predefined: project}},
		{"new branch feature/fresh (changes unknown)", PlanInput{Ref: "feature/fresh", SHA: sha, Source: "push", DefaultBranch: "main", Predefined: project}},
		{"tag v1.4.0", PlanInput{Ref: "v1.4.0", IsTag: true, SHA: sha, Source: "push", DefaultBranch: "main", Predefined: project}},
		{"merge request feature/login -> main", PlanInput{Ref: "feature/login", SHA: sha, Source: "merge_request_event", DefaultBranch: "main", ChangedFiles: changed, Predefined: mr}},
		{"schedule on main", PlanInput{Ref: "main", SHA: sha, Source: "schedule", DefaultBranch: "main", Predefined: project}},
	}
}

// TestGoldenPlans parses each source tree in testdata/plans (its
// .gitlab-ci.yml and includes) and plans it for goldenRefs; the plans must
// match plan.golden.
func TestGoldenPlans(t *testing.T) {
	dirs, err := filepath.Glob("testdata/plans/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 12 && !*update {
		t.Fatalf("found %d golden pipelines, want at least 12", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := goldenOutput(t, dir)
			golden := filepath.Join(dir, "plan.golden")
			if *update {
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

// sourceTree is a golden pipeline's directory as a submitted source:
// its files, plus the names listed in files.txt (files that only need to
// exist), minus the test's own files.
type sourceTree struct {
	dir   string
	files []string
}

var testOnlyFiles = []string{"plan.golden", "changed.txt", "files.txt"}

func newSourceTree(t testing.TB, dir string) *sourceTree {
	st := &sourceTree{dir: dir}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !slices.Contains(testOnlyFiles, rel) {
			st.files = append(st.files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st.files = append(st.files, readLines(t, filepath.Join(dir, "files.txt"))...)
	slices.Sort(st.files)
	return st
}

func (st *sourceTree) ReadFile(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(st.dir, filepath.FromSlash(path)))
}

func (st *sourceTree) ListFiles() ([]string, error) { return st.files, nil }

func (st *sourceTree) FileExists(glob string) bool {
	return slices.ContainsFunc(st.files, func(f string) bool { return MatchGlob(glob, f) })
}

// readLines reads a list of names, one per line; a missing file is an
// empty list.
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
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func goldenOutput(t *testing.T, dir string) string {
	st := newSourceTree(t, dir)
	data, err := st.ReadFile(".gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	changed := readLines(t, filepath.Join(dir, "changed.txt"))
	if changed == nil {
		changed = []string{}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# changed files on feature/login: %s\n", strings.Join(changed, ", "))
	for _, ref := range goldenRefs(changed) {
		in := ref.in
		in.FileExists = st.FileExists
		if in.ChangedFiles != nil {
			files := in.ChangedFiles
			in.ChangedFilesSince = func(string) ([]string, bool) { return files, true }
		}
		fmt.Fprintf(&b, "\n## %s\n", ref.name)
		pl, err := ParseWith(".gitlab-ci.yml", data, ParseOptions{ReadFile: st.ReadFile, ListFiles: st.ListFiles, Facts: &in})
		if err != nil {
			t.Fatalf("%s: Parse: %v", ref.name, err)
		}
		for _, w := range pl.Warnings {
			fmt.Fprintf(&b, "warning: %s\n", w)
		}
		plan, err := pl.Plan(in)
		if err != nil {
			fmt.Fprintf(&b, "plan error:\n%v\n", err)
			continue
		}
		b.WriteString(plan.Text())
		b.WriteString(planDetails(pl, plan))
		checkPlanInvariants(t, plan)
	}
	return b.String()
}

// checkPlanInvariants checks what every plan promises the scheduler.
func checkPlanInvariants(t testing.TB, plan *Plan) {
	t.Helper()
	names := map[string]*PlanJob{}
	for i, j := range plan.Jobs {
		if names[j.Name] != nil {
			t.Fatalf("job %q planned twice", j.Name)
		}
		names[j.Name] = j
		if j.StageIndex < 0 || j.StageIndex >= len(plan.Stages) || plan.Stages[j.StageIndex] != j.Stage {
			t.Fatalf("job %q: stage %q at index %d of %q", j.Name, j.Stage, j.StageIndex, plan.Stages)
		}
		if i > 0 && plan.Jobs[i-1].StageIndex > j.StageIndex {
			t.Fatalf("jobs not ordered by stage at %q", j.Name)
		}
		if !slices.Contains([]string{"on_success", "on_failure", "always", "manual", "delayed"}, j.When) {
			t.Fatalf("job %q: when %q", j.Name, j.When)
		}
		if (j.When == "delayed") != (j.StartIn > 0) {
			t.Fatalf("job %q: when %q with start_in %v", j.Name, j.When, j.StartIn)
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
		}
	}
	return b.String()
}

// planDetails renders, for review, what Text leaves out: for each job, the
// fields that differ from their defaults, and the variables that differ
// from the pipeline-level ones.
func planDetails(pl *Pipeline, plan *Plan) string {
	global := map[string]string{}
	for _, v := range pl.Variables {
		global[v.Key] = v.Value
	}
	var b strings.Builder
	if ac := plan.AutoCancel; ac != nil {
		fmt.Fprintf(&b, "  (auto_cancel on_new_commit=%s on_job_failure=%s)\n", ac.OnNewCommit, ac.OnJobFailure)
	}
	for _, j := range plan.Jobs {
		var f []string
		add := func(k, v string) { f = append(f, k+"="+v) }
		if j.Timeout > 0 {
			add("timeout", formatDuration(j.Timeout))
		}
		if j.Retry != nil {
			add("retry", fmt.Sprint(j.Retry.Max))
		}
		if j.Interruptible {
			add("interruptible", "true")
		}
		if j.ResourceGroup != "" {
			add("resource_group", j.ResourceGroup)
		}
		if e := j.Environment; e != nil {
			v := e.Name
			if e.URL != "" {
				v += " " + e.URL
			}
			if e.Action != "start" {
				v += " (" + e.Action + ")"
			}
			add("environment", v)
		}
		if len(j.Tags) > 0 {
			add("tags", "["+strings.Join(j.Tags, ", ")+"]")
		}
		if j.Job.ManualConfirmation != "" && j.When == "manual" {
			add("confirm", fmt.Sprintf("%q", j.Job.ManualConfirmation))
		}
		if !(len(j.Dependencies) == 0 && j.UsesNeeds) {
			add("artifacts_from", "["+strings.Join(j.Dependencies, ", ")+"]")
		}
		var vars []string
		for _, v := range j.Variables {
			if g, ok := global[v.Key]; (!ok || g != v.Value) && !strings.HasPrefix(v.Key, "CI_") && v.Key != "CI" {
				vars = append(vars, v.Key+"="+v.Value)
			}
		}
		if len(vars) > 0 {
			add("vars", "{"+strings.Join(vars, " ")+"}")
		}
		var missing []string
		for _, v := range pl.Variables {
			if !slices.ContainsFunc(j.Variables, func(jv Variable) bool { return jv.Key == v.Key }) {
				missing = append(missing, v.Key)
			}
		}
		if len(missing) > 0 {
			add("not_inherited", "["+strings.Join(missing, ", ")+"]")
		}
		if len(f) > 0 {
			fmt.Fprintf(&b, "  %s: %s\n", j.Name, strings.Join(f, " "))
		}
	}
	return b.String()
}
