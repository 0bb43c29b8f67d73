package pipeline

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testFile = "ci.yml"

// mustParse parses src and fails the test on any error.
func mustParse(t *testing.T, src string) *Pipeline {
	t.Helper()
	pl, err := Parse(testFile, []byte(src))
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return pl
}

// parseErrors parses src, expects it to fail, and returns the messages.
func parseErrors(t *testing.T, src string) []string {
	t.Helper()
	pl, err := Parse(testFile, []byte(src))
	if err == nil {
		t.Fatalf("Parse: expected an error, got a pipeline with jobs %v", jobNames(pl))
	}
	if pl != nil {
		t.Errorf("Parse: a pipeline was returned along with an error")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse: error is %T, want ErrorList", err)
	}
	msgs := make([]string, len(list))
	for i, e := range list {
		msgs[i] = e.Error()
	}
	return msgs
}

func warnings(pl *Pipeline) []string {
	out := make([]string, len(pl.Warnings))
	for i, w := range pl.Warnings {
		out[i] = w.String()
	}
	return out
}

func jobNames(pl *Pipeline) []string {
	var names []string
	for _, j := range pl.Jobs {
		names = append(names, j.Name)
	}
	return names
}

func job(t *testing.T, pl *Pipeline, name string) *Job {
	t.Helper()
	j := pl.Job(name)
	if j == nil {
		t.Fatalf("no job %q; jobs are %v", name, jobNames(pl))
	}
	return j
}

// equal compares slices by content; nil and empty are the same here.
func equal[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("%s:\n got: %#v\nwant: %#v", what, got, want)
	}
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
