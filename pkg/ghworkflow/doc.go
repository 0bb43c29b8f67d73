// Package ghworkflow imports GitHub Actions workflow files: it parses and
// validates a workflow, and plans it for a ref into the same
// *pipeline.Plan the GitLab parser produces, so that the scheduler and the
// runners run it unchanged. Each job's steps are compiled into a POSIX sh
// script (Job.Script) that behaves as a GitHub runner does.
//
// # Entry points
//
//   - IsWorkflow tells a GitHub workflow from a GitLab CI file: by its path
//     (.github/workflows/) or its top-level keys.
//   - Parse validates a file and returns every problem at once, as a
//     pipeline.ErrorList with file:line:column and the key path
//     (`jobs.build.steps[2].uses: ...`). Step indexes count from 0.
//   - Workflow.Warnings lists what is accepted but ignored or approximated.
//   - Workflow.Plan(in, secrets) decides what runs for a ref. A workflow
//     that `on:` does not start for the input is a Plan with Created false
//     and the Reason (`on.push.branches [main] does not match branch
//     "feature/x"`); an error is for what Gantry cannot run.
//
// # Mapping
//
//	GitHub Actions                     Gantry
//	on: (events and filters)           whether Plan creates the run; see Events
//	name                               Plan.Name when there is no run-name; GITHUB_WORKFLOW
//	run-name                           Plan.Name
//	env (workflow, job)                exported by the job's script (not PlanJob.Variables)
//	defaults.run (workflow, job)       each run step's shell and working directory
//	permissions                        ignored, with a warning (no GITHUB_TOKEN is issued)
//	concurrency (workflow)             ignored, with a warning
//	jobs.<id>                          one PlanJob, or one per matrix combination
//	jobs.<id>.name                     display name, in the script's first line
//	jobs.<id>.needs                    Needs (every combination of a matrix job)
//	jobs.<id>.if                       When (on_success, on_failure, always) or left out
//	jobs.<id>.runs-on                  Tags; see Runners
//	jobs.<id>.container                Job.Image; its env is exported by the script
//	jobs.<id>.services                 Job.Services, Alias = the service id, Variables = env
//	jobs.<id>.strategy.matrix          one PlanJob per combination, MatrixGroup = the id
//	jobs.<id>.strategy.fail-fast       FailFast (default true)
//	jobs.<id>.strategy.max-parallel    MaxParallel
//	jobs.<id>.timeout-minutes          Timeout
//	jobs.<id>.continue-on-error        AllowFailure
//	jobs.<id>.environment              Environment (name, url; action start)
//	jobs.<id>.concurrency              ResourceGroup; cancel-in-progress ignored, with a warning
//	jobs.<id>.outputs                  ignored, with a warning
//	jobs.<id>.steps                    Job.Script; see Steps
//	jobs.<id>.uses / with / secrets    refused: reusable workflows are not supported
//	jobs.<id>.snapshot                 refused
//
// Every plan has the stages .pre, test and .post, shaped as a GitLab
// pipeline's; every job is in test with UsesNeeds set, so a job without
// needs starts at once, as on GitHub. PlanJob.Variables hold GitHub's
// default variables that are known before the run (CI, GITHUB_ACTIONS,
// GITHUB_REF, GITHUB_REF_NAME, GITHUB_REF_TYPE, GITHUB_SHA,
// GITHUB_EVENT_NAME, GITHUB_JOB, GITHUB_REPOSITORY, GITHUB_WORKFLOW,
// GITHUB_RUN_ID and GITHUB_RUN_NUMBER from CI_PIPELINE_ID and
// CI_PIPELINE_IID, RUNNER_OS=Linux...), marked Raw so that nothing expands
// them. The script sets GITHUB_WORKSPACE ($CI_PROJECT_DIR), RUNNER_TEMP,
// GITHUB_EVENT_PATH, GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH,
// GITHUB_STATE and GITHUB_STEP_SUMMARY. `env:` may not set a default
// variable (GitHub ignores it; so does Gantry, with a warning).
//
// # Events
//
// PlanInput.Source gives the event: push (or empty) is push,
// merge_request_event is pull_request (or pull_request_target when only
// that is listed; with both, one run as pull_request), web and api are
// workflow_dispatch, schedule is schedule, trigger is repository_dispatch.
// Other sources start no workflow. Filters follow GitHub:
//
//   - push: branches and branches-ignore apply to branch pushes, tags and
//     tags-ignore to tag pushes; with filters of only one kind, pushes of
//     the other kind do not start the workflow. paths and paths-ignore
//     apply to branch pushes (never to tags), against
//     PlanInput.ChangedFiles: unknown changes (nil) pass them, and a
//     push that changes no file does not start a workflow that has them.
//   - pull_request: branches filters apply to the branch the request
//     merges into, which Gantry knows from the predefined variable
//     CI_MERGE_REQUEST_TARGET_BRANCH_NAME, else takes to be
//     PlanInput.DefaultBranch (an approximation). Gantry does not know the
//     activity; it is taken to be one of opened, synchronize and reopened,
//     so `types:` listing none of them does not start the workflow.
//   - Patterns are GitHub's: `*` (no "/"), `**`, `?` and `+` quantifying
//     the preceding character, `[a-z0-9]`, `\` escapes, and `!` patterns
//     whose last match wins. Using both a filter and its -ignore form, or
//     only negative patterns, is an error.
//   - workflow_dispatch inputs are their defaults, or the run's variables
//     of the same names (PlanInput.Variables), typed as declared.
//   - A workflow that has only workflow_call is reusable: it never starts.
//
// The github context is built from the input: event_name; ref
// (refs/heads/X, refs/tags/X, or refs/pull/<CI_MERGE_REQUEST_IID>/merge);
// ref_name; ref_type; sha (the source's, not a merge commit); head_ref and
// base_ref for pull requests; repository and repository_owner from
// CI_PROJECT_PATH; a small event payload (also in $GITHUB_EVENT_PATH).
// actor, token and the URLs are empty. vars are PlanInput.Variables.
// runner is os Linux, environment self-hosted; arch and name are empty.
//
// # Runners
//
// runs-on becomes tags: self-hosted and the labels of GitHub's Linux x64
// runners (linux, x64, ubuntu-latest, ubuntu-NN.NN) add none, as every
// Gantry runner is Linux with Docker; any other label (windows-latest,
// macos-14, ubuntu-24.04-arm, gpu, arm64...) becomes a tag, so that the job
// waits for a runner that has it. A list is every label; `{group,
// labels}` takes the labels and ignores the group (with a warning).
// Expressions are evaluated, and one giving a list adds every item.
//
// A job runs in its container: image, or none (the runner's default
// image) without container: or with an empty image. Services are
// sibling containers reached by their id, like a GitHub job with a
// container. Without container:, GitHub steps reach services at localhost
// through their ports; in Gantry they reach them at host <service id> on
// the container port (a warning says so). Service and container ports,
// volumes, options (health checks included: nothing waits for them) and
// credentials are ignored with a warning; a service whose image is empty is
// skipped, as on GitHub. Service env may not read secrets, steps or
// job.status (the service starts before the script): refused.
//
// # Jobs: if, needs and when
//
// A job's if: is evaluated before the run: as if every needed job
// succeeded, and as if some of them failed (every subset of up to four
// needs; each one alone and all together beyond). True only with success
// is when on_success, only with a failure on_failure, both always; never
// true leaves the job out of the plan. A condition true for some failures
// and false for others cannot be a when and is refused. As on GitHub:
//
//   - without a status function the condition is success() && (...);
//   - success() is false when a job needed, directly or not, is not in
//     the plan: such a job is left out unless its if: holds anyway
//     (always(), !failure(), !cancelled()), and its skipped needs are then
//     dropped from Needs; needs.<id>.result is "skipped" for them;
//   - cancelled() is never true before the run, so a job with only `if:
//     cancelled()` is left out; whether an always() job still runs once
//     the run is canceled is up to the scheduler's when: always, not to
//     the condition.
//
// A job's if: may read github, needs (results only), vars and inputs, as
// on GitHub (matrix is not available there: GitHub evaluates it before
// expanding the matrix). needs.<id>.outputs are refused everywhere (Gantry
// does not pass job outputs); needs.<id>.result is known in a job's other
// fields and steps only when the job runs on success ("success") or the
// need is not in the plan ("skipped"), and refused otherwise.
// hashFiles() is refused.
//
// Matrices follow GitHub: the product of the vectors in order, minus the
// combinations an exclude entry matches (partially), then each include
// entry added to every original combination whose vector values it does
// not change, or appended when it fits none. At most 256 combinations (and
// 4096 before exclude). Values are read as GitHub reads them (1.20 is
// 1.2). A matrix, a vector or an include list may be an expression known
// before the run (fromJSON(vars.X)); one from another job's outputs is
// refused. The vectors of a matrix given by an expression are taken in
// key order. A combination's job is named "<id> (<values>)", each value as
// text (objects as JSON), made unique with a number when two are equal.
// timeout-minutes defaults to Gantry's job timeout (PlanJob.Timeout 0),
// not to GitHub's 360 minutes.
//
// # Expressions
//
// Each key may read the contexts GitHub's context-availability table
// allows there; others are errors naming the context and listing those
// available. Values known before the run (github, inputs, vars, matrix,
// strategy, runner, job.services, env as the file sets it, earlier steps
// that are actions Gantry does itself) are put in place when planning.
// Values known only while the job runs are read by the script when the
// step runs, and must then be the whole expression:
//
//	${{ secrets.NAME }}                   the job's variable NAME, captured at the start
//	${{ steps.<id>.outputs.<name> }}      what step <id> wrote to $GITHUB_OUTPUT
//	${{ steps.<id>.outcome }}, .conclusion
//	${{ job.status }}
//	${{ github.workspace }}, ${{ runner.temp }}, ${{ runner.tool_cache }}
//	${{ env.NAME }}                       when NAME's own value reads one of the above
//
// Anything computed from them (format('x{0}', secrets.A), a || default)
// is refused with the plain reference to use instead. Inside a run:
// script the value is put in the script file's text, as on GitHub; the
// job's script itself never holds a secret's value.
//
// Secrets: the coordinator gives the job its secrets as variables; Plan's
// secrets are their names. The script captures the ones the workflow
// reads and unsets every known one, so that, as on GitHub, steps see a
// secret only where the workflow maps it into env. A name not among
// secrets is the empty string (GitHub's undefined secret); with secrets
// nil every secrets.NAME reads $NAME. Names are upper-cased, as GitHub's.
// GITHUB_TOKEN is not issued (a warning says so): secrets.GITHUB_TOKEN is
// a secret of that name if the run has one.
//
// The env context is the file's values (workflow, then job, then step
// env); values a step writes to $GITHUB_ENV reach later steps' processes,
// as on GitHub, but not `${{ env.X }}` expressions.
//
// # Steps
//
// The script's first command holds a small shell library and the job's
// env; then one command per step; the last exits 1 when a step failed
// without continue-on-error. A run: step's script is written to a file
// through a quoted here-document (nothing is expanded twice; a unique
// delimiter), then run in a subshell with the step's env on top of the
// job's, from $GITHUB_WORKSPACE or its working-directory (relative to the
// workspace), with GitHub's command for its shell:
//
//	(none)           bash -e {0}, or sh -e {0} where bash is not installed
//	bash             bash --noprofile --norc -eo pipefail {0}
//	sh               sh -e {0}
//	python           python {0}
//	pwsh             pwsh -command ". '{0}'"
//	cmd {0} args     a command line with {0} where the file goes
//
// powershell and cmd (Windows only) are refused. timeout-minutes of a step
// runs it under timeout(1) when the image has it (busybox and coreutils
// do), and without a limit (with a message) when not.
//
// After each step the script reads $GITHUB_ENV (NAME=value and
// NAME<<DELIMITER lines: exported to later steps), $GITHUB_OUTPUT (the
// step's outputs, names case-insensitive, letters, digits, _, . and -)
// and $GITHUB_PATH (prepended to PATH). A step failure sets the job's
// status to failure unless the step has continue-on-error (its outcome is
// then failure and its conclusion success).
//
// A step's if: is evaluated before the run for each job status (success,
// failure) and each outcome (success, failure, skipped) of the earlier
// steps it reads (at most four), and compiled into a case statement on the
// status and outcomes. It may read the status functions, job.status and
// steps' outcome and conclusion; reading steps' outputs or secrets there
// is refused (test them in the script instead); outputs of actions Gantry
// does itself are empty, so `if: steps.cache.outputs.cache-hit != 'true'`
// works. cancelled() is false: a canceled job's container is stopped, so no
// step runs after a cancellation, always() ones included.
//
// uses: steps:
//
//   - actions/checkout: nothing to do, the source is in the workspace.
//     with.repository must be this repository, with.path empty or ".";
//     ref, fetch-depth, token and the others are ignored (submodules and
//     lfs with a warning).
//   - actions/upload-artifact: at its place in the job the step copies
//     the files its path: lines select (globs, `!` exclusions, hidden
//     files left out unless include-hidden-files) into
//     .gantry-github-artifacts/<name>/, laid out as GitHub lays out an
//     artifact (relative to the common directory of the paths; a lone
//     file to its directory), and fails, warns or says nothing when no file
//     matches (if-no-files-found). PlanJob.Artifacts lists those
//     directories with when always (an artifact exists only if its step
//     ran), its name the artifact names, retention-days as ExpireIn.
//     Paths under ~ are refused; compression-level and overwrite ignored.
//   - actions/download-artifact: the runner extracts the artifacts of the
//     jobs in Dependencies into the workspace; the step copies the named
//     artifact to its path (a missing one fails the step), or without a
//     name every artifact (or those matching pattern) to <path>/<name>,
//     or all into path with merge-multiple. Dependencies are the jobs this
//     one needs, directly or not, that upload a selected artifact (their
//     PlanNeed.Artifacts is true): artifacts of jobs it does not need are
//     not available, unlike on GitHub where they may be. Downloading from
//     another run (run-id, repository, github-token) is refused. Files of
//     different artifacts uploaded from the same paths overwrite one
//     another when extracted into one workspace.
//   - actions/cache (and cache/restore, cache/save): skipped with a
//     warning: the step succeeds, restores and saves nothing, and its
//     outputs are empty. Skipping keeps the job correct, only slower.
//   - Any other action, docker:// images and local ./actions are refused,
//     all of them at once with their positions: Gantry runs only run:
//     steps and the actions above.
//
// The script needs only a POSIX sh and the tools of busybox (mktemp,
// find, grep -E, sed, sort, tee, tr, wc, cp, dirname; timeout for step
// timeouts), so it runs in busybox-based images.
//
// # YAML and limits
//
// YAML is read as YAML 1.2, as GitHub does: `on` is a string, yes/no are
// strings. A `true:` key (how YAML 1.1 tools write `on`) is read as `on`
// with a warning. Anchors and aliases are accepted; merge keys `<<` are
// refused, as GitHub refuses them. A duplicate key is accepted, the last
// value winning, with a warning. Unknown keys are errors listing the valid
// ones, with a suggestion for a misspelt key.
//
// Work is bounded for any input: files of at most 2 MiB; 500,000 values,
// 16 MiB of text and 100 levels of nesting with aliases expanded; 1000
// jobs, 1000 steps per job; 256 jobs per matrix; 5000 jobs and 64 MiB of
// scripts per plan; expressions as bounded by pkg/expr/actions. At most
// 200 problems are reported. Parse and Plan recover from internal panics
// into errors.
package ghworkflow
