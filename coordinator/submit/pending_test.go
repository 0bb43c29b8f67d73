package submit

import (
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

func TestNotHonouredWarnsByPosition(t *testing.T) {
	p, err := pipeline.Parse("ci.yml", []byte(`build:
  script: [make]
  retry: 1
  needs: []
  parallel: 2
deploy:
  script: [make deploy]
  needs: [build]
  environment: production
  artifacts:
    reports:
      junit: report.xml
    public: false
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(pipeline.PlanInput{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(notHonoured(plan), "\n")
	if want := "ci.yml:6:1: job \"deploy\": `artifacts:public/access (restricting downloads)` is not acted on by this coordinator yet and was ignored"; !strings.Contains(got, want) {
		t.Errorf("warnings\n%s\nlack %q", got, want)
	}
	if strings.Contains(got, "build") || strings.Count(got, "\n") != 0 {
		t.Errorf("retry, needs, parallel, rules, reports and environment are honoured; want one warning, got:\n%s", got)
	}
}
