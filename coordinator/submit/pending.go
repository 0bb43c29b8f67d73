package submit

import (
	"fmt"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// notHonoured lists, as warnings, the keywords the parser understands but
// this coordinator does not act on yet, so that the user is told exactly
// what was left out rather than having it silently dropped. The list
// shrinks as the coordinator learns them.
func notHonoured(plan *pipeline.Plan) []string {
	var out []string
	seen := map[*pipeline.Job]bool{}
	for _, pj := range plan.Jobs {
		j := pj.Job
		if seen[j] {
			continue
		}
		seen[j] = true
		check := func(set bool, kw string) {
			if set {
				out = append(out, fmt.Sprintf("%s: job %q: `%s` is not acted on by this coordinator yet and was ignored", j.Pos, j.Name, kw))
			}
		}
		if a := pj.Artifacts; a != nil {
			check(!a.Public, "artifacts:public/access (restricting downloads)")
		}
	}
	return out
}
