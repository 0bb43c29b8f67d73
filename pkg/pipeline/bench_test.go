package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// benchPipeline is a pipeline of n jobs shaped like a large monorepo's:
// templates three levels deep, rules on changes and branches, needs across
// stages, parallel jobs and a matrix.
func benchPipeline(n int) []byte {
	var b strings.Builder
	b.WriteString(`stages: [prepare, build, test, package, deploy]
variables:
  GOFLAGS: -mod=readonly
  REGISTRY: registry.example.com/acme
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH
    - if: $CI_COMMIT_TAG
default:
  image: golang:1.26
  interruptible: true
  retry: {max: 1, when: [runner_system_failure]}
.base:
  variables: {LEVEL: base}
  tags: [linux]
  before_script: [echo start]
.service:
  extends: .base
  variables: {LEVEL: service}
  cache: {key: {files: [go.sum]}, paths: [.go/]}
  artifacts: {paths: [out/], expire_in: 1 day, reports: {junit: report.xml}}
.rules:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      changes: {paths: ["services/$SVC/**/*", go.sum], compare_to: refs/heads/main}
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
    - if: $CI_COMMIT_TAG =~ /^v\d+/
      when: manual
generate:
  stage: prepare
  extends: .base
  script: [make generate]
`)
	stages := []string{"build", "test", "package", "deploy"}
	for i := 0; i < n-1; i++ {
		stage := stages[i%len(stages)]
		fmt.Fprintf(&b, "job-%d:\n  extends: [.service, .rules]\n  stage: %s\n  variables: {SVC: svc%d}\n", i, stage, i/len(stages))
		fmt.Fprintf(&b, "  script:\n    - go test ./services/svc%d/...\n    - !reference [.base, before_script]\n", i/len(stages))
		switch {
		case stage == "build":
			b.WriteString("  needs: [generate]\n")
		case i%20 == 1:
			b.WriteString("  parallel: 4\n")
			fmt.Fprintf(&b, "  needs: [job-%d]\n", i-1)
		case i%20 == 2:
			b.WriteString("  parallel:\n    matrix:\n      - OS: [linux, darwin]\n        ARCH: [amd64, arm64]\n")
			fmt.Fprintf(&b, "  needs: [job-%d, {job: job-%d, optional: true}]\n", i-2, i-1)
		default:
			fmt.Fprintf(&b, "  needs: [job-%d, {job: job-%d, artifacts: false}]\n", i-i%len(stages), i-1)
		}
		if stage == "deploy" {
			fmt.Fprintf(&b, "  environment: {name: prod/svc%d}\n  resource_group: prod-svc%d\n", i/len(stages), i/len(stages))
		}
	}
	return []byte(b.String())
}

func BenchmarkParsePlan500(b *testing.B) {
	data := benchPipeline(500)
	in := PlanInput{Ref: "main", DefaultBranch: "main", SHA: "0123456789abcdef0123456789abcdef01234567", ChangedFiles: []string{"services/svc3/main.go"}}
	pl, err := Parse(".gitlab-ci.yml", data)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := pl.Plan(in)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(plan.Jobs)), "planned-jobs")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		pl, err := Parse(".gitlab-ci.yml", data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pl.Plan(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan500(b *testing.B) {
	pl, err := Parse(".gitlab-ci.yml", benchPipeline(500))
	if err != nil {
		b.Fatal(err)
	}
	in := PlanInput{Ref: "feature/x", Source: "merge_request_event", DefaultBranch: "main", ChangedFiles: []string{"services/svc3/main.go"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pl.Plan(in); err != nil {
			b.Fatal(err)
		}
	}
}
