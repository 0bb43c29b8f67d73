package pipeline

import "slices"

// keywords says how one place in the file (a job, `default:`, an image...)
// treats its keys: implemented ones are parsed, GitLab keywords not
// implemented yet are ignored with a warning, anything else is an error, as
// GitLab rejects unknown keys too.
type keywords struct {
	supported   []string
	unsupported []string
}

func (k keywords) isSupported(key string) bool   { return slices.Contains(k.supported, key) }
func (k keywords) isUnsupported(key string) bool { return slices.Contains(k.unsupported, key) }

// suggest returns the known keyword closest to a misspelt key, or "".
func (k keywords) suggest(key string) string {
	best, bestDist := "", 3 // more than two edits away is not a typo
	for _, kw := range slices.Concat(k.supported, k.unsupported) {
		if abs(len(key)-len(kw)) >= bestDist {
			continue
		}
		if d := editDistance(key, kw); d < bestDist && d < len(kw) {
			best, bestDist = kw, d
		}
	}
	return best
}

// topLevelKeywords are the top-level keys that are not jobs.
var topLevelKeywords = keywords{
	supported: []string{
		"stages", "variables", "default",
		// Deprecated globals: applied as `default:` values.
		"image", "services", "before_script", "after_script",
	},
	unsupported: []string{"workflow", "include", "cache"},
}

// deprecatedGlobals are the top-level keywords GitLab still reads as
// `default:` values.
var deprecatedGlobals = []string{"image", "services", "before_script", "after_script"}

var jobKeywords = keywords{
	supported: []string{
		"stage", "image", "services", "before_script", "script", "after_script",
		"variables", "tags", "extends", "retry",
	},
	unsupported: []string{
		"rules", "only", "except", "when", "needs", "dependencies", "artifacts",
		"cache", "coverage", "allow_failure", "timeout", "parallel",
		"environment", "resource_group", "interruptible", "trigger", "release",
		"pages", "secrets", "id_tokens", "inherit", "hooks", "identity",
		"manual_confirmation", "start_in", "dast_configuration", "run",
	},
}

var defaultKeywords = keywords{
	supported: []string{"image", "services", "before_script", "after_script", "tags", "retry"},
	unsupported: []string{
		"artifacts", "cache", "hooks", "id_tokens", "identity", "interruptible",
		"timeout",
	},
}

var imageKeywords = keywords{
	supported:   []string{"name", "entrypoint"},
	unsupported: []string{"pull_policy", "docker", "kubernetes"},
}

var serviceKeywords = keywords{
	supported:   []string{"name", "alias", "entrypoint", "command", "variables"},
	unsupported: []string{"pull_policy", "docker", "kubernetes"},
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
