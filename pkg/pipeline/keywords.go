package pipeline

import (
	"maps"
	"slices"
)

// keywords says how one place in the file (a job, `default:`, an image...)
// treats its keys: supported ones are parsed; GitLab keywords that only
// matter to GitLab's UI or to features Gantry has no use for are ignored
// with a warning; GitLab keywords Gantry cannot honour are refused with the
// reason (running such a job without them would do something else than the
// file says); anything else is an error, as GitLab rejects unknown keys too.
type keywords struct {
	supported []string
	// ignored are warned about and dropped.
	ignored []string
	// refused maps a keyword to the reason Gantry cannot honour it.
	refused map[string]string
}

func (k keywords) isSupported(key string) bool { return slices.Contains(k.supported, key) }
func (k keywords) isIgnored(key string) bool   { return slices.Contains(k.ignored, key) }

// suggest returns the known keyword closest to a misspelt key, or "".
func (k keywords) suggest(key string) string {
	best, bestDist := "", 3 // more than two edits away is not a typo
	all := slices.Concat(k.supported, k.ignored, slices.Sorted(maps.Keys(k.refused)))
	for _, kw := range all {
		if abs(len(key)-len(kw)) >= bestDist {
			continue
		}
		if d := editDistance(key, kw); d < bestDist && d < len(kw) {
			best, bestDist = kw, d
		}
	}
	return best
}

// Reasons shared by several places.
const (
	reasonTrigger   = "Gantry runs no downstream pipelines"
	reasonSecrets   = "Gantry reads no external secret manager; pass secrets with `gantry submit --secret`"
	reasonIDTokens  = "Gantry issues no OIDC ID tokens"
	reasonIdentity  = "Gantry has no identity federation with cloud providers"
	reasonRun       = "Gantry does not run CI/CD steps (`run:`); use `script:`"
	reasonSource    = "Gantry only reads files from the submitted source"
	reasonInputs    = "Gantry does not support `spec:inputs`"
	reasonK8s       = "Gantry has no Kubernetes integration"
	reasonOtherPipe = "Gantry runs no parent/child pipelines"
	reasonOtherProj = "Gantry reads nothing from other projects"
)

// topLevelKeywords are the top-level keys that are not jobs.
var topLevelKeywords = keywords{
	supported: []string{
		"stages", "variables", "default", "workflow", "include",
		// Deprecated globals: applied as `default:` values.
		"image", "services", "before_script", "after_script", "cache",
		// Deprecated spelling of `stages`.
		"types",
	},
}

// deprecatedGlobals are the top-level keywords GitLab still reads as
// `default:` values.
var deprecatedGlobals = []string{"image", "services", "before_script", "after_script", "cache"}

// refusedJobKeywords are job keywords Gantry cannot honour.
var refusedJobKeywords = map[string]string{
	"trigger":   reasonTrigger,
	"secrets":   reasonSecrets,
	"id_tokens": reasonIDTokens,
	"identity":  reasonIdentity,
	"run":       reasonRun,
}

var jobKeywords = keywords{
	supported: []string{
		"stage", "image", "services", "before_script", "script", "after_script",
		"variables", "tags", "extends", "retry", "rules", "only", "except",
		"when", "start_in", "allow_failure", "manual_confirmation", "needs",
		"dependencies", "parallel", "timeout", "artifacts", "cache",
		"coverage", "environment", "resource_group", "interruptible",
		"inherit", "type",
	},
	// Only GitLab's UI or GitLab-hosted features read these.
	ignored: []string{"release", "pages", "publish", "dast_configuration", "hooks"},
	refused: refusedJobKeywords,
}

// inheritableKeywords are the keywords `default:` gives to jobs.
var inheritableKeywords = []string{
	"image", "services", "before_script", "after_script", "tags", "retry",
	"artifacts", "cache", "interruptible", "timeout",
}

var defaultKeywords = keywords{
	supported: inheritableKeywords,
	ignored:   []string{"hooks"},
	refused:   map[string]string{"id_tokens": reasonIDTokens, "identity": reasonIdentity},
}

var imageKeywords = keywords{
	supported: []string{"name", "entrypoint"},
	ignored:   []string{"pull_policy", "docker", "kubernetes"},
}

var serviceKeywords = keywords{
	supported: []string{"name", "alias", "entrypoint", "command", "variables"},
	ignored:   []string{"pull_policy", "docker", "kubernetes"},
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
