package cli

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".gitlab-ci.yml": "include: ci/tests.yml\nbuild:\n  script: [make]\n  release: {description: x}\n",
		"ci/tests.yml":   "unit:\n  script: [make test]\n",
	})
	out, errOut, code := gantry(t.Context(), "lint", "--dir", dir)
	if code != 0 || !strings.Contains(out, "is valid: 2 jobs") || !strings.Contains(out, "keyword `release`") {
		t.Errorf("valid file: exit %d\n%s%s", code, out, errOut)
	}
	bad := writeTree(t, map[string]string{".gitlab-ci.yml": "a:\n  script: [x]\n  needs: [b]\nb:\n  script: [y]\n  needs: [a]\nc:\n  stage: nope\n  script: [z]\n"})
	out, errOut, code = gantry(t.Context(), "lint", "--dir", bad)
	if code != 1 || !strings.Contains(errOut, "is invalid") || !strings.Contains(out, ".gitlab-ci.yml:") || !strings.Contains(out, "nope") {
		t.Errorf("invalid file: exit %d, want 1 with every error by position\n%s%s", code, out, errOut)
	}
}

func TestPlan(t *testing.T) {
	dir := writeTree(t, map[string]string{".gitlab-ci.yml": `build:
  stage: build
  script: [make]
test:
  stage: test
  needs: [build]
  script: [make test]
deploy:
  stage: deploy
  script: [make deploy]
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      when: manual
`})
	out, errOut, code := gantry(t.Context(), "plan", "--dir", dir, "--ref", "main")
	if code != 0 || !strings.Contains(out, "3 jobs") || !strings.Contains(out, "deploy") || !strings.Contains(out, "manual") {
		t.Errorf("plan for main: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = gantry(t.Context(), "plan", "--dir", dir, "--ref", "feature")
	if code != 0 || !strings.Contains(out, "2 jobs") || strings.Contains(out, "deploy") {
		t.Errorf("plan for a feature branch: exit %d\n%s", code, out)
	}
	out, _, _ = gantry(t.Context(), "plan", "--dir", dir, "--ref", "main", "--format", "dot")
	if !strings.HasPrefix(out, "digraph pipeline {") || !strings.Contains(out, `"build" -> "test"`) || !strings.Contains(out, `"test" -> "deploy"`) {
		t.Errorf("dot:\n%s", out)
	}
	out, _, _ = gantry(t.Context(), "plan", "--dir", dir, "--ref", "main", "--format", "mermaid")
	if !strings.HasPrefix(out, "flowchart LR") || !strings.Contains(out, "j0 --> j1") {
		t.Errorf("mermaid:\n%s", out)
	}
}
