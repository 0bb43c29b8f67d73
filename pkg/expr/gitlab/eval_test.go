package gitlab

import (
	"testing"
)

// specVars are the variables of GitLab's own statement_spec.rb, plus a few
// of ours.
var specVars = map[string]string{
	"PRESENT_VARIABLE":   "my variable",
	"PATH_VARIABLE":      "a/path/variable/value",
	"FULL_PATH_VARIABLE": "/a/full/path/variable/value",
	"EMPTY_VARIABLE":     "",
	"BLANK_VARIABLE":     " \t\u00a0",
	"MULTILINE_VARIABLE": "first line\nsecond line",
	"PATTERN":            "/^ab.*/",
	"PATTERN_I":          "/^AB/i",
	"PATTERN_ESCAPED":    `/^a\/b$/`,
	"PATTERN_ONE_CHAR":   "/b/",
	"PATTERN_EMPTY":      "//",
	"PATTERN_BAD":        "/a(/",
	"PATTERN_LATER_LINE": "text\n/^ab/",
	"PATTERN_TOO_LARGE":  "/x[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}/",
	"PLAIN":              "1234",
	"AB":                 "abcde",
	"FG":                 "fghij",
	"TRUE":               "true",
}

func lookupIn(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func str(s string) value { return value{kind: kindString, str: s} }

// TestEvaluateValues pins the Ruby value every expression of GitLab's
// statement_spec.rb evaluates to, before present? turns it into a bool:
// && and || return an operand, not a boolean.
func TestEvaluateValues(t *testing.T) {
	tests := []struct {
		expr string
		want value
	}{
		{`$PRESENT_VARIABLE == "my variable"`, trueVal},
		{`"my variable" == $PRESENT_VARIABLE`, trueVal},
		{`$PRESENT_VARIABLE == null`, falseVal},
		{`$EMPTY_VARIABLE == null`, falseVal},
		{`"" == $EMPTY_VARIABLE`, trueVal},
		{`$EMPTY_VARIABLE`, str("")},
		{`$UNDEFINED_VARIABLE == null`, trueVal},
		{`null == $UNDEFINED_VARIABLE`, trueVal},
		{`$PRESENT_VARIABLE`, str("my variable")},
		{`$UNDEFINED_VARIABLE`, null},
		{`$PRESENT_VARIABLE =~ /var.*e$/`, trueVal},
		{`$PRESENT_VARIABLE =~ /va\r.*e$/`, falseVal},
		{`$PRESENT_VARIABLE =~ /va\/r.*e$/`, falseVal},
		{`$PRESENT_VARIABLE =~ /^var.*/`, falseVal},
		{`$EMPTY_VARIABLE =~ /var.*/`, falseVal},
		{`$UNDEFINED_VARIABLE =~ /var.*/`, falseVal},
		{`$PRESENT_VARIABLE =~ /VAR.*/i`, trueVal},
		{`$PATH_VARIABLE =~ /path\/variable/`, trueVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/`, trueVal},
		{`$FULL_PATH_VARIABLE =~ /\/path\/variable\/value$/`, trueVal},
		{`$PRESENT_VARIABLE != "my variable"`, falseVal},
		{`"my variable" != $PRESENT_VARIABLE`, falseVal},
		{`$PRESENT_VARIABLE != null`, trueVal},
		{`$EMPTY_VARIABLE != null`, trueVal},
		{`"" != $EMPTY_VARIABLE`, falseVal},
		{`$UNDEFINED_VARIABLE != null`, falseVal},
		{`null != $UNDEFINED_VARIABLE`, falseVal},
		{`$PRESENT_VARIABLE !~ /var.*e$/`, falseVal},
		{`$PRESENT_VARIABLE !~ /^var.*/`, trueVal},
		{`$PRESENT_VARIABLE !~ /^v\ar.*/`, trueVal},
		{`$PRESENT_VARIABLE !~ /^v\/ar.*/`, trueVal},
		{`$EMPTY_VARIABLE !~ /var.*/`, trueVal},
		{`$UNDEFINED_VARIABLE !~ /var.*/`, trueVal},
		{`$PRESENT_VARIABLE !~ /VAR.*/i`, falseVal},

		{`$PRESENT_VARIABLE && "string"`, str("string")},
		{`$PRESENT_VARIABLE && $PRESENT_VARIABLE`, str("my variable")},
		{`$PRESENT_VARIABLE && $EMPTY_VARIABLE`, str("")},
		{`$PRESENT_VARIABLE && null`, null},
		{`"string" && $PRESENT_VARIABLE`, str("my variable")},
		{`$EMPTY_VARIABLE && $PRESENT_VARIABLE`, str("my variable")},
		{`null && $PRESENT_VARIABLE`, null},
		{`$EMPTY_VARIABLE && "string"`, str("string")},
		{`$EMPTY_VARIABLE && $EMPTY_VARIABLE`, str("")},
		{`"string" && $EMPTY_VARIABLE`, str("")},
		{`"string" && null`, null},
		{`null && "string"`, null},
		{`"string" && "string"`, str("string")},
		{`null && null`, null},

		{`$PRESENT_VARIABLE =~ /my var/ && $EMPTY_VARIABLE =~ /nope/`, falseVal},
		{`$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE`, str("my variable")},
		{`$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE != "nope"`, trueVal},
		{`$PRESENT_VARIABLE && $UNDEFINED_VARIABLE`, null},
		{`$UNDEFINED_VARIABLE && $EMPTY_VARIABLE`, null},
		{`$UNDEFINED_VARIABLE && $PRESENT_VARIABLE`, null},

		{`$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ && $PATH_VARIABLE =~ /path\/variable/`, trueVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ && $PATH_VARIABLE =~ /path\/variable/`, falseVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ && $PATH_VARIABLE =~ /bad\/path\/variable/`, falseVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ && $PATH_VARIABLE =~ /bad\/path\/variable/`, falseVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ || $PATH_VARIABLE =~ /path\/variable/`, trueVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ || $PATH_VARIABLE =~ /path\/variable/`, trueVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ || $PATH_VARIABLE =~ /bad\/path\/variable/`, trueVal},
		{`$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ || $PATH_VARIABLE =~ /bad\/path\/variable/`, falseVal},

		{`$PRESENT_VARIABLE =~ /my var/ || $EMPTY_VARIABLE =~ /nope/`, trueVal},
		{`$EMPTY_VARIABLE == "" || $PRESENT_VARIABLE`, trueVal},
		{`$PRESENT_VARIABLE != "nope" || $EMPTY_VARIABLE == ""`, trueVal},
		{`$PRESENT_VARIABLE && null || $EMPTY_VARIABLE == ""`, trueVal},
		{`$PRESENT_VARIABLE || $UNDEFINED_VARIABLE`, str("my variable")},
		{`$UNDEFINED_VARIABLE || $PRESENT_VARIABLE`, str("my variable")},
		{`$UNDEFINED_VARIABLE == null || $PRESENT_VARIABLE`, trueVal},
		{`$PRESENT_VARIABLE || $UNDEFINED_VARIABLE == null`, str("my variable")},

		{`($PRESENT_VARIABLE)`, str("my variable")},
		{`(($PRESENT_VARIABLE))`, str("my variable")},
		{`(($PRESENT_VARIABLE && null) || $EMPTY_VARIABLE == "")`, trueVal},
		{`($PRESENT_VARIABLE) && (null || $EMPTY_VARIABLE == "")`, trueVal},
		{`("string" || "test") == "string"`, trueVal},
		{`(null || ("test" == "string"))`, falseVal},
		{`("string" == ("test" && "string"))`, trueVal},
		{`("string" == ("test" || "string"))`, falseVal},
		{`("string" == "test" || "string")`, str("string")},
		{`("string" == ("string" || (("1" == "1") && ("2" == "3"))))`, trueVal},

		// The empty string is truthy for && and ||, so it does not stop
		// them; only the final present? treats it as false.
		{`$EMPTY_VARIABLE || $PRESENT_VARIABLE == "my variable"`, str("")},
		{`$UNDEFINED_VARIABLE || $PRESENT_VARIABLE == "my variable"`, trueVal},
		// =~ reads its left side with to_s: a comparison result is "true".
		{`$PRESENT_VARIABLE == "my variable" =~ /^true$/`, trueVal},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := e.root.eval(lookupIn(specVars)); got != tt.want {
			t.Errorf("%s evaluates to %+v, want %+v", tt.expr, got, tt.want)
		}
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want bool
	}{
		// Bare variables: set and not blank.
		{"present", `$PRESENT_VARIABLE`, true},
		{"empty", `$EMPTY_VARIABLE`, false},
		{"unset", `$UNDEFINED_VARIABLE`, false},
		{"whitespace only is blank", `$BLANK_VARIABLE`, false},
		{"braced variable", `${PRESENT_VARIABLE}`, true},
		{"braced equals plain", `${PRESENT_VARIABLE} == $PRESENT_VARIABLE`, true},

		// null versus empty.
		{"unset is null", `$UNDEFINED_VARIABLE == null`, true},
		{"empty is not null", `$EMPTY_VARIABLE == null`, false},
		{"empty is empty", `$EMPTY_VARIABLE == ""`, true},
		{"unset is not empty", `$UNDEFINED_VARIABLE == ""`, false},
		{"unset differs from empty", `$UNDEFINED_VARIABLE != ""`, true},
		{"empty with single quotes", `$EMPTY_VARIABLE == ''`, true},
		{"null is null", `null == null`, true},
		{"null alone", `null`, false},
		{"set and not empty, spelled out", `$EMPTY_VARIABLE != null && $EMPTY_VARIABLE != ""`, false},

		// Literals.
		{"string alone", `"text"`, true},
		{"empty string alone", `""`, false},
		{"blank string alone", `"  "`, false},
		{"single quotes", `$PRESENT_VARIABLE == 'my variable'`, true},
		{"double quote inside single quotes", `'say "hi"' == 'say "hi"'`, true},
		{"single quote inside double quotes", `"it's" != "its"`, true},
		{"no escapes in strings", `"a\n" == 'a\n'`, true},
		{"case matters", `$PRESENT_VARIABLE == "My Variable"`, false},

		// Variables compared with variables.
		{"equal variables", `$PRESENT_VARIABLE == $PRESENT_VARIABLE`, true},
		{"different variables", `$PRESENT_VARIABLE == $PATH_VARIABLE`, false},
		{"two unset variables are equal", `$UNDEFINED_A == $UNDEFINED_B`, true},
		{"unset and empty differ", `$UNDEFINED_A == $EMPTY_VARIABLE`, false},

		// Precedence: && binds tighter than ||, all left-associative.
		{"and before or", `$PRESENT_VARIABLE || $UNDEFINED_VARIABLE && $UNDEFINED_VARIABLE`, true},
		{"parentheses change it", `($PRESENT_VARIABLE || $UNDEFINED_VARIABLE) && $UNDEFINED_VARIABLE`, false},
		{"or of ands", `$UNDEFINED_VARIABLE && $PRESENT_VARIABLE || $PATH_VARIABLE && $PRESENT_VARIABLE`, true},
		{"comparison before and", `$PRESENT_VARIABLE == "my variable" && $PATH_VARIABLE == "a/path/variable/value"`, true},
		{"nested parentheses", `(($UNDEFINED_VARIABLE || ($PRESENT_VARIABLE && $PATH_VARIABLE)) && ($EMPTY_VARIABLE == ""))`, true},

		// GitLab quirks kept on purpose: the empty string passes && and ||.
		{"empty && true is true", `$EMPTY_VARIABLE && $PRESENT_VARIABLE == "my variable"`, true},
		{"empty || true is false", `$EMPTY_VARIABLE || $PRESENT_VARIABLE == "my variable"`, false},
		{"unset || true is true", `$UNDEFINED_VARIABLE || $PRESENT_VARIABLE == "my variable"`, true},
		{"true || empty is true", `$PRESENT_VARIABLE == "my variable" || $EMPTY_VARIABLE`, true},

		// Regular expressions.
		{"partial match", `$PRESENT_VARIABLE =~ /variab/`, true},
		{"anchored", `$PRESENT_VARIABLE =~ /^variab/`, false},
		{"case-sensitive by default", `$PRESENT_VARIABLE =~ /MY/`, false},
		{"i flag", `$PRESENT_VARIABLE =~ /MY/i`, true},
		{"m flag anchors lines", `$MULTILINE_VARIABLE =~ /^second/m`, true},
		{"without m ^ is the start", `$MULTILINE_VARIABLE =~ /^second/`, false},
		{"s flag dot matches newline", `$MULTILINE_VARIABLE =~ /line.second/s`, true},
		{"without s dot stops at newline", `$MULTILINE_VARIABLE =~ /line.second/`, false},
		{"U flag is accepted", `$AB =~ /^a.+?$/U`, true},
		{"flags combined", `$MULTILINE_VARIABLE =~ /^SECOND/mi`, true},
		{"escaped slash", `$PATH_VARIABLE =~ /^a\/path/`, true},
		{"escaped slash does not end the pattern", `"a/b" =~ /a\/b/`, true},
		{"RE2 classes", `"v1.22" =~ /^v\d+\.\d+$/`, true},
		{"slash before the closing slash", `"xab/" =~ /ab//`, true},
		{"not matches", `$PRESENT_VARIABLE !~ /^my/`, false},
		{"unset never matches a pattern needing text", `$UNDEFINED_VARIABLE =~ /.+/`, false},
		{"unset is matched as the empty string", `$UNDEFINED_VARIABLE =~ /^$/`, true},
		{"not matches on unset", `$UNDEFINED_VARIABLE !~ /.+/i`, true},
		{"string literal on the left", `"feature/x" =~ /^feature\//`, true},
		{"null on the left", `null =~ /^$/`, true},

		// A pattern held in a variable or a string.
		{"variable pattern matches", `$AB =~ $PATTERN`, true},
		{"variable pattern does not match", `$FG =~ $PATTERN`, false},
		{"variable pattern negated", `$FG !~ $PATTERN`, true},
		{"variable pattern flags", `$AB =~ $PATTERN_I`, true},
		{"variable pattern escaped slash", `"a/b" =~ $PATTERN_ESCAPED`, true},
		{"single character allowed in a variable", `$AB =~ $PATTERN_ONE_CHAR`, true},
		{"empty pattern in a variable matches all", `$FG =~ $PATTERN_EMPTY`, true},
		{"pattern on a later line of the value", `$AB =~ $PATTERN_LATER_LINE`, true},
		{"variables inside the pattern are not expanded", `$AB =~ /$AB/`, false},
		{"string literal holding a pattern", `$AB =~ "/^ab/"`, true},
		{"unset pattern never matches", `$AB =~ $UNDEFINED_VARIABLE`, false},
		{"unset pattern negated", `$AB !~ $UNDEFINED_VARIABLE`, true},
		{"null pattern", `$AB =~ null`, false},
		{"false pattern", `$AB =~ ($AB == "x")`, false},
		{"plain string: left is a substring of right", `"23" =~ "1234"`, true},
		{"plain string: not the other way round", `"1234" =~ "23"`, false},
		{"plain variable: substring", `"23" =~ $PLAIN`, true},
		{"plain variable: negated", `"23" !~ $PLAIN`, false},
		{"invalid pattern falls back to substring", `"a(" =~ $PATTERN_BAD`, true},
		{"empty left is a substring of anything", `$EMPTY_VARIABLE =~ $PLAIN`, true},
		{"too large a pattern is not a pattern", `"[a-z]{1000}" =~ $PATTERN_TOO_LARGE`, true},
		{"true pattern is read as text", `"ru" =~ ($AB == "abcde")`, true},

		// Real-world expressions.
		{"default branch, both unset", `$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`, true},
		{"merge request event", `$CI_PIPELINE_SOURCE == "merge_request_event"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if got := e.Eval(lookupIn(specVars)); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

// TestEvalRealWorld runs expressions from GitLab's documentation and common
// templates against the variables of typical pipelines.
func TestEvalRealWorld(t *testing.T) {
	push := map[string]string{
		"CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_BRANCH":   "main",
		"CI_DEFAULT_BRANCH":  "main",
		"CI_COMMIT_REF_NAME": "main",
		"CI_COMMIT_TITLE":    "Merge branch 'feature' into 'main'",
	}
	featurePush := map[string]string{
		"CI_PIPELINE_SOURCE":      "push",
		"CI_COMMIT_BRANCH":        "feature/login",
		"CI_DEFAULT_BRANCH":       "main",
		"CI_COMMIT_REF_NAME":      "feature/login",
		"CI_OPEN_MERGE_REQUESTS":  "group/project!12",
		"CI_COMMIT_TITLE":         "Add login",
		"CI_MERGE_REQUEST_LABELS": "",
	}
	mr := map[string]string{
		"CI_PIPELINE_SOURCE":      "merge_request_event",
		"CI_DEFAULT_BRANCH":       "main",
		"CI_COMMIT_REF_NAME":      "feature/login",
		"CI_MERGE_REQUEST_IID":    "12",
		"CI_MERGE_REQUEST_LABELS": "backend,pipeline:run-all-rspec",
	}
	tag := map[string]string{
		"CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_TAG":      "v1.22.3",
		"CI_DEFAULT_BRANCH":  "main",
		"CI_COMMIT_REF_NAME": "v1.22.3",
	}
	schedule := map[string]string{
		"CI_PIPELINE_SOURCE": "schedule",
		"CI_COMMIT_BRANCH":   "main",
		"CI_DEFAULT_BRANCH":  "main",
	}
	const (
		defaultBranch = `$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`
		mrEvent       = `$CI_PIPELINE_SOURCE == "merge_request_event"`
		release       = `$CI_COMMIT_TAG =~ /^v\d+\.\d+/`
		branchWithMR  = `$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS`
		notSchedule   = `$CI_PIPELINE_SOURCE != "schedule"`
		mergeCommit   = `$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_COMMIT_TITLE =~ /Merge branch.*/`
		complex       = `($CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH || $CI_COMMIT_BRANCH == "develop") && $CI_COMMIT_TITLE`
		labels        = `$CI_MERGE_REQUEST_IID && $CI_MERGE_REQUEST_LABELS =~ /pipeline:run-all-rspec/`
		forkMR        = `$CI_PROJECT_NAMESPACE !~ /^gitlab(-org)?($|\/)/ && $CI_MERGE_REQUEST_IID`
		releaseRef    = `$CI_COMMIT_REF_NAME =~ /^(develop$|release\/.*|main$)/`
	)
	tests := []struct {
		name string
		expr string
		vars map[string]string
		want bool
	}{
		{"default branch push", defaultBranch, push, true},
		{"feature branch push", defaultBranch, featurePush, false},
		{"default branch in MR pipeline", defaultBranch, mr, false},
		{"MR event", mrEvent, mr, true},
		{"MR event on push", mrEvent, push, false},
		{"release tag", release, tag, true},
		{"release on branch", release, push, false},
		{"release needs digits", release, map[string]string{"CI_COMMIT_TAG": "vX.1"}, false},
		{"branch with open MR", branchWithMR, featurePush, true},
		{"branch without open MR", branchWithMR, push, false},
		{"not schedule on push", notSchedule, push, true},
		{"not schedule on schedule", notSchedule, schedule, false},
		{"merge commit on main", mergeCommit, push, true},
		{"ordinary commit on feature", mergeCommit, featurePush, false},
		{"parenthesised docs example", complex, push, true},
		{"parenthesised docs example, feature", complex, featurePush, false},
		{"labels", labels, mr, true},
		{"labels on push", labels, featurePush, false},
		{"fork MR", forkMR, mr, true},
		{"fork MR for gitlab-org", forkMR, map[string]string{"CI_PROJECT_NAMESPACE": "gitlab-org/security", "CI_MERGE_REQUEST_IID": "1"}, false},
		{"release ref main", releaseRef, push, true},
		{"release ref release branch", releaseRef, map[string]string{"CI_COMMIT_REF_NAME": "release/1.2"}, true},
		{"release ref feature", releaseRef, featurePush, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if got := e.Eval(lookupIn(tt.vars)); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestEvalNilLookup(t *testing.T) {
	e, err := Parse(`$A == null && $B != "x"`)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Eval(nil) {
		t.Error("a nil lookup should leave every variable unset")
	}
}

func TestEvalShortCircuits(t *testing.T) {
	e, err := Parse(`$A && $B || $C`)
	if err != nil {
		t.Fatal(err)
	}
	var looked []string
	e.Eval(func(name string) (string, bool) {
		looked = append(looked, name)
		return "", false
	})
	if got := len(looked); got != 2 || looked[0] != "A" || looked[1] != "C" {
		t.Errorf("looked up %q, want [A C]", looked)
	}
}

func TestEvalConcurrent(t *testing.T) {
	e, err := Parse(`$A =~ /^a+$/ && $B =~ $P`)
	if err != nil {
		t.Fatal(err)
	}
	vars := lookupIn(map[string]string{"A": "aaa", "B": "xyz", "P": "/y/"})
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 200 {
				ok = ok && e.Eval(vars)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("concurrent Eval gave a wrong result")
		}
	}
}
