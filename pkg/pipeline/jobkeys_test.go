package pipeline

import (
	"reflect"
	"testing"
	"time"
)

func TestJobKeywords(t *testing.T) {
	pl := mustParse(t, `
stages: [build, test, deploy]
default:
  artifacts: {paths: [default-out/]}
  cache: {key: dflt, paths: [.cache/]}
  interruptible: true
  timeout: 30m
full:
  stage: deploy
  script: x
  when: delayed
  start_in: 1 hour and 30 minutes
  allow_failure:
    exit_codes: [1, 137]
  timeout: 2h 30m
  interruptible: false
  resource_group: prod-$CI_ENVIRONMENT_NAME
  coverage: '/Coverage: \d+\.\d+%/'
  artifacts:
    name: bin-$CI_COMMIT_REF_SLUG
    paths: [bin/, dist/]
    exclude: [bin/*.tmp]
    untracked: true
    when: on_failure
    expire_in: 3 days
    expose_as: Binaries
    public: false
    reports:
      junit: [a.xml, b.xml]
      dotenv: build.env
      coverage_report: {coverage_format: jacoco, path: jacoco.xml}
  cache:
    - key:
        files: [Gemfile.lock, package-lock.json]
        prefix: deps
      paths: [vendor/]
      policy: $CACHE_POLICY
      when: always
      unprotect: true
    - key: second
      untracked: true
      fallback_keys: [a, b]
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$CI_COMMIT_REF_SLUG.example.com
    on_stop: stop
    auto_stop_in: 2 days
    deployment_tier: development
stop:
  stage: deploy
  script: x
  when: manual
  environment: {name: review/$CI_COMMIT_REF_SLUG, action: stop}
plain:
  stage: test
  script: x
  allow_failure: yes
`)
	full := job(t, pl, "full")
	if full.When != "delayed" || full.StartIn != 90*time.Minute {
		t.Errorf("when %q start_in %v", full.When, full.StartIn)
	}
	if !reflect.DeepEqual(full.AllowFailure, &AllowFailure{Allowed: true, ExitCodes: []int{1, 137}}) {
		t.Errorf("allow_failure %+v", full.AllowFailure)
	}
	if full.Timeout != 150*time.Minute || full.Interruptible == nil || *full.Interruptible || full.ResourceGroup != "prod-$CI_ENVIRONMENT_NAME" {
		t.Errorf("timeout %v interruptible %v resource_group %q", full.Timeout, full.Interruptible, full.ResourceGroup)
	}
	if full.Coverage != `/Coverage: \d+\.\d+%/` {
		t.Errorf("coverage %q", full.Coverage)
	}
	wantArtifacts := &Artifacts{
		Name: "bin-$CI_COMMIT_REF_SLUG", Paths: []string{"bin/", "dist/"}, Exclude: []string{"bin/*.tmp"},
		Untracked: true, When: "on_failure", ExpireIn: 72 * time.Hour, ExposeAs: "Binaries",
		Public: false, Access: "developer",
		Reports: Reports{JUnit: []string{"a.xml", "b.xml"}, Dotenv: []string{"build.env"}, CoverageReport: &CoverageReport{Format: "jacoco", Path: "jacoco.xml"}},
	}
	if !reflect.DeepEqual(full.Artifacts, wantArtifacts) {
		t.Errorf("artifacts\n got %+v\nwant %+v", full.Artifacts, wantArtifacts)
	}
	equal(t, "caches", full.Cache, []Cache{
		{KeyFiles: []string{"Gemfile.lock", "package-lock.json"}, KeyPrefix: "deps", Paths: []string{"vendor/"}, Policy: "$CACHE_POLICY", When: "always", Unprotect: true},
		{Key: "second", Untracked: true, Policy: "pull-push", When: "on_success", FallbackKeys: []string{"a", "b"}},
	})
	wantEnv := &Environment{Name: "review/$CI_COMMIT_REF_SLUG", URL: "https://$CI_COMMIT_REF_SLUG.example.com", Action: "start", OnStop: "stop", AutoStopIn: "2 days", DeploymentTier: "development"}
	if !reflect.DeepEqual(full.Environment, wantEnv) {
		t.Errorf("environment %+v", full.Environment)
	}

	plain := job(t, pl, "plain")
	if plain.AllowFailure == nil || !plain.AllowFailure.Allowed {
		t.Errorf("allow_failure: yes = %+v", plain.AllowFailure)
	}
	if plain.When != "on_success" || plain.Timeout != 30*time.Minute || plain.Interruptible == nil || !*plain.Interruptible {
		t.Errorf("plain: when %q timeout %v interruptible %v (defaults)", plain.When, plain.Timeout, plain.Interruptible)
	}
	if plain.Artifacts == nil || plain.Artifacts.Paths[0] != "default-out/" || len(plain.Cache) != 1 || plain.Cache[0].Key != "dflt" {
		t.Errorf("plain: artifacts %+v cache %+v (defaults)", plain.Artifacts, plain.Cache)
	}
}

func TestInherit(t *testing.T) {
	pl := mustParse(t, `
default:
  image: alpine
  before_script: [setup]
  retry: 2
variables:
  A: a
  B: b
none:
  script: x
  inherit: {default: false, variables: false}
some:
  script: x
  inherit:
    default: [image, retry]
    variables: [B]
all:
  script: x
  inherit: {default: true, variables: true}
`)
	none := job(t, pl, "none")
	if none.Image != nil || none.BeforeScript != nil || none.Retry != nil || !none.InheritVariables.None {
		t.Errorf("none: image %v before_script %v retry %v inherit %+v", none.Image, none.BeforeScript, none.Retry, none.InheritVariables)
	}
	some := job(t, pl, "some")
	if some.Image == nil || some.BeforeScript != nil || some.Retry == nil || some.InheritVariables.Includes("A") || !some.InheritVariables.Includes("B") {
		t.Errorf("some: image %v before_script %v retry %v inherit %+v", some.Image, some.BeforeScript, some.Retry, some.InheritVariables)
	}
	all := job(t, pl, "all")
	if all.Image == nil || all.BeforeScript == nil || all.Retry == nil || !all.InheritVariables.Includes("A") {
		t.Errorf("all: image %v before_script %v retry %v", all.Image, all.BeforeScript, all.Retry)
	}
}

func TestNeedsForms(t *testing.T) {
	pl := mustParse(t, `
stages: [build, test]
a:
  stage: build
  script: x
m:
  stage: build
  script: x
  parallel:
    matrix:
      - OS: [linux, mac]
        ARCH: [amd64, arm64]
b:
  stage: test
  script: x
  needs:
    - a
    - job: m
      artifacts: false
      optional: true
      parallel:
        matrix:
          - OS: linux
            ARCH: [amd64, arm64]
    - job: gone
      optional: true
none:
  stage: test
  script: x
  needs: []
`)
	b := job(t, pl, "b")
	want := []Need{
		{Pos: Pos{File: "ci.yml", Line: 17, Column: 7}, Job: "a", Artifacts: true},
		{Pos: Pos{File: "ci.yml", Line: 18, Column: 12}, Job: "m", Optional: true, Matrix: []MatrixRow{{{Name: "OS", Values: []string{"linux"}}, {Name: "ARCH", Values: []string{"amd64", "arm64"}}}}},
		{Pos: Pos{File: "ci.yml", Line: 25, Column: 12}, Job: "gone", Artifacts: true, Optional: true},
	}
	if !b.UsesNeeds || !reflect.DeepEqual(b.Needs, want) {
		t.Errorf("needs\n got %+v\nwant %+v", b.Needs, want)
	}
	if none := job(t, pl, "none"); !none.UsesNeeds || none.Needs == nil || len(none.Needs) != 0 {
		t.Errorf("needs: [] = %#v (uses %v)", none.Needs, none.UsesNeeds)
	}
	if a := job(t, pl, "a"); a.UsesNeeds {
		t.Errorf("a uses needs")
	}
}

func TestParallelInstances(t *testing.T) {
	pl := mustParse(t, `
count:
  script: x
  parallel: 3
one:
  script: x
  parallel: 1
matrix:
  script: x
  parallel:
    matrix:
      - PROVIDER: aws
        STACK: [monitoring, app1]
      - PROVIDER: [gcp, vultr]
        STACK: [data, processing]
        VERSION: 2
`)
	names := func(j *Job) []string {
		var out []string
		for _, in := range j.instances() {
			out = append(out, in.name)
		}
		return out
	}
	equal(t, "count", names(job(t, pl, "count")), []string{"count 1/3", "count 2/3", "count 3/3"})
	equal(t, "one", names(job(t, pl, "one")), []string{"one 1/1"})
	equal(t, "matrix", names(job(t, pl, "matrix")), []string{
		"matrix: [aws, monitoring]", "matrix: [aws, app1]",
		"matrix: [gcp, data, 2]", "matrix: [gcp, processing, 2]", "matrix: [vultr, data, 2]", "matrix: [vultr, processing, 2]",
	})
	in := job(t, pl, "matrix").instances()[3]
	equal(t, "instance vars", in.vars, []Variable{{Key: "PROVIDER", Value: "gcp"}, {Key: "STACK", Value: "processing"}, {Key: "VERSION", Value: "2"}})
	if in.index != 4 || in.total != 6 {
		t.Errorf("index %d total %d", in.index, in.total)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"3600":                    time.Hour,
		"5":                       5 * time.Second,
		"30 minutes":              30 * time.Minute,
		"1h 30m":                  90 * time.Minute,
		"1h30m":                   90 * time.Minute,
		"1 hour and 30 minutes":   90 * time.Minute,
		"2 days, 3 hours":         51 * time.Hour,
		"1.5h":                    90 * time.Minute,
		"1 week":                  7 * 24 * time.Hour,
		"1 mo":                    30 * 24 * time.Hour,
		"1:30:00":                 90 * time.Minute,
		"10:00":                   10 * time.Minute,
		"  3 Hours 10 Seconds   ": 3*time.Hour + 10*time.Second,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "5 bananas", "-5m", "1:2:3:4:5", "h"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
	if got := formatDuration(8*24*time.Hour + 90*time.Minute + 5*time.Second); got != "1w 1d 1h 30m 5s" {
		t.Errorf("formatDuration = %q", got)
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"*.md", "README.md", true},
		{"*.md", "docs/README.md", false},
		{"docs/*", "docs/a.md", true},
		{"docs/*", "docs/sub/a.md", false},
		{"docs/**/*", "docs/sub/a.md", true},
		{"docs/**/*", "docs/a.md", true},
		{"**/*.go", "main.go", true},
		{"**/*.go", "a/b/c/main.go", true},
		{"**/*.go", "a/b/c/main.rs", false},
		{"docs/**", "docs/a.md", true},
		{"docs/**", "docs/sub/a.md", false}, // `**` without a slash is `*`
		{"*", ".hidden", true},              // FNM_DOTMATCH
		{"**/*", ".gitlab/ci.yml", true},
		{"src/{api,web}/*.ts", "src/web/app.ts", true},
		{"src/{api,web}/*.ts", "src/cli/app.ts", false},
		{"{a,b{c,d}}.txt", "bd.txt", true},
		{"file?.txt", "file1.txt", true},
		{"file?.txt", "file10.txt", false},
		{"[a-c]at", "bat", true},
		{"[!a-c]at", "bat", false},
		{"[^a-c]at", "rat", true},
		{`\*.txt`, "*.txt", true},
		{`\*.txt`, "a.txt", false},
		{"Dockerfile", "Dockerfile", true},
		{"Dockerfile", "app/Dockerfile", false},
		{"**/Dockerfile", "app/Dockerfile", true},
		{"a*b*c", "abxbxc", true},
		{"a*b*c", "abxbx", false},
		{"[unclosed", "[unclosed", true},
	}
	for _, tt := range tests {
		if got := MatchGlob(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
	// Many `**` stay fast (the matcher is a dynamic program).
	start := time.Now()
	MatchGlob("**/**/**/**/**/**/**/**/**/**/**/**/x", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/y")
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}
