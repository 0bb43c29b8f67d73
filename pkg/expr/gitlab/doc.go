// Package gitlab implements GitLab CI's expression language, the one in
// rules:if, workflow:rules:if and only/except:variables, with GitLab's
// semantics, so that a .gitlab-ci.yml selects the same jobs under Gantry as
// under GitLab. It also expands $VAR references in variable values
// (ExpandVariables).
//
// The reference is GitLab's documentation, "CI/CD variable expressions"
// (https://docs.gitlab.com/ee/ci/jobs/job_rules.html#cicd-variable-expressions),
// and where the documentation is silent, GitLab's implementation:
// lib/gitlab/ci/pipeline/expression/ (lexer.rb, parser.rb, statement.rb,
// lexeme/*.rb) and lib/gitlab/untrusted_regexp/ruby_syntax.rb. The tests
// reproduce the tables of GitLab's statement_spec.rb.
//
// # Syntax
//
// Operands are variables ($NAME, where NAME is ASCII letters, digits and
// underscores; also ${NAME}), strings in double or single quotes, the
// keyword null, and /pattern/flags literals. The operators are the
// comparisons ==, !=, =~ and !~, then &&, then ||, from tightest to loosest
// binding, all associating to the left; parentheses group. Whitespace, newlines included, may
// separate tokens. Strings have no escapes: a string ends at the next quote of
// its kind and cannot span lines. Expressions are limited to MaxBytes bytes
// and MaxTokens tokens (GitLab's limit) and parentheses to MaxDepth levels.
//
// # Semantics
//
// GitLab evaluates an expression to a Ruby value and then asks whether it is
// present?; this package does the same with the same three kinds of value:
//
//   - A variable is its value, a string, when it is set, and nil when it is
//     not. null is nil. Set-but-empty and unset are different.
//   - == and != compare with Ruby's ==: nil equals only nil, so
//     `$VAR == null` is true exactly when VAR is unset, `$VAR == ""` exactly
//     when it is set and empty, and two unset variables are equal.
//   - The result is true when it is true, or a string that is not blank:
//     a bare `$VAR` is true when VAR is set and holds something other than
//     whitespace.
//   - && and || return one of their operands, with Ruby truthiness, in which
//     only nil and false are false and the empty string is true. So inside
//     && and || an empty variable counts as true: with EMPTY set to "",
//     `$EMPTY && $X == "x"` is true when X is "x", and `$EMPTY || $X == "x"`
//     is always false (GitLab issues 321371 and 358775). This is kept because
//     pipelines written for GitLab behave this way there; write
//     `$VAR != null && $VAR != ""` to test for a non-empty variable inside a
//     larger expression.
//   - =~ and !~ match the text of the left side, an unset variable being the
//     empty string: `$UNSET =~ /x/` is false, but `$UNSET =~ /^$/` is true.
//     Patterns use RE2 syntax (Go's regexp); a match anywhere counts unless
//     the pattern is anchored; the flags i, m, s and U are applied as
//     (?flags). Variables inside a pattern are not expanded.
//   - The right side of =~ and !~ may also be any other operand, typically a
//     variable holding a pattern. nil or false never matches. A string of the
//     form /pattern/flags (the first such line, if it has several) is a
//     pattern; here a single character or an empty pattern is fine. Any other
//     string, or a pattern that does not compile, is not a pattern: then =~
//     tests whether the left side is a substring of the right side, which
//     GitLab documents as a pitfall ("23" =~ "1234" is true).
//
// Pattern literals have GitLab's lexical quirks: the pattern needs at least
// two characters (/a/ is a syntax error, write /(?:a)/), \/ stands for a
// slash and does not end the literal, and a slash right before the closing
// one belongs to the pattern (/ab// is the pattern ab/).
//
// # Choices
//
// Where GitLab gives no useful answer this package chooses, and says so:
//
//   - ${NAME} is accepted in expressions. GitLab's expression lexer rejects
//     it, but it is how variables are written everywhere else.
//   - The grammar is strictly infix. GitLab's shunting-yard parser also
//     accepts some scrambled token orders, such as `$A $B ==` for `$A == $B`;
//     those are syntax errors here.
//   - A /pattern/ literal is only allowed directly on the right of =~ and
//     !~. GitLab accepts one anywhere, where it is always true or makes the
//     evaluation fail with an internal error.
//   - true on the right of =~ or !~ (a comparison in parentheses) is the
//     text "true". GitLab fails with an internal error.
//   - The ! operator, true and false literals and $[[ inputs.x ]], which
//     GitLab recently added for CI/CD inputs, are not supported and are
//     syntax errors.
//   - A pattern that compiles to more than MaxPatternSize instructions is
//     rejected, as GitLab's RE2 rejects patterns over its memory budget; the
//     two limits differ in detail. In a variable, such a pattern is not a
//     pattern and =~ falls back to the substring test, as in GitLab.
//   - GitLab reports every problem as "invalid expression syntax"; Parse
//     says where the problem is and what it expected (SyntaxError).
//
// ExpandVariables follows what a job finally sees in GitLab, after the
// server and the runner have both expanded a value: $NAME and ${NAME} become
// the value, or nothing when unset, and $$ becomes $. Two differences from
// that pipeline: %NAME%, which GitLab's server also expands for Windows
// shells, is left alone, and a $ that does not start a name ("$5") stays,
// where the runner would drop it.
package gitlab
