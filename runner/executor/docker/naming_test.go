package docker

import (
	"regexp"
	"slices"
	"testing"

	"github.com/gantry-ci/gantry/runner/executor"
)

func TestServiceAliases(t *testing.T) {
	cases := []struct {
		svc  executor.Service
		want []string
	}{
		{executor.Service{Name: "postgres:15"}, []string{"postgres"}},
		{executor.Service{Name: "postgres"}, []string{"postgres"}},
		{executor.Service{Name: "tutum/wordpress:latest"}, []string{"tutum__wordpress", "tutum-wordpress"}},
		{executor.Service{Name: "registry.example.com/group/tool:1.2"},
			[]string{"registry.example.com__group__tool", "registry.example.com-group-tool"}},
		{executor.Service{Name: "registry.gitlab-wp.com:4999/tutum/wordpress"},
			[]string{"registry.gitlab-wp.com__tutum__wordpress", "registry.gitlab-wp.com-tutum-wordpress"}},
		{executor.Service{Name: "localhost:5000/db:1@sha256:abcd"}, []string{"localhost__db", "localhost-db"}},
		{executor.Service{Name: "redis:7", Alias: "cache"}, []string{"redis", "cache"}},
		{executor.Service{Name: "redis:7", Alias: "cache, kv store,redis"}, []string{"redis", "cache", "kv", "store"}},
	}
	for _, tc := range cases {
		if got := serviceAliases(tc.svc); !slices.Equal(got, tc.want) {
			t.Errorf("serviceAliases(%q, alias %q) = %q, want %q", tc.svc.Name, tc.svc.Alias, got, tc.want)
		}
	}
}

// validName is what Docker accepts as a container, network or volume name.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func TestNamesAreValidDockerNames(t *testing.T) {
	n := newNames("Runner #1/eu west", 42, 3)
	for _, name := range []string{n.network(), n.volume(), n.build(), n.afterScript(),
		n.service(0, []string{"registry.example.com__group__tool"})} {
		if !validName.MatchString(name) {
			t.Errorf("%q is not a valid Docker name", name)
		}
	}
	if got, want := n.build(), "gantry-Runner--1-eu-west-job-42-3-build"; got != want {
		t.Errorf("build container name = %q, want %q", got, want)
	}
	if got := n.labels(roleBuild); got[labelRunnerID] != "Runner #1/eu west" || got[labelJobID] != "42" ||
		got[labelEpoch] != "3" || got[labelManaged] != "true" {
		t.Errorf("labels = %v", got)
	}
}

func TestEnvListLaterOverridesEarlier(t *testing.T) {
	got := envList(
		[]executor.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "2"}, {Key: "", Value: "x"}, {Key: "C=D", Value: "x"}},
		[]executor.Variable{{Key: "A", Value: "3"}, {Key: "E", Value: "a=b"}},
	)
	want := []string{"A=3", "B=2", "E=a=b"}
	if !slices.Equal(got, want) {
		t.Errorf("envList = %q, want %q", got, want)
	}
}
