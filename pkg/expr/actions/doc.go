// Package actions evaluates GitHub Actions expressions — the ${{ }} in
// workflow files and the conditions of if: keys — with GitHub's semantics,
// so that Gantry can import GitHub workflows and run them as GitHub would.
//
// The behaviour follows GitHub's documentation and, where the
// documentation is silent, the expression engine of actions/runner
// (DTExpressions2) and the test data of actions/languageservices.
//
// # Entry points
//
//   - Parse parses one expression; Expr.Eval evaluates it against a Context
//     holding the contexts (github, env, matrix, ...) as plain Go data and
//     the job's Status.
//   - ParseTemplate and Interpolate handle strings with ${{ }} inside.
//   - ParseIf and EvalIf handle if: conditions, adding GitHub's implicit
//     success() && (...) when no status function is called.
//   - References lists the context paths an expression reads, so that an
//     importer can report the contexts Gantry does not provide.
//
// # Supported
//
// Literals: null, true, false, numbers (integers, decimals, exponents such
// as -2.99e-2, 0xff hexadecimal, 0o17 octal, NaN, Infinity) and strings in
// single quotes, in which two quotes in a row stand for one:
//
//	'It''s open source'
//
// Keywords are case-sensitive.
//
// Contexts: env, github, inputs, job, jobs, matrix, needs, runner,
// secrets, steps, strategy and vars (names ignore case). Property access
// a.b, indexing a['b'] and a[0], and the filters a.* and a[*]
// (github.event.commits.*.message). Property names ignore case, an exact
// match winning; array indexes are floored; a missing property, an index
// out of range, or indexing something that is not an array or an object is
// null, never an error.
//
// Operators, from tightest to loosest: ( ), [ ] and . ; ! ; < <= > >= ;
// == != ; && ; || — all left-associative. Comparison is GitHub's loose
// comparison: operands of different kinds are converted to numbers (null
// 0, true 1, false 0, a string parsed as a number, the empty string being 0 and
// anything unparsable NaN, arrays and objects NaN); strings compare
// ignoring case; NaN is neither equal to, less than nor greater than
// anything; arrays and objects are equal only to themselves. && and ||
// short-circuit and yield one of their operands, not a boolean. false, 0,
// -0, NaN, the empty string and null are falsy.
//
// Functions (names ignore case): contains (substring, ignoring case, or
// array membership by ==), startsWith, endsWith, format ({0} placeholders,
// {{ and }} for braces), join, toJSON, fromJSON, and the status functions
// success, failure, cancelled and always, which read Context.Status.
//
// Values become text as in GitHub: null is "", numbers have at most 15
// significant digits (1E+15 beyond), arrays and objects are "Array" and
// "Object".
//
// # Not supported, or different from GitHub
//
//   - hashFiles() parses, but evaluating it fails with an error wrapping
//     ErrUnsupported: Gantry evaluates expressions without the workspace.
//   - Newer or less common functions (case, for one) are rejected by Parse
//     as unrecognised, as are names that are not contexts.
//   - GitHub allows each context and the status functions only under some
//     keys (no secrets in a job's if:, success() only in if:). This
//     package accepts them everywhere; References tells the caller what an
//     expression uses, so that it can apply the rules of the key.
//   - Objects given as Go maps have no order, so toJSON and the * filter
//     visit their keys sorted; objects from fromJSON keep their order.
//   - Property lookup ignores case in every context, env included (on
//     Linux runners GitHub's env is case-sensitive).
//   - Evaluation builds at most MaxResultBytes of text, and toJSON stops at
//     a nesting of 1000 levels (which only cyclic Go data reaches).
package actions
