package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Text renders the plan for people and golden tests: a header, then one
// line per job with its stage, name, when, needs and allow_failure. Needs
// read "-" for a job that waits for the earlier stages, "[]" for
// `needs: []`.
func (p *Plan) Text() string {
	var b strings.Builder
	if !p.Created {
		fmt.Fprintf(&b, "pipeline not created: %s\n", p.Reason)
		return b.String()
	}
	b.WriteString("pipeline created")
	if p.Name != "" {
		fmt.Fprintf(&b, ": %q", p.Name)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tJOB\tWHEN\tNEEDS\tALLOW_FAILURE")
	for _, j := range p.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Stage, j.Name, j.whenText(), j.needsText(), j.allowFailureText())
	}
	tw.Flush()
	return b.String()
}

func (j *PlanJob) whenText() string {
	if j.When == "delayed" {
		return "delayed " + strings.ReplaceAll(formatDuration(j.StartIn), " ", "")
	}
	return j.When
}

func (j *PlanJob) needsText() string {
	if !j.UsesNeeds {
		return "-"
	}
	names := make([]string, len(j.Needs))
	for i, n := range j.Needs {
		names[i] = n.Job
		if !n.Artifacts {
			names[i] += " (no artifacts)"
		}
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func (j *PlanJob) allowFailureText() string {
	if !j.AllowFailure {
		return "false"
	}
	if len(j.AllowFailureExitCodes) == 0 {
		return "true"
	}
	codes := make([]string, len(j.AllowFailureExitCodes))
	for i, c := range j.AllowFailureExitCodes {
		codes[i] = strconv.Itoa(c)
	}
	return "exit codes " + strings.Join(codes, ", ")
}
