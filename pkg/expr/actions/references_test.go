package actions

import (
	"slices"
	"testing"
)

func TestReferences(t *testing.T) {
	for _, c := range []struct {
		src  string
		want []string
	}{
		{"1 == 1", nil},
		{"matrix.os", []string{"matrix.os"}},
		{"needs.build.outputs.x == 'y'", []string{"needs.build.outputs.x"}},
		{"github.event['pull_request'].title", []string{"github.event.pull_request.title"}},
		{"github.event.commits[0].message", []string{"github.event.commits[0].message"}},
		{"steps.*.outcome", []string{"steps.*.outcome"}},
		{"needs[*].result", []string{"needs.*.result"}},
		{"matrix[env.KEY].x", []string{"matrix", "env.KEY"}},
		{"github.event.commits[github.x].id", []string{"github.event.commits", "github.x"}},
		{"MATRIX.OS", []string{"matrix.OS"}},
		{"(github).ref", []string{"github.ref"}},
		{"fromJSON(env.X).a", []string{"env.X"}},
		{"toJSON(github)", []string{"github"}},
		{"format('{0}', github.actor) && github.actor", []string{"github.actor"}},
		{"secrets.TOKEN || vars.TOKEN || inputs.token", []string{"secrets.TOKEN", "vars.TOKEN", "inputs.token"}},
		{"!contains(runner.os, job.status) && strategy.job-index > 0", []string{"runner.os", "job.status", "strategy.job-index"}},
		{"github[true]", []string{"github"}},
		{"jobs.x.result", []string{"jobs.x.result"}},
	} {
		e, err := Parse(c.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.src, err)
		}
		if got := References(e); !slices.Equal(got, c.want) {
			t.Errorf("References(%q) = %q, want %q", c.src, got, c.want)
		}
	}
}

func TestReferencesOfTemplatesAndConditions(t *testing.T) {
	e, err := ParseTemplate("run ${{ matrix.os }} for ${{ github.actor }} on ${{ matrix.os }}")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := References(e), []string{"matrix.os", "github.actor"}; !slices.Equal(got, want) {
		t.Errorf("References(template) = %q, want %q", got, want)
	}
	e, err = ParseIf("needs.build.result == 'success'")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := References(e), []string{"needs.build.result"}; !slices.Equal(got, want) {
		t.Errorf("References(if) = %q, want %q", got, want)
	}
}
