package pipeline

import "testing"

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "undefined stage",
			src:  "stages: [build, test]\nj:\n  stage: deploy\n  script: x\n",
			want: []string{`ci.yml:3:10: job "j": stage "deploy" is not defined; the defined stages are .pre, build, test, .post`},
		},
		{
			name: "default stage not defined",
			src:  "stages: [build]\nj:\n  script: x\n",
			want: []string{"ci.yml:2:1: job \"j\": stage \"test\" is not defined (the default stage); set `stage:` or add it to `stages:`; the defined stages are .pre, build, .post"},
		},
		{
			name: "missing script",
			src:  "j:\n  image: alpine\n",
			want: []string{`ci.yml:1:1: job "j": script is required`},
		},
		{
			name: "empty script",
			src:  "j:\n  script: []\n",
			want: []string{`ci.yml:2:11: job "j": script must not be empty`},
		},
		{
			name: "null script",
			src:  "j:\n  script:\n",
			want: []string{`ci.yml:2:10: job "j": script must be a string or a list of strings, got null`},
		},
		{
			name: "unknown keyword with a suggestion",
			src:  "j:\n  scirpt: x\n  script: x\n",
			want: []string{"ci.yml:2:3: job \"j\": unknown keyword `scirpt`; did you mean `script`?"},
		},
		{
			name: "unknown keyword",
			src:  "j:\n  script: x\n  frobnicate: true\n",
			want: []string{"ci.yml:3:3: job \"j\": unknown keyword `frobnicate`"},
		},
		{
			name: "image of the wrong type",
			src:  "build:\n  script: x\n  image: [a, b]\n",
			want: []string{`ci.yml:3:10: job "build": image must be a string or a mapping with "name", got a list`},
		},
		{
			name: "image mapping without name",
			src:  "j:\n  script: x\n  image:\n    entrypoint: [sh]\n",
			want: []string{"ci.yml:4:5: job \"j\": image: `name` is required"},
		},
		{
			name: "service of the wrong type",
			src:  "j:\n  script: x\n  services:\n    - [postgres]\n",
			want: []string{`ci.yml:4:7: job "j": service must be a string or a mapping with "name", got a list`},
		},
		{
			name: "services not a list",
			src:  "j:\n  script: x\n  services: postgres\n",
			want: []string{`ci.yml:3:13: job "j": services must be a list of images, got a string`},
		},
		{
			name: "script line that YAML read as a mapping",
			src:  "j:\n  script:\n    - echo \"a\"\n    - echo key: value\n",
			want: []string{`ci.yml:4:7: job "j": script entries must be strings, got a mapping (a line containing ": " must be quoted)`},
		},
		{
			name: "top-level scalar that is not a keyword",
			src:  "stage: build\nj:\n  script: x\n",
			want: []string{"ci.yml:1:1: \"stage\" is neither a keyword nor a job: a job must be a mapping of keywords, got a string; did you mean `stages`?"},
		},
		{
			name: "job that is not a mapping",
			src:  "j:\n  script: x\nlint: [flake8]\n",
			want: []string{`ci.yml:3:1: "lint" is neither a keyword nor a job: a job must be a mapping of keywords, got a list`},
		},
		{
			name: "invalid variable names",
			src:  "variables:\n  MY-VAR: x\n  \"with space\": y\nj:\n  script: x\n  variables:\n    OK_1: z\n    bad.name: z\n",
			want: []string{
				`ci.yml:2:3: variable name "MY-VAR" is invalid: use only letters, digits and "_"`,
				`ci.yml:3:3: variable name "with space" is invalid: use only letters, digits and "_"`,
				`ci.yml:8:5: job "j": variable name "bad.name" is invalid: use only letters, digits and "_"`,
			},
		},
		{
			name: "variable of the wrong type",
			src:  "variables:\n  LIST: [a]\nj:\n  script: x\n",
			want: []string{"ci.yml:2:9: variable \"LIST\": a value must be a string, a number, a boolean or a mapping with `value`, got a list"},
		},
		{
			name: "variable description on a job",
			src:  "j:\n  script: x\n  variables:\n    V: {value: a, description: d}\n",
			want: []string{"ci.yml:4:19: job \"j\": variable \"V\": `description` is only allowed on pipeline-level variables"},
		},
		{
			name: "variable value not among its options",
			src:  "variables:\n  ENV: {value: prod, options: [staging, production]}\nj:\n  script: x\n",
			want: []string{`ci.yml:2:16: variable "ENV": value "prod" must be one of its options`},
		},
		{
			name: "variable expand not a boolean",
			src:  "variables:\n  V: {value: a, expand: \"no\"}\nj:\n  script: x\n",
			want: []string{`ci.yml:2:25: variable "V": expand must be true or false, got a string`},
		},
		{
			name: "stages not a list",
			src:  "stages: build\nj:\n  script: x\n",
			want: []string{"ci.yml:1:9: stages must be a list of stage names, got a string"},
		},
		{
			name: "stage not a string",
			src:  "stages: [build]\nj:\n  stage: [build]\n  script: x\n",
			want: []string{`ci.yml:3:10: job "j": stage must be a string, got a list`},
		},
		{
			name: "tags not a list",
			src:  "j:\n  script: x\n  tags: docker\n",
			want: []string{`ci.yml:3:9: job "j": tags must be a list of strings, got a string`},
		},
		{
			name: "unknown default keyword",
			src:  "default:\n  script: x\nj:\n  script: x\n",
			want: []string{"ci.yml:2:3: default: unknown keyword `script`"},
		},
		{
			name: "empty file",
			src:  "# nothing yet\n",
			want: []string{"ci.yml:1:1: the pipeline is empty: it needs at least one job with a script"},
		},
		{
			name: "not a mapping",
			src:  "- a\n- b\n",
			want: []string{"ci.yml:1:1: a pipeline must be a mapping of keywords and jobs, got a list"},
		},
		{
			name: "only hidden jobs",
			src:  "stages: [a]\n.t:\n  script: x\n",
			want: []string{`ci.yml:1:1: the pipeline has no visible jobs: define at least one job whose name does not start with "."`},
		},
		{
			name: "empty job name",
			src:  "\"\":\n  script: x\nj:\n  script: x\n",
			want: []string{"ci.yml:1:1: a job name must not be empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, "errors", parseErrors(t, tt.src), tt.want)
		})
	}
}

func TestSeveralErrorsReportedTogetherSorted(t *testing.T) {
	errs := parseErrors(t, `stages: [build, test]
variables:
  BAD-NAME: x
deploy:
  stage: deploy
  script: ./deploy.sh
build:
  image: [golang]
  scirpt: go build
test:
  extends: .missing
lint: flake8
`)
	equalLines(t, "errors", errs, []string{
		`ci.yml:3:3: variable name "BAD-NAME" is invalid: use only letters, digits and "_"`,
		`ci.yml:5:10: job "deploy": stage "deploy" is not defined; the defined stages are .pre, build, test, .post`,
		`ci.yml:7:1: job "build": script is required`,
		`ci.yml:8:10: job "build": image must be a string or a mapping with "name", got a list`,
		"ci.yml:9:3: job \"build\": unknown keyword `scirpt`; did you mean `script`?",
		`ci.yml:11:12: job "test": extends unknown job ".missing"`,
		`ci.yml:12:1: "lint" is neither a keyword nor a job: a job must be a mapping of keywords, got a string`,
	})
}

func TestPosAndErrorFormats(t *testing.T) {
	pos := Pos{File: "dir/.gitlab-ci.yml", Line: 12, Column: 5}
	if got, want := pos.String(), "dir/.gitlab-ci.yml:12:5"; got != want {
		t.Errorf("Pos.String() = %q, want %q", got, want)
	}
	e := &Error{Pos: pos, Msg: "boom"}
	if got, want := e.Error(), "dir/.gitlab-ci.yml:12:5: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	w := Warning{Pos: pos, Msg: "careful"}
	if got, want := w.String(), "dir/.gitlab-ci.yml:12:5: careful"; got != want {
		t.Errorf("Warning.String() = %q, want %q", got, want)
	}
	l := ErrorList{e, &Error{Pos: Pos{File: "f", Line: 1, Column: 1}, Msg: "two"}}
	if got, want := l.Error(), "dir/.gitlab-ci.yml:12:5: boom\nf:1:1: two"; got != want {
		t.Errorf("ErrorList.Error() = %q, want %q", got, want)
	}
}
