package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/pipelinefile"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// localSource reads a pipeline's files from a directory on disk, the way
// the coordinator reads them from the submitted archive.
type localSource struct{ root string }

func (s localSource) readFile(p string) ([]byte, error) {
	clean := path.Clean("/" + p)[1:]
	return os.ReadFile(filepath.Join(s.root, filepath.FromSlash(clean)))
}

func (s localSource) listFiles() ([]string, error) {
	var out []string
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(s.root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// parseLocal finds and parses the pipeline file of dir (or file), with
// `include: local` read from dir and facts for include rules.
func parseLocal(dir, file string, facts *pipeline.PlanInput) (*pipelineFile, *pipelinefile.File, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	pf, err := findPipeline(dir, absDir, file)
	if err != nil {
		return nil, nil, err
	}
	src := localSource{root: absDir}
	pl, err := pipelinefile.Parse(pf.shown, pf.data, pipeline.ParseOptions{ReadFile: src.readFile, ListFiles: src.listFiles, Facts: facts})
	return pf, pl, err
}

func (a *app) lintCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "lint [FILE]",
		Short: "Check a pipeline file without running it",
		Long: `Lint parses a pipeline file (default .gantry.yml, else .gitlab-ci.yml, in
--dir) as the coordinator will, with its local includes, and prints every
error and warning with file:line:column. It exits 1 when the file has
errors, 0 otherwise (warnings included).`,
		Example: `  gantry lint                        # .gantry.yml, else .gitlab-ci.yml
  gantry lint ci/pipeline.yml --dir .`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			pf, pl, err := parseLocal(dir, file, nil)
			var list pipeline.ErrorList
			switch {
			case errors.As(err, &list):
				for _, e := range list {
					fmt.Fprintln(a.stdout, e)
				}
				return &exitError{code: ExitRunFailed, msg: fmt.Sprintf("gantry: %s is invalid (%s)", pf.shown, plural(len(list), "error", "errors"))}
			case err != nil:
				return err
			}
			warnings := pl.Warnings()
			for _, w := range warnings {
				fmt.Fprintln(a.stdout, w)
			}
			if pl.GitHub != nil {
				fmt.Fprintf(a.stdout, "%s is a valid GitHub Actions workflow: %s", pf.shown, plural(pl.Jobs(), "job", "jobs"))
			} else {
				fmt.Fprintf(a.stdout, "%s is valid: %s in %s", pf.shown, plural(pl.Jobs(), "job", "jobs"), plural(len(pl.GitLab.Stages), "stage", "stages"))
			}
			if n := len(warnings); n > 0 {
				fmt.Fprintf(a.stdout, ", %s", plural(n, "warning", "warnings"))
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "root of the source tree (for include: local)")
	return cmd
}

func (a *app) planCommand() *cobra.Command {
	var (
		dir, ref, source, format, defaultBranch string
		tag                                     bool
		vars                                    []string
	)
	cmd := &cobra.Command{
		Use:   "plan [FILE]",
		Short: "Show which jobs a pipeline would run for a ref, in which order",
		Long: `Plan evaluates workflow:rules, rules, only/except, parallel and needs of a
pipeline file for a ref, as the coordinator will at submit, and prints the
jobs that would run with their stage, when, needs and allow_failure.
--format dot or mermaid prints the job graph instead.`,
		Example: `  gantry plan                        # the jobs a push of the current branch runs
  gantry plan --ref v1.4.0 --tag
  gantry plan --source merge_request_event --format mermaid`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "dot", "mermaid":
			default:
				return usagef("--format must be text, dot or mermaid, not %q", format)
			}
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			userVars, err := parseVars(vars)
			if err != nil {
				return err
			}
			if ref == "" {
				ref = gitBranch(dir)
			}
			if ref == "" {
				ref = defaultBranch
			}
			in := pipeline.PlanInput{Ref: ref, IsTag: tag, Source: source, DefaultBranch: defaultBranch}
			for _, v := range userVars {
				in.Variables = append(in.Variables, pipeline.Variable{Key: v.GetKey(), Value: v.GetValue()})
			}
			absDir, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			src := localSource{root: absDir}
			in.FileExists = func(glob string) bool {
				files, err := src.listFiles()
				if err != nil {
					return false
				}
				for _, f := range files {
					if pipeline.MatchGlob(glob, f) {
						return true
					}
				}
				return false
			}
			pf, pl, err := parseLocal(dir, file, &in)
			var list pipeline.ErrorList
			if errors.As(err, &list) {
				return a.invalidPipeline(pf.shown, err)
			}
			if err != nil {
				return err
			}
			plan, err := pl.Plan(in, secretNames(userVars))
			if err != nil {
				return a.invalidPipeline(pf.shown, err)
			}
			if !plan.Created {
				fmt.Fprintf(a.stdout, "no pipeline for %s: %s\n", refText(in), plan.Reason)
				return nil
			}
			switch format {
			case "dot":
				fmt.Fprint(a.stdout, planDOT(plan))
			case "mermaid":
				fmt.Fprint(a.stdout, planMermaid(plan))
			default:
				fmt.Fprintf(a.stdout, "pipeline for %s: %s\n", refText(in), plural(len(plan.Jobs), "job", "jobs"))
				fmt.Fprint(a.stdout, plan.Text())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", ".", "root of the source tree (for include: local, exists:)")
	f.StringVar(&ref, "ref", "", "branch or tag to plan for (default: the current branch of --dir, else --default-branch)")
	f.BoolVar(&tag, "tag", false, "--ref names a tag")
	f.StringVar(&source, "source", "push", "pipeline source: push, web, merge_request_event, schedule, api...")
	f.StringVar(&defaultBranch, "default-branch", "main", "the project's default branch (CI_DEFAULT_BRANCH)")
	f.StringArrayVar(&vars, "var", nil, "KEY=VALUE variable of the run (repeatable)")
	f.StringVar(&format, "format", "text", "text, dot (Graphviz) or mermaid")
	return cmd
}

// secretNames are the variables a workflow's secrets.NAME may read: on
// the command line, every --var.
func secretNames(vars []*gantryv1.Variable) []string {
	out := make([]string, 0, len(vars))
	for _, v := range vars {
		out = append(out, v.GetKey())
	}
	return out
}

func refText(in pipeline.PlanInput) string {
	kind := "branch"
	if in.IsTag {
		kind = "tag"
	}
	return fmt.Sprintf("%s %s (%s)", kind, in.Ref, in.Source)
}

// gitBranch returns the checked-out branch of dir, or "".
func gitBranch(dir string) string {
	head, err := os.ReadFile(filepath.Join(dir, ".git", "HEAD"))
	if err != nil {
		return ""
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: refs/heads/")
	if !ok {
		return ""
	}
	return ref
}

// edges lists the plan's dependencies as (from, to) job names: needs, or
// for jobs without needs every job of the previous stage that has jobs.
func edges(plan *pipeline.Plan) [][2]string {
	byStage := map[int][]string{}
	for _, j := range plan.Jobs {
		byStage[j.StageIndex] = append(byStage[j.StageIndex], j.Name)
	}
	var out [][2]string
	for _, j := range plan.Jobs {
		if j.UsesNeeds {
			for _, n := range j.Needs {
				out = append(out, [2]string{n.Job, j.Name})
			}
			continue
		}
		for s := j.StageIndex - 1; s >= 0; s-- {
			if prev := byStage[s]; len(prev) > 0 {
				for _, p := range prev {
					out = append(out, [2]string{p, j.Name})
				}
				break
			}
		}
	}
	return out
}

func planDOT(plan *pipeline.Plan) string {
	var b strings.Builder
	b.WriteString("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n")
	for i, s := range plan.Stages {
		var names []string
		for _, j := range plan.Jobs {
			if j.StageIndex == i {
				label := j.Name
				if j.When != "on_success" {
					label += "\\n(" + j.When + ")"
				}
				names = append(names, fmt.Sprintf("%q [label=%q]", j.Name, label))
			}
		}
		if len(names) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  subgraph %q {\n    label=%q;\n", "cluster_"+s, s)
		for _, n := range names {
			fmt.Fprintf(&b, "    %s;\n", n)
		}
		b.WriteString("  }\n")
	}
	for _, e := range edges(plan) {
		fmt.Fprintf(&b, "  %q -> %q;\n", e[0], e[1])
	}
	b.WriteString("}\n")
	return b.String()
}

func planMermaid(plan *pipeline.Plan) string {
	ids := map[string]string{}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, j := range plan.Jobs {
		ids[j.Name] = fmt.Sprintf("j%d", i)
	}
	for i, s := range plan.Stages {
		var lines []string
		for _, j := range plan.Jobs {
			if j.StageIndex == i {
				label := j.Name
				if j.When != "on_success" {
					label += " (" + j.When + ")"
				}
				lines = append(lines, fmt.Sprintf("    %s[\"%s\"]", ids[j.Name], strings.ReplaceAll(label, `"`, "#quot;")))
			}
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  subgraph s%d[\"%s\"]\n%s\n  end\n", i, s, strings.Join(lines, "\n"))
	}
	for _, e := range edges(plan) {
		fmt.Fprintf(&b, "  %s --> %s\n", ids[e[0]], ids[e[1]])
	}
	return b.String()
}
