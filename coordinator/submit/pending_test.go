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
deploy:
  script: [make deploy]
  needs: [build]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(notHonoured(p), "\n")
	for _, want := range []string{
		"ci.yml:4:1: job \"deploy\": `rules` is not acted on by this coordinator yet and was ignored",
		"ci.yml:4:1: job \"deploy\": `needs` is not acted on",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings\n%s\nlack %q", got, want)
		}
	}
	if strings.Contains(got, "build") {
		t.Errorf("retry is honoured, yet warned about:\n%s", got)
	}
}
