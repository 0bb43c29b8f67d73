package pipeline

import "testing"

// TestKeywordErrors covers the checks of every keyword beyond the basics
// in errors_test.go: each case is refused with a positioned message (or,
// where GitLab accepts the input, warned about).
func TestKeywordErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "trigger",
			src:  "j:\n  trigger: other/project\n",
			want: []string{
				"ci.yml:2:3: job \"j\": keyword `trigger` is not supported: Gantry runs no downstream pipelines",
			},
		},
		{
			name: "secrets",
			src:  "j:\n  script: x\n  secrets:\n    DB: {vault: db/password}\n",
			want: []string{
				"ci.yml:3:3: job \"j\": keyword `secrets` is not supported: Gantry reads no external secret manager; pass secrets with `gantry submit --secret`",
			},
		},
		{
			name: "id_tokens in default",
			src:  "default:\n  id_tokens: {T: {aud: x}}\nj:\n  script: x\n",
			want: []string{
				"ci.yml:2:3: default: keyword `id_tokens` is not supported: Gantry issues no OIDC ID tokens",
			},
		},
		{
			name: "identity and run",
			src:  "j:\n  script: x\n  identity: google_cloud\n  run: [{name: a, script: b}]\n",
			want: []string{
				"ci.yml:3:3: job \"j\": keyword `identity` is not supported: Gantry has no identity federation with cloud providers",
				"ci.yml:4:3: job \"j\": keyword `run` is not supported: Gantry does not run CI/CD steps (`run:`); use `script:`",
			},
		},
		{
			name: "needs pipeline and project",
			src:  "j:\n  script: x\n  needs:\n    - pipeline: $PARENT_PIPELINE_ID\n      job: a\n    - project: group/p\n      job: b\n      ref: main\n",
			want: []string{
				"ci.yml:4:7: job \"j\": needs: keyword `pipeline` is not supported: Gantry runs no parent/child pipelines",
				"ci.yml:6:7: job \"j\": needs: keyword `project` is not supported: Gantry reads nothing from other projects",
				"ci.yml:8:7: job \"j\": needs: keyword `ref` is not supported: Gantry reads nothing from other projects",
			},
		},
		{
			name: "exists project",
			src:  "j:\n  script: x\n  rules:\n    - exists: {paths: [a], project: g/p}\n",
			want: []string{
				"ci.yml:4:28: job \"j\": rules:exists: keyword `project` is not supported: Gantry reads nothing from other projects",
			},
		},
		{
			name: "only kubernetes",
			src:  "j:\n  script: x\n  only: {kubernetes: active}\n",
			want: []string{
				"ci.yml:3:10: job \"j\": only: keyword `kubernetes` is not supported: Gantry has no Kubernetes integration",
			},
		},
		{
			name: "environment kubernetes",
			src:  "j:\n  script: x\n  environment: {name: prod, kubernetes: {namespace: x}}\n",
			want: []string{
				"ci.yml:3:29: job \"j\": environment: keyword `kubernetes` is not supported: Gantry has no Kubernetes integration",
			},
		},
		{
			name: "rule not a mapping",
			src:  "j:\n  script: x\n  rules: [$X]\n",
			want: []string{
				"ci.yml:3:11: job \"j\": rules entries must be mappings such as {if: ..., when: ...}, got a string",
			},
		},
		{
			name: "rule unknown keyword",
			src:  "j:\n  script: x\n  rules:\n    - iff: $X\n",
			want: []string{
				"ci.yml:4:7: job \"j\": rules: unknown keyword `iff`; did you mean `if`?",
			},
		},
		{
			name: "rule bad when",
			src:  "j:\n  script: x\n  rules:\n    - when: sometimes\n",
			want: []string{
				"ci.yml:4:13: job \"j\": rules:when must be one of on_success, on_failure, always, manual, delayed, never, got \"sometimes\"",
			},
		},
		{
			name: "rule delayed without start_in",
			src:  "j:\n  script: x\n  rules:\n    - when: delayed\n",
			want: []string{
				"ci.yml:4:13: job \"j\": rules: when: delayed needs start_in",
			},
		},
		{
			name: "rule start_in without when",
			src:  "j:\n  script: x\n  rules:\n    - if: $X\n      start_in: 5m\n",
			want: []string{
				"ci.yml:5:17: job \"j\": rules: start_in needs when: delayed in the same rule",
			},
		},
		{
			name: "rule bad if",
			src:  "j:\n  script: x\n  rules:\n    - if: $X == \n",
			want: []string{
				"ci.yml:4:11: job \"j\": rules:if: invalid expression \"$X ==\": column 6: expected a value after \"==\", got end of expression",
			},
		},
		{
			name: "workflow rule manual",
			src:  "workflow:\n  rules:\n    - when: manual\nj:\n  script: x\n",
			want: []string{
				"ci.yml:3:13: workflow: rules:when must be one of always, never, got \"manual\"",
			},
		},
		{
			name: "workflow rule needs",
			src:  "workflow:\n  rules:\n    - needs: [a]\nj:\n  script: x\n",
			want: []string{
				"ci.yml:3:7: workflow: rules: unknown keyword `needs`",
			},
		},
		{
			name: "workflow not a mapping",
			src:  "workflow: [rules]\nj:\n  script: x\n",
			want: []string{
				"ci.yml:1:11: workflow must be a mapping with rules, name or auto_cancel, got a list",
			},
		},
		{
			name: "only with rules",
			src:  "j:\n  script: x\n  rules: [{when: always}]\n  only: [main]\n  except: [tags]\n",
			want: []string{
				"ci.yml:4:3: job \"j\": `only` may not be used with `rules`",
				"ci.yml:5:3: job \"j\": `except` may not be used with `rules`",
			},
		},
		{
			name: "start_in with rules",
			src:  "j:\n  script: x\n  start_in: 5m\n  rules: [{when: always}]\n",
			want: []string{
				"ci.yml:3:3: job \"j\": `start_in` may not be used with `rules`",
			},
		},
		{
			name: "delayed with rules",
			src:  "j:\n  script: x\n  when: delayed\n  rules: [{when: always}]\n",
			want: []string{
				"ci.yml:3:9: job \"j\": when: delayed may not be used with `rules`; set `when: delayed` and `start_in` in a rule",
			},
		},
		{
			name: "delayed without start_in",
			src:  "j:\n  script: x\n  when: delayed\n",
			want: []string{
				"ci.yml:3:9: job \"j\": when: delayed needs start_in",
			},
		},
		{
			name: "start_in without delayed",
			src:  "j:\n  script: x\n  start_in: 5m\n",
			want: []string{
				"ci.yml:3:3: job \"j\": start_in is only for when: delayed",
			},
		},
		{
			name: "when never",
			src:  "j:\n  script: x\n  when: never\n",
			want: []string{
				"ci.yml:3:9: job \"j\": when: never is only for rules; use `rules: [{when: never}]`",
			},
		},
		{
			name: "when invalid",
			src:  "j:\n  script: x\n  when: later\n",
			want: []string{
				"ci.yml:3:9: job \"j\": when must be one of on_success, on_failure, always, manual, delayed, got \"later\"",
			},
		},
		{
			name: "start_in too long",
			src:  "j:\n  script: x\n  when: delayed\n  start_in: 8 days\n",
			want: []string{
				"ci.yml:4:13: job \"j\": start_in must be at most 1 week, got \"8 days\"",
			},
		},
		{
			name: "timeout invalid",
			src:  "j:\n  script: x\n  timeout: forever\n",
			want: []string{
				"ci.yml:3:12: job \"j\": timeout: \"forever\" is not a duration: expected a number at \"forever\"",
			},
		},
		{
			name: "timeout too long",
			src:  "j:\n  script: x\n  timeout: 2 months\n",
			want: []string{
				"ci.yml:3:12: job \"j\": timeout must be at most 1 month, got \"2 months\"",
			},
		},
		{
			name: "needs unknown",
			src:  "build:\n  stage: build\n  script: x\nj:\n  script: x\n  needs: [biuld, .hidden]\n",
			want: []string{
				"ci.yml:6:11: job \"j\": needs \"biuld\", which is not a job; did you mean \"build\"?",
				"ci.yml:6:18: job \"j\": needs \".hidden\", which is not a job (hidden jobs are templates and never run)",
			},
		},
		{
			name: "needs later stage",
			src:  "j:\n  stage: build\n  script: x\n  needs: [k]\nk:\n  stage: test\n  script: x\n",
			want: []string{
				"ci.yml:4:11: job \"j\": needs \"k\", which is in a later stage (test comes after build)",
			},
		},
		{
			name: "needs cycle",
			src:  "a:\n  script: x\n  needs: [b]\nb:\n  script: x\n  needs: [c]\nc:\n  script: x\n  needs: [a]\n",
			want: []string{
				"ci.yml:9:11: job \"c\": needs form a cycle: a -> b -> c -> a",
			},
		},
		{
			name: "needs self",
			src:  "a:\n  script: x\n  needs: [a]\n",
			want: []string{
				"ci.yml:3:11: job \"a\": needs form a cycle: a -> a",
			},
		},
		{
			name: "rules needs unknown",
			src:  "j:\n  script: x\n  rules:\n    - needs: [nope]\n",
			want: []string{
				"ci.yml:4:15: job \"j\": rules: needs \"nope\", which is not a job",
			},
		},
		{
			name: "needs matrix on plain job",
			src:  "a:\n  stage: build\n  script: x\nj:\n  script: x\n  needs:\n    - job: a\n      parallel: {matrix: [{X: y}]}\n",
			want: []string{
				"ci.yml:7:12: job \"j\": needs \"a\" with parallel:matrix, but \"a\" has no parallel:matrix",
			},
		},
		{
			name: "needs matrix value unknown",
			src:  "a:\n  stage: build\n  script: x\n  parallel: {matrix: [{OS: [linux, mac]}]}\nj:\n  script: x\n  needs:\n    - job: a\n      parallel: {matrix: [{OS: windows}]}\n",
			want: []string{
				"ci.yml:8:12: job \"j\": needs \"a: [windows]\", which \"a\"'s parallel:matrix does not make",
			},
		},
		{
			name: "needs bad entry",
			src:  "j:\n  script: x\n  needs: [{artifacts: false}, [], 3]\n",
			want: []string{
				"ci.yml:3:11: job \"j\": needs: `job` is required",
				"ci.yml:3:35: job \"j\": needs \"3\", which is not a job",
			},
		},
		{
			name: "dependencies unknown",
			src:  "j:\n  script: x\n  dependencies: [nope]\n",
			want: []string{
				"ci.yml:3:18: job \"j\": dependencies lists \"nope\", which is not a job",
			},
		},
		{
			name: "dependencies later stage",
			src:  "j:\n  stage: build\n  script: x\n  dependencies: [k]\nk:\n  script: x\n",
			want: []string{
				"ci.yml:4:18: job \"j\": dependencies lists \"k\", which is not in an earlier stage",
			},
		},
		{
			name: "dependencies same stage",
			src:  "a:\n  script: x\nj:\n  script: x\n  dependencies: [a]\n",
			want: []string{
				"ci.yml:5:18: job \"j\": dependencies lists \"a\", which is not in an earlier stage",
			},
		},
		{
			name: "dependencies not in needs",
			src:  "a:\n  stage: build\n  script: x\nb:\n  stage: build\n  script: x\nj:\n  script: x\n  needs: [a]\n  dependencies: [a, b]\n",
			want: []string{
				"ci.yml:10:21: job \"j\": dependencies lists \"b\", which must be in needs too",
			},
		},
		{
			name: "on_stop unknown",
			src:  "j:\n  script: x\n  environment: {name: review, on_stop: stop}\n",
			want: []string{
				"ci.yml:3:40: job \"j\": environment:on_stop names \"stop\", which is not a job",
			},
		},
		{
			name: "on_stop without environment",
			src:  "j:\n  script: x\n  environment: {name: review, on_stop: stop}\nstop:\n  script: x\n",
			want: []string{
				"ci.yml:3:40: job \"j\": environment:on_stop job \"stop\" has no environment",
			},
		},
		{
			name: "on_stop other environment",
			src:  "j:\n  script: x\n  environment: {name: review, on_stop: stop}\nstop:\n  script: x\n  environment: {name: other, action: stop}\n",
			want: []string{
				"ci.yml:3:40: job \"j\": environment:on_stop job \"stop\" stops environment \"other\", not \"review\"",
			},
		},
		{
			name: "on_stop not stop",
			src:  "j:\n  script: x\n  environment: {name: review, on_stop: stop}\nstop:\n  script: x\n  environment: {name: review}\n",
			want: []string{
				"ci.yml:3:40: job \"j\": environment:on_stop job \"stop\" needs environment:action: stop",
			},
		},
		{
			name: "parallel zero",
			src:  "j:\n  script: x\n  parallel: 0\n",
			want: []string{
				"ci.yml:3:13: job \"j\": parallel must be a whole number from 1 to 200, got \"0\"",
			},
		},
		{
			name: "parallel too many",
			src:  "j:\n  script: x\n  parallel: 201\n",
			want: []string{
				"ci.yml:3:13: job \"j\": parallel must be a whole number from 1 to 200, got \"201\"",
			},
		},
		{
			name: "matrix too big",
			src:  "j:\n  script: x\n  parallel:\n    matrix:\n      - A: [1,2,3,4,5,6,7,8,9,10]\n        B: [1,2,3,4,5,6,7,8,9,10]\n        C: [1,2,3]\n",
			want: []string{
				"ci.yml:5:7: job \"j\": parallel:matrix makes 201 jobs, at most 200 are allowed",
			},
		},
		{
			name: "matrix empty",
			src:  "j:\n  script: x\n  parallel: {matrix: []}\n",
			want: []string{
				"ci.yml:3:22: job \"j\": parallel:matrix must not be empty",
			},
		},
		{
			name: "matrix bad",
			src:  "j:\n  script: x\n  parallel:\n    matrix:\n      - bad-name: x\n        EMPTY: []\n      - [a]\n",
			want: []string{
				"ci.yml:5:9: job \"j\": parallel:matrix: variable name \"bad-name\" is invalid: use only letters, digits and \"_\"",
				"ci.yml:6:16: job \"j\": parallel:matrix: EMPTY has no values",
				"ci.yml:7:10: job \"j\": parallel:matrix entries must be mappings of variables to values, got a string",
			},
		},
		{
			name: "parallel name collision",
			src:  "\"j 1/2\":\n  script: x\nj:\n  script: x\n  parallel: 2\n",
			want: []string{
				"ci.yml:3:1: job \"j\": parallel makes job \"j 1/2\", but a job of that name exists",
			},
		},
		{
			name: "matrix duplicate",
			src:  "j:\n  script: x\n  parallel: {matrix: [{A: x}, {A: x}]}\n",
			want: []string{
				"ci.yml:1:1: job \"j\": parallel:matrix makes job \"j: [x]\" twice",
			},
		},
		{
			name: "cache too many",
			src:  "j:\n  script: x\n  cache: [{key: a}, {key: b}, {key: c}, {key: d}, {key: e}]\n",
			want: []string{
				"ci.yml:3:10: job \"j\": cache: at most 4 caches are allowed, got 5",
			},
		},
		{
			name: "cache bad key",
			src:  "j:\n  script: x\n  cache:\n    - key: a/b\n    - key: ..\n    - key: {files: [a, b, c]}\n    - key: {prefix: x}\n",
			want: []string{
				"ci.yml:4:12: job \"j\": cache:key must not contain \"/\", got \"a/b\"",
				"ci.yml:5:12: job \"j\": cache:key must not be \"..\"",
				"ci.yml:6:20: job \"j\": cache:key:files must list one or two files",
				"ci.yml:7:12: job \"j\": cache:key: `files` is required in the mapping form",
			},
		},
		{
			name: "cache bad policy",
			src:  "j:\n  script: x\n  cache: {policy: sometimes, when: never}\n",
			want: []string{
				"ci.yml:3:19: job \"j\": cache: policy must be pull, push, pull-push or a $VARIABLE, got \"sometimes\"",
				"ci.yml:3:36: job \"j\": cache:when must be one of on_success, on_failure, always, got \"never\"",
			},
		},
		{
			name: "artifacts bad",
			src:  "j:\n  script: x\n  artifacts:\n    when: sometimes\n    expire_in: soon\n    public: false\n    access: all\n    reports: {coverage_report: {path: c.xml}}\n",
			want: []string{
				"ci.yml:4:11: job \"j\": artifacts:when must be one of on_success, on_failure, always, got \"sometimes\"",
				"ci.yml:5:16: job \"j\": artifacts:expire_in: \"soon\" is not a duration: expected a number at \"soon\"",
				"ci.yml:7:13: job \"j\": artifacts: public and access cannot be used together",
				"ci.yml:8:32: job \"j\": artifacts:reports:coverage_report: coverage_format and path are required",
			},
		},
		{
			name: "artifacts unknown report",
			src:  "j:\n  script: x\n  artifacts: {reports: {junitt: x.xml}}\n",
			want: []string{
				"ci.yml:3:25: job \"j\": artifacts:reports: unknown keyword `junitt`; did you mean `junit`?",
			},
		},
		{
			name: "coverage not a regexp",
			src:  "j:\n  script: x\n  coverage: TOTAL\n",
			want: []string{
				"ci.yml:3:13: job \"j\": coverage must be a regular expression between slashes, such as '/TOTAL.*\\s+(\\d+%)$/', got \"TOTAL\"",
			},
		},
		{
			name: "environment bad",
			src:  "j:\n  script: x\n  environment: {url: x}\nk:\n  script: x\n  environment: {name: \"prod!\", action: deploy}\n",
			want: []string{
				"ci.yml:3:16: job \"j\": environment: `name` is required",
				"ci.yml:6:23: job \"k\": environment: name \"prod!\" may only hold letters, digits, spaces and - _ / $ { } .",
				"ci.yml:6:40: job \"k\": environment: action must be one of start, prepare, stop, verify, access, got \"deploy\"",
			},
		},
		{
			name: "allow_failure bad",
			src:  "j:\n  script: x\n  allow_failure: maybe\nk:\n  script: x\n  allow_failure: {exit_codes: [300]}\nl:\n  script: x\n  allow_failure: {codes: 1}\n",
			want: []string{
				"ci.yml:3:18: job \"j\": allow_failure must be true or false, got a string",
				"ci.yml:6:32: job \"k\": allow_failure:exit_codes entries must be exit codes (0 to 255), got \"300\"",
				"ci.yml:9:18: job \"l\": allow_failure: the mapping form needs exit_codes",
				"ci.yml:9:19: job \"l\": allow_failure: unknown keyword `codes`",
			},
		},
		{
			name: "inherit bad",
			src:  "j:\n  script: x\n  inherit: {default: [image, script], variables: maybe}\n",
			want: []string{
				"ci.yml:3:30: job \"j\": inherit:default: \"script\" is not a keyword `default:` sets",
				"ci.yml:3:50: job \"j\": inherit:variables must be true or false, got a string",
			},
		},
		{
			name: "interruptible bad",
			src:  "j:\n  script: x\n  interruptible: sometimes\n  resource_group: [a]\n",
			want: []string{
				"ci.yml:3:18: job \"j\": interruptible must be true or false, got a string",
				"ci.yml:4:19: job \"j\": resource_group must be a string, got a list",
			},
		},
		{
			name: "changes bad",
			src:  "j:\n  script: x\n  rules:\n    - changes: {compare_to: main}\n    - changes: {paths: [a], since: x}\n",
			want: []string{
				"ci.yml:4:16: job \"j\": rules:changes: `paths` is required",
				"ci.yml:5:29: job \"j\": rules:changes: unknown keyword `since`",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, "errors", parseErrors(t, tt.src), tt.want)
		})
	}
}

func TestInvalidRefRegexpWarns(t *testing.T) {
	pl := mustParse(t, "j:\n  script: x\n  only: [\"/(unclosed/\"]\n")
	equalLines(t, "warnings", warnings(pl), []string{"ci.yml:3:10: job \"j\": only: \"/(unclosed/\" is not a valid regular expression (error parsing regexp: missing closing ): `(unclosed`); it is compared as a ref name"})
}
