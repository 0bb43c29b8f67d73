package ghworkflow

import (
	"fmt"
	"strings"
)

// The script of a job is a list of commands the runner runs in one POSIX
// sh, GitLab-style: the first defines the small library below and
// exports the job's environment, then there is one command per step, and
// a last one exits with the job's status. It works in dash, bash and
// busybox ash, and uses only what busybox has (mktemp, find, grep -E,
// sed, sort, tr, cp, timeout).
//
// Each step's script is written to a file through a quoted here-document
// (nothing in it is expanded by this shell) and run in a subshell with
// the step's shell, working directory and env. The library keeps the
// job's status so far in gh_status and each step's outcome in gh_o_<i>
// and conclusion in gh_c_<i>, and reads the GITHUB_ENV, GITHUB_OUTPUT and
// GITHUB_PATH files a step writes, as the GitHub runner does.
const scriptLibrary = `set +e
gh_status=success
export GITHUB_WORKSPACE="${CI_PROJECT_DIR:-$PWD}"
gh_dir=$(mktemp -d "${TMPDIR:-/tmp}/gantry-gh.XXXXXX") || exit 1
trap 'rm -rf "$gh_dir"' EXIT
export RUNNER_TEMP="$gh_dir/temp" GITHUB_EVENT_PATH="$gh_dir/event.json"
mkdir -p "$RUNNER_TEMP" "$gh_dir/out"
gh_lit() { gh_t=$(cat; printf x); gh_t=${gh_t%x}; printf '%s' "${gh_t%?}"; }
gh_out() { [ -f "$gh_dir/out/$1/$2" ] && cat "$gh_dir/out/$1/$2"; return 0; }
gh_kv() {
  [ -s "$1" ] || return 0
  gh_d=
  while IFS= read -r gh_l || [ -n "$gh_l" ]; do
    if [ -n "$gh_d" ]; then
      if [ "$gh_l" = "$gh_d" ]; then "$2" "$gh_k" "$gh_v"; gh_d=; continue; fi
      if [ -n "$gh_n" ]; then gh_v="$gh_v
$gh_l"; else gh_v=$gh_l gh_n=1; fi
      continue
    fi
    case $gh_l in
    *=*|*'<<'*)
      gh_a=${gh_l%%=*} gh_b=${gh_l%%<<*}
      if [ ${#gh_b} -lt ${#gh_a} ]; then gh_k=$gh_b gh_d=${gh_l#*<<} gh_v= gh_n=
      else "$2" "$gh_a" "${gh_l#*=}"; fi ;;
    '') ;;
    *) echo "gantry: invalid line in ${3:-$1} ignored: $gh_l" >&2 ;;
    esac
  done < "$1"
  [ -z "$gh_d" ] || echo "gantry: ${3:-$1}: no line $gh_d ends the value of $gh_k" >&2
}
gh_setenv() {
  case $1 in ''|[0-9]*|*[!A-Za-z0-9_]*) echo "gantry: GITHUB_ENV: '$1' is not a valid variable name; ignored" >&2; return 0 ;; esac
  export "$1=$2"
}
gh_setout() {
  gh_k=$(printf '%s' "$1" | tr A-Z a-z)
  case $gh_k in ''|.*|*[!a-z0-9_.-]*) echo "gantry: GITHUB_OUTPUT: output name '$1' ignored: use letters, digits, _, . and -" >&2; return 0 ;; esac
  printf '%s' "$2" > "$gh_dir/out/$gh_i/$gh_k"
}
gh_start() {
  gh_i=$1
  mkdir -p "$gh_dir/out/$1"
  for gh_f in env output path state summary; do : > "$gh_dir/$gh_f"; done
  export GITHUB_ENV="$gh_dir/env" GITHUB_OUTPUT="$gh_dir/output" GITHUB_PATH="$gh_dir/path" GITHUB_STATE="$gh_dir/state" GITHUB_STEP_SUMMARY="$gh_dir/summary"
}
gh_end() {
  gh_kv "$GITHUB_ENV" gh_setenv GITHUB_ENV
  gh_kv "$GITHUB_OUTPUT" gh_setout GITHUB_OUTPUT
  while IFS= read -r gh_l || [ -n "$gh_l" ]; do [ -z "$gh_l" ] || PATH="$gh_l:$PATH"; done < "$GITHUB_PATH"
  export PATH
  if [ "$2" -eq 0 ]; then eval "gh_o_$1=success gh_c_$1=success"; return 0; fi
  eval "gh_o_$1=failure"
  if [ "$3" = 1 ]; then
    eval "gh_c_$1=success"
    echo "gantry: the step failed with exit code $2; continue-on-error: the job goes on" >&2
  else
    eval "gh_c_$1=failure"
    gh_status=failure
    echo "gantry: the step failed with exit code $2" >&2
  fi
}
gh_skip() { eval "gh_o_$1=skipped gh_c_$1=skipped"; echo "gantry: step skipped: its if: is false"; }
gh_find() {
  if [ "$1" = . ]; then find . \( -type f -o -type l \) 2>/dev/null | sed 's|^\./||'; else find "$1" \( -type f -o -type l \) 2>/dev/null; fi | grep -E -e "$2" | { if [ -n "$3" ]; then grep -v -E -e "$3"; else cat; fi; }
  return 0
}
gh_stage() {
  gh_a="$GITHUB_WORKSPACE/.gantry-github-artifacts/$1"
  rm -rf "$gh_a"
  gh_c=$(sort -u "$gh_dir/files" | tee "$gh_dir/files.u" | wc -l)
  if [ "$gh_c" -eq 0 ]; then
    case $2 in
    error) echo "gantry: artifact '$1': no files were found with the provided path; no artifact will be uploaded" >&2; return 1 ;;
    warn) echo "gantry: warning: artifact '$1': no files were found with the provided path; no artifact will be uploaded" >&2 ;;
    esac
    return 0
  fi
  gh_r=$3
  if [ "$4" = 1 ] && [ "$gh_c" -eq 1 ] && [ "$(cat "$gh_dir/files.u")" = "$3" ]; then gh_r=$(dirname -- "$3"); fi
  while IFS= read -r gh_f; do
    case $gh_r in .) gh_p=$gh_f ;; /) gh_p=${gh_f#/} ;; *) gh_p=${gh_f#"$gh_r"/} ;; esac
    mkdir -p "$gh_a/$(dirname -- "$gh_p")" && cp -p -- "$gh_f" "$gh_a/$gh_p" || return 1
  done < "$gh_dir/files.u"
  echo "gantry: artifact '$1': $gh_c file(s), uploaded when the job ends"
}
gh_fetch() {
  gh_a="$GITHUB_WORKSPACE/.gantry-github-artifacts/$1"
  if [ ! -d "$gh_a" ]; then
    [ "$3" = optional ] && return 0
    echo "gantry: artifact '$1' not found: no needed job uploaded it" >&2; return 1
  fi
  mkdir -p "$2" && cp -R -p "$gh_a/." "$2/" && echo "gantry: artifact '$1' downloaded to $2"
}`

// artifactsDir is where upload steps put an artifact's files, one
// directory per artifact name, laid out as GitHub would download them.
// The runner uploads these directories as the job's artifacts and
// extracts them into the workspace of the jobs that download them.
const artifactsDir = ".gantry-github-artifacts"

// sq quotes s for POSIX sh as one word.
func sq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// heredoc writes a quoted here-document holding text (which may or may
// not end with a newline) to b, with a delimiter that is not a line of
// text. The shell adds a newline when text has none.
func heredoc(b *strings.Builder, cmd, text, base string) {
	delim := base
	for i := 2; hasLine(text, delim); i++ {
		delim = fmt.Sprintf("%s_%d", base, i)
	}
	fmt.Fprintf(b, "%s <<'%s'\n%s", cmd, delim, text)
	if !strings.HasSuffix(text, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(delim + "\n")
}

func hasLine(text, line string) bool {
	for l := range strings.Lines(text) {
		if strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r") == line {
			return true
		}
	}
	return false
}

// pathWord renders a path GitHub resolves against the workspace as a
// shell word: ~ is the home directory, relative paths are under
// $GITHUB_WORKSPACE.
func pathWord(p string) string {
	switch {
	case p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + sq(p[2:])
	case strings.HasPrefix(p, "/"):
		return sq(p)
	case p == "" || p == ".":
		return `"$GITHUB_WORKSPACE"`
	}
	return `"$GITHUB_WORKSPACE"/` + sq(p)
}
