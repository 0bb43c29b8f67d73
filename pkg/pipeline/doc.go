// Package pipeline reads GitLab-CI-compatible pipeline files (.gantry.yml,
// .gitlab-ci.yml) into the model the coordinator schedules from, and plans
// which jobs run for a ref. A .gitlab-ci.yml must run unchanged: anything
// GitLab accepts parses here, and means the same.
//
// # Layers
//
// Parsing happens in layers, in GitLab's order, so the language can grow
// without the model losing track of where things came from:
//
//   - the raw layer (yamlnode.go, on pkg/yamlpos) turns YAML into a tree of
//     nodes that keeps the file, line and column of every value, with
//     aliases and `<<` merge keys already applied (anchors are local to a
//     file, as in GitLab);
//   - includes (include.go) read `include: local` files from the submitted
//     source (ParseOptions.ReadFile) and deep-merge them: the included files
//     in order, then the including file over them, recursively;
//   - `extends` (extends.go), then `!reference` tags (reference.go), are
//     resolved against the merged document;
//   - normalisation (parse.go, job.go, rules.go, needs.go, parallel.go,
//     artifacts.go, environment.go, values.go) applies `default:` and
//     checks every keyword, producing the model in model.go; graph.go checks
//     what jobs say about each other (needs, dependencies, on_stop).
//
// Every problem is reported with its position, and Parse reports all the
// problems it finds at once, sorted by position, so a user can fix a file in
// one pass.
//
// Plan (plan.go, eval.go, variables.go) evaluates workflow:rules, each job's
// rules or only/except, expands parallel jobs and resolves needs for one
// ref. It uses pkg/expr/gitlab for expressions and variable expansion.
//
// # What Gantry refuses, ignores and decides
//
// Refused, with the reason, because running the job without them would do
// something else than the file says:
//
//   - `trigger:` (Gantry runs no downstream pipelines), `needs:pipeline` and
//     needs of a parent pipeline;
//   - `include:` remote, project, template and component, and
//     `needs:project`, `exists:project`: Gantry only reads the submitted
//     source;
//   - `include:inputs` (`spec:inputs` is not supported);
//   - `secrets:` (no external secret managers; use `gantry submit
//     --secret`), `id_tokens:` (no OIDC tokens), `identity:`, `run:` (CI/CD
//     steps);
//   - `only/except:kubernetes` and `environment:kubernetes` (no Kubernetes
//     integration).
//
// Ignored with a warning, as only GitLab itself reads them: `release`,
// `pages` (the keyword; a job named pages runs), `publish`,
// `dast_configuration`, `hooks` (Gantry does not fetch with git),
// `image`/`services` `pull_policy`, `docker` and `kubernetes`, and the
// artifacts reports only GitLab's UI reads (sast, codequality...), whose
// files are still kept as artifacts. A `spec:` header document is skipped
// with a warning.
//
// Accepted as GitLab does, with a warning: duplicate mapping keys (the last
// wins) and redefined anchors (later aliases use the new value), the
// deprecated top-level `image`, `services`, `before_script`,
// `after_script` and `cache` (applied as `default:`), `types` and `type`.
// YAML 1.1 booleans (yes/no/on/off) are booleans, as in GitLab's loader.
//
// Decisions where GitLab leaves a choice, or Gantry must pick:
//
//   - `changes:` is true when the changed files are unknown (a new branch,
//     a tag, PlanInput.ChangedFiles nil) and for sources other than push
//     and merge requests, as in GitLab. `exists:` without
//     PlanInput.FileExists is false.
//   - A job without rules and without `only:` gets GitLab's default
//     `only: [branches, tags]` (so it does not run in merge request
//     pipelines), except when the pipeline has workflow:rules, where
//     GitLab drops that default.
//   - allow_failure defaults to true for a job whose own `when:` is manual,
//     and to false when only a rule makes it manual (GitLab's behaviour).
//   - Needs of a job that is in the file but not in the plan fail the plan
//     unless optional; dependencies on such jobs are dropped (GitLab does
//     not fail the pipeline for them).
//   - An included file reached twice is merged once, at its first place; a
//     file including itself, directly or not, is an error. Include paths
//     may use predefined and run variables (ParseOptions.Facts), and
//     include:rules are evaluated when parsing, with those facts.
//   - Limits: GitLab's (extends 11 levels, !reference 10, 150 includes,
//     100 include levels, parallel 200, 4 caches), plus per file 4 MiB,
//     16 MiB with includes, 1,000,000 values after aliases, extends and
//     references, and 100 levels of nesting: bounded memory and time for
//     any input.
package pipeline
