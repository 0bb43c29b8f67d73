package submit

import (
	"fmt"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// notHonoured lists, as warnings, the keywords the parser understands but
// this coordinator does not act on yet: the run goes ahead in stage order,
// and the user is told exactly what was left out rather than having it
// silently dropped. The list shrinks as the scheduler learns them.
func notHonoured(p *pipeline.Pipeline) []string {
	var out []string
	warn := func(pos pipeline.Pos, format string, args ...any) {
		out = append(out, pos.String()+": "+fmt.Sprintf(format, args...)+" is not acted on by this coordinator yet and was ignored")
	}
	if p.Workflow != nil {
		warn(pipeline.Pos{File: firstFile(p), Line: 1, Column: 1}, "`workflow:`")
	}
	for _, j := range p.Jobs {
		ctx := fmt.Sprintf("job %q: ", j.Name)
		check := func(set bool, kw string) {
			if set {
				warn(j.Pos, "%s`%s`", ctx, kw)
			}
		}
		check(j.UsesRules, "rules")
		check(j.Only != nil, "only")
		check(j.Except != nil, "except")
		check(j.When != "" && j.When != "on_success", "when: "+j.When)
		check(j.AllowFailure != nil, "allow_failure")
		check(j.UsesNeeds, "needs")
		check(j.UsesDependencies, "dependencies")
		check(j.Parallel != nil, "parallel")
		check(j.Timeout != 0, "timeout")
		check(j.Artifacts != nil, "artifacts")
		check(len(j.Cache) > 0, "cache")
		check(j.Coverage != "", "coverage")
		check(j.Environment != nil, "environment")
		check(j.ResourceGroup != "", "resource_group")
		check(j.Interruptible != nil, "interruptible")
	}
	return out
}

func firstFile(p *pipeline.Pipeline) string {
	for _, j := range p.Jobs {
		return j.Pos.File
	}
	return ""
}
