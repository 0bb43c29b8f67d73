package actions

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func TestEqualityOperators(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		// null
		{"null == null", true},
		{"null == 0", true},
		{"null == ''", true},
		{"null == false", true},
		{"null == 'abc'", false},
		{"null == github.event", false},
		{"null != null", false},
		// booleans
		{"true == true", true},
		{"true == 1", true},
		{"true == '1'", true},
		{"true == 'true'", false}, // 'true' is NaN as a number
		{"false == ''", true},
		{"false == 0", true},
		{"true == 2", false},
		// numbers and strings
		{"1 == 1.0", true},
		{"-0 == 0", true},
		{"1 == '1'", true},
		{"1 == ' 1 '", true},
		{"255 == '0xff'", true},
		{"8 == '0o10'", true},
		{"0 == ''", true},
		{"123456.789 == ' +123456.789 '", true},
		{"Infinity == ' Infinity '", true},
		{"-Infinity == '-Infinity'", true},
		{"'abc' == 'ABC'", true},
		{"'abc' != 'ABC'", false},
		{"'abc' == 'abd'", false},
		{"'Émile' == 'émile'", true},
		// NaN equals nothing
		{"NaN == NaN", false},
		{"NaN != NaN", true},
		{"'abc' == NaN", false},
		{"'NaN' == NaN", false},
		// arrays and objects are equal only to themselves
		{"github.event == github.event", true},
		{"github.event == github['EVENT']", true},
		{"github.event.issue.labels == github.event.issue.labels", true},
		{"github.event.issue == github.event.issue.labels", false},
		{"needs.build.outputs == needs.test.outputs", false},
		{"fromJSON('[]') == fromJSON('[]')", false},
		{"fromJSON('{}') != fromJSON('{}')", true},
		{"matrix.empty == 0", false},
		{"matrix.empty == 'Array'", false},
		{"github.event == 'Object'", false},
	})
}

func TestRelationalOperators(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"1 < 2", true},
		{"2 < 1", false},
		{"1 < 1", false},
		{"1 <= 1", true},
		{"2 > 1", true},
		{"1 >= 2", false},
		{"1.002 > 1.001", true},
		{"'1' < 2", true},
		{"'10' > 9", true},
		{"'10' > '9'", false}, // two strings compare as text
		{"'a' < 'b'", true},
		{"'B' > 'a'", true},
		{"'a' < 'B'", true},
		{"'abc' < 'abcd'", true},
		{"'ABC' <= 'abc'", true},
		{"'a' < '_'", true}, // compared upper-cased, as .NET's OrdinalIgnoreCase
		{"false < true", true},
		{"true > false", true},
		{"true >= true", true},
		{"null < 1", true},
		{"null <= 0", true},
		{"null >= 0", true},
		{"null < null", false},
		{"null <= null", true},
		{"false < 1", true},
		{"true < '2'", true},
		// NaN is not ordered
		{"NaN < 1", false},
		{"NaN > 1", false},
		{"NaN <= NaN", false},
		{"NaN >= NaN", false},
		{"'abc' < 1", false},
		{"'abc' >= 1", false},
		// arrays and objects are not ordered, but are equal to themselves
		{"matrix.empty < matrix.empty", false},
		{"matrix.empty <= matrix.empty", true},
		{"github.event >= github.event", true},
		{"github.event > 1", false},
		{"github.event < 1", false},
	})
}

func TestLogicalOperators(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		// ! always yields a boolean
		{"!true", false},
		{"!0", true},
		{"!-0", true},
		{"!''", true},
		{"!'a'", false},
		{"!null", true},
		{"!NaN", true},
		{"!matrix.empty", false},
		{"!github.event", false},
		{"!!'x'", true},
		// && and || yield an operand, not a boolean
		{"true && true", true},
		{"true && false", false},
		{"'a' && 'b'", "b"},
		{"'' && 'b'", ""},
		{"1 && 0 && 2", 0.0},
		{"1 && 2 && 3", 3.0},
		{"null || 'x'", "x"},
		{"0 || ''", ""},
		{"'a' || 'b'", "a"},
		{"false || null || 0", 0.0},
		{"github.missing || 'default'", "default"},
		{"matrix.os == 'ubuntu-latest' && 'linux' || 'other'", "linux"},
		{"matrix.os == 'windows' && 'win' || 'other'", "other"},
		{"matrix.empty && 'x'", "x"},
		// short-circuit: the unsupported function is never reached
		{"1 || hashFiles('x')", 1.0},
		{"0 && hashFiles('x')", 0.0},
	})
}

func TestPrecedence(t *testing.T) {
	ctx := &Context{Contexts: map[string]any{"vars": map[string]any{"t": true, "n": 2.0, "m": 3.0}}}
	runEvalCases(t, ctx, []evalCase{
		{"!vars.t", false},
		{"(!vars).t", nil},
		{"3 > vars.n", true},
		{"vars['m'] > 2", true},
		{"!2 < 3", true},
		{"!(2 < 3)", false},
		{"3 < 2 < 1", true}, // (3 < 2) < 1: false < 1
		{"3 < (2 < 1)", false},
		{"3 <= 2 < 1", true},
		{"0 > 0 < 1", true},
		{"2 > 2 > 0", false},
		{"2 > (2 > 0)", true},
		{"2 <= 3 == true", true},
		{"2 <= (3 == true)", false},
		{"2 == 2 == 1", true},
		{"2 == (2 == 1)", false},
		{"2 == 2 != 0", true},
		{"1 == 1 && 2", 2.0},
		{"1 == (1 && 2)", false},
		{"'a' == 'a' && 'b'", "b"},
		{"'a' == ('a' && 'b')", false},
		{"false && 0 || null", nil},
		{"false && (0 || null)", false},
		{"1 || 2 && 3", 1.0},
		{"(1 || 2) && 3", 3.0},
		{"!false && !false == true", true},
		{"! ! true", true},
	})
}

func TestIndex(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"github.actor", "octocat"},
		{"github['actor']", "octocat"},
		{"github[format('ac{0}', 'tor')]", "octocat"},
		{"github.event.issue.title", "Crash on start"},
		{"(github.event).issue.title", "Crash on start"},
		{"matrix.node-version", 20.0},
		// property names ignore case; an exact match wins
		{"GITHUB.Event.ISSUE.title", "Crash on start"},
		{"github.event.key", "lower"},
		{"github.event.KEY", "upper"},
		{"github.event.Key", "upper"}, // first match in sorted order: "KEY" < "key"
		{"github.event.mixed", "mixed"},
		// objects take any primitive as a key, by its string form
		{"github.event[1]", "one"},
		{"github.event[1.0]", "one"},
		{"github.event['1']", "one"},
		{"github.event[null]", nil},
		{"github.event[github.event]", nil},
		// arrays take what converts to a number, floored
		{"github.event.issue.labels[0].name", "bug"},
		{"github.event.issue.labels['1'].name", "help wanted"},
		{"github.event.issue.labels[1.9].name", "help wanted"},
		{"github.event.issue.labels[true].name", "help wanted"},
		{"github.event.issue.labels[null].name", "bug"},
		{"github.event.issue.labels[-1]", nil},
		{"github.event.issue.labels[2]", nil},
		{"github.event.issue.labels['x']", nil},
		{"github.event.issue.labels.name", nil},
		// missing things are null, never errors
		{"github.missing", nil},
		{"github.missing.deeper[0]", nil},
		{"secrets.TOKEN", nil},
		{"github.actor.length", nil},
		{"github.actor[0]", nil},
		{"fromJSON('[1,2]')[1]", 2.0},
		{"fromJSON('{\"a\":{\"b\":true}}').a.b", true},
		{"(fromJSON('{\"a\":1}')).A", 1.0},
	})
}

func TestFilters(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"github.event.issue.labels.*.name", []any{"bug", "help wanted"}},
		{"github.event.issue.labels[*].name", []any{"bug", "help wanted"}},
		{"github.event.issue.labels.*", []any{map[string]any{"name": "bug"}, map[string]any{"name": "help wanted"}}},
		// on an object, * takes the values (Go maps in key order)
		{"needs.*.result", []any{"success", "failure"}},
		{"needs[*].outputs.version", []any{"1.2.3"}}, // misses are dropped
		// further indexes apply to each element; non-collections are skipped
		{"github.event.commits.*.id", []any{"a1", "b2"}},
		{"github.event.commits.*.files.*", []any{"a.go", "b.go", "c.go"}},
		{"github.event.commits.*.files[0]", []any{"a.go", "c.go"}},
		{"github.event.commits.*.files.*.x", []any{}},
		{"github.event.commits.*.missing", []any{}},
		{"github.actor.*", []any{}},
		{"github.missing.*.x", []any{}},
		{"fromJSON('{\"b\":1,\"a\":2}').*", []any{1.0, 2.0}}, // fromJSON keeps order
		{"join(github.event.issue.labels.*.name, ', ')", "bug, help wanted"},
		{"contains(github.event.issue.labels.*.name, 'BUG')", true},
		{"toJSON(github.event.commits.*.id)", "[\n  \"a1\",\n  \"b2\"\n]"},
	})
}

func TestContains(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"contains('Hello World', 'WORLD')", true},
		{"contains('Hello World', 'planet')", false},
		{"contains('abc', '')", true},
		{"contains(null, '')", true},
		{"contains(123, 2)", true},
		{"contains(true, 'RU')", true},
		{"contains('abc', matrix.empty)", false},
		{"contains(github.event.issue.labels.*.name, 'help WANTED')", true},
		{"contains(github.event.issue.labels.*.name, 'help')", false}, // arrays match whole elements
		{"contains(fromJSON('[1, 2]'), '2')", true},                   // elements compare with ==
		{"contains(fromJSON('[1, 2]'), 3)", false},
		{"contains(fromJSON('[null]'), null)", true},
		{"contains(fromJSON('[]'), null)", false},
		{"contains(fromJSON('[[1]]'), fromJSON('[1]'))", false},
		{"contains(github.event, 'issue')", false}, // objects contain nothing
		{"contains(env, 'CI')", false},
		{"CONTAINS('ab', 'B')", true},
	})
}

func TestStartsEndsWith(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"startsWith('Hello', 'he')", true},
		{"startsWith('Hello', 'lo')", false},
		{"startsWith(github.ref, 'refs/heads/')", true},
		{"startsWith(123, 1)", true},
		{"startsWith('abc', null)", true},
		{"startsWith(matrix.empty, 'a')", false},
		{"startsWith('a', matrix.empty)", false},
		{"endsWith('Hello', 'LO')", true},
		{"endsWith('Hello', 'he')", false},
		{"endsWith(1.5, 5)", true},
		{"endsWith(true, 'UE')", true},
		{"endsWith(github.event, 't')", false},
		{"startswith('Abc', 'a')", true},
	})
}

func TestFormat(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"},
		{"format('{0}', 'abc')", "abc"},
		{"format('{0}{0}', 'ab')", "abab"},
		{"format('{1}{0}', 'a', 'b')", "ba"},
		{"format('{00}', 'x')", "x"},
		{"format('{{0}}', 'x')", "{0}"},
		{"format('{{{0}}}', 'x')", "{x}"},
		{"format('{{{{0}}}}', 'x')", "{{0}}"},
		{"format('}}{{')", "}{"},
		{"format('{0:}', 'x')", "x"}, // an empty specifier is allowed
		{"format('')", ""},
		{"format(null)", ""},
		{"format('no placeholders', 'extra')", "no placeholders"},
		{"format('{0}', null)", ""},
		{"format('{0}', true)", "true"},
		{"format('{0}', 1.50)", "1.5"},
		{"format('{0}', -0)", "0"},
		{"format('{0}', 1e15)", "1E+15"},
		{"format('{0}', matrix.empty)", "Array"},
		{"format('{0}', github.event)", "Object"},
		{"format(1, 2)", "1"},
		{"format('{0}', '{1}')", "{1}"}, // arguments are not formatted again
		{"format('x', hashFiles('a'))", "x"},
	})
}

func TestJoin(t *testing.T) {
	ctx := testContext(StatusSuccess)
	ctx.Contexts["vars"] = map[string]any{
		"items": []any{"a", "b", "c"},
		"mixed": []any{nil, true, 123.456, "abc", []any{}, map[string]any{}},
		"one":   []any{"only"},
	}
	runEvalCases(t, ctx, []evalCase{
		{"join(vars.items)", "a,b,c"},
		{"join(vars.items, ' | ')", "a | b | c"},
		{"join(vars.items, '')", "abc"},
		{"join(vars.items, null)", "abc"},
		{"join(vars.items, true)", "atruebtruec"},
		{"join(vars.items, 1.5)", "a1.5b1.5c"},
		{"join(vars.items, matrix.empty)", "a,b,c"}, // a non-primitive separator is ignored
		{"join(vars.mixed)", ",true,123.456,abc,Array,Object"},
		{"join(vars.one, hashFiles('x'))", "only"}, // one element: separator unused
		{"join(matrix.empty)", ""},
		{"join(github.event)", ""},
		{"join(null)", ""},
		{"join(true)", "true"},
		{"join('abc', '-')", "abc"},
		{"join(env.*)", "true,,10"},
	})
}

func TestToJSON(t *testing.T) {
	ctx := testContext(StatusSuccess)
	ctx.Contexts["vars"] = map[string]any{
		"nested": map[string]any{
			"z": []any{1.0, "two", nil, true, []any{}, map[string]any{}},
			"a": map[string]any{"k": 1.5},
		},
	}
	runEvalCases(t, ctx, []evalCase{
		{"toJSON(null)", "null"},
		{"toJSON(true)", "true"},
		{"toJSON(0)", "0"},
		{"toJSON(-0)", "0"},
		{"toJSON(123456789)", "123456789"},
		{"toJSON(-1234.5)", "-1234.5"},
		{"toJSON(1e300)", "1E+300"},
		{"toJSON('')", `""`},
		{"toJSON('abc''def')", `"abc'def"`},
		{`toJSON('a"b\c')`, `"a\"b\\c"`},
		{"toJSON(matrix.empty)", "[]"},
		{"toJSON(fromJSON('{}'))", "{}"},
		{"toJSON(vars.nested)", "{\n  \"a\": {\n    \"k\": 1.5\n  },\n  \"z\": [\n    1,\n    \"two\",\n    null,\n    true,\n    [],\n    {}\n  ]\n}"},
		{"toJSON(env)", "{\n  \"CI\": \"true\",\n  \"EMPTY\": \"\",\n  \"NUM\": \"10\"\n}"},
		{`toJSON(fromJSON('{"b":1,"a":{"d":[],"c":null}}'))`, "{\n  \"b\": 1,\n  \"a\": {\n    \"d\": [],\n    \"c\": null\n  }\n}"},
		{"tojson(1)", "1"},
	})
	// Control characters and line separators are escaped as Newtonsoft.Json does.
	ctx.Contexts["vars"] = map[string]any{"s": "tab\tnl\ncr\rbell\x07sep\u2028é<>&'"}
	runEvalCases(t, ctx, []evalCase{
		{"toJSON(vars.s)", `"tab\tnl\ncr\rbell\u0007sep\u2028é<>&'"`},
	})
}

func TestFromJSON(t *testing.T) {
	runEvalCases(t, testContext(StatusSuccess), []evalCase{
		{"fromJSON('null')", nil},
		{"fromJSON('true')", true},
		{"fromJSON(' 1234.5 ')", 1234.5},
		{"fromJSON('-0') == 0", true},
		{`fromJSON('"abc''def"')`, "abc'def"},
		{`fromJSON('"a\\\"b"')`, `a\"b`},
		{"fromJSON('[1, \"a\", [true], {}]')", []any{1.0, "a", []any{true}, map[string]any{}}},
		{"fromJSON('{\"a\": 1, \"a\": 2}').a", 2.0},
		{"fromJSON(needs.build.outputs.json).a[1]", 2.0},
		{"fromJSON(env.NUM) > 9", true},
		{"fromJSON(env.CI) == true", true},
		{"fromJSON(fromJSON('\"[1]\"'))[0]", 1.0},
		{"FROMJSON('1')", 1.0},
	})
}

func TestEvalErrors(t *testing.T) {
	deep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	ctx := testContext(StatusSuccess)
	ctx.Contexts["vars"] = map[string]any{"struct": struct{}{}, "nested": map[string]any{"x": struct{}{}}, "deep": deep}
	for _, c := range []struct {
		src, want string
	}{
		{"hashFiles('**/go.sum')", "column 1: hashFiles() is not supported: Gantry evaluates expressions without the job's workspace"},
		{"1 == 1 && hashFiles('a', 'b')", "column 11: hashFiles() is not supported: Gantry evaluates expressions without the job's workspace"},
		{"format('{0}')", `column 1: format(): format string "{0}" refers to argument {0}, but only 0 argument(s) follow it`},
		{"format('{1}', 'a')", `column 1: format(): format string "{1}" refers to argument {1}, but only 1 argument(s) follow it`},
		{"format('{', 1)", `column 1: format(): invalid format string "{": write {N} for argument N, and {{ and }} for literal braces`},
		{"format('}', 1)", `column 1: format(): invalid format string "}": write {N} for argument N, and {{ and }} for literal braces`},
		{"format('{a}', 1)", `column 1: format(): invalid format string "{a}": write {N} for argument N, and {{ and }} for literal braces`},
		{"format('{}', 1)", `column 1: format(): invalid format string "{}": write {N} for argument N, and {{ and }} for literal braces`},
		{"format('{0', 1)", `column 1: format(): invalid format string "{0": write {N} for argument N, and {{ and }} for literal braces`},
		{"format('{256}', 1)", `column 1: format(): invalid format string "{256}": write {N} for argument N, and {{ and }} for literal braces`},
		{"format('{0:x}', 255)", `column 1: format(): format specifier "x" in {0:x} is not supported for a Number`},
		{"format('{0}', hashFiles('x'))", "column 15: hashFiles() is not supported: Gantry evaluates expressions without the job's workspace"},
		{"fromJSON('')", "column 1: fromJSON(): invalid JSON: the string is empty"},
		{"fromJSON('{')", "column 1: fromJSON(): invalid JSON: unexpected end of input"},
		{"fromJSON('1 2')", "column 1: fromJSON(): invalid JSON: unexpected text after the value"},
		{"fromJSON('{a:1}')", "column 1: fromJSON(): invalid JSON: invalid character 'a'"},
		{"fromJSON(vars.deep)", "column 1: fromJSON(): invalid JSON: nested more than 64 levels deep"},
		{"vars.struct", "column 6: unsupported Go type struct {} in a context"},
		{"toJSON(vars.nested)", "column 1: toJSON(): unsupported Go type struct {} in a context"},
	} {
		e, err := Parse(c.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.src, err)
		}
		_, err = e.Eval(ctx)
		var ee *EvalError
		if !errors.As(err, &ee) || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.src, err, c.want)
		}
	}
	_, err := eval2("hashFiles('x')", nil)
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("hashFiles error %v does not wrap ErrUnsupported", err)
	}
}

func eval2(src string, ctx *Context) (Value, error) {
	e, err := Parse(src)
	if err != nil {
		return Value{}, err
	}
	return e.Eval(ctx)
}

// TestResultLimit checks that format() cannot grow text exponentially.
func TestResultLimit(t *testing.T) {
	src := "'" + strings.Repeat("x", 1000) + "'"
	for range 20 {
		src = "format('{0}{0}{0}{0}', " + src + ")"
	}
	_, err := eval2(src, nil)
	if err == nil || !strings.Contains(err.Error(), "result is larger than the limit of 10485760 bytes") {
		t.Fatalf("error %v, want the result limit", err)
	}
}

func TestStatusFunctions(t *testing.T) {
	for _, c := range []struct {
		status                              Status
		success, failure, cancelled, always bool
	}{
		{StatusSuccess, true, false, false, true},
		{StatusFailure, false, true, false, true},
		{StatusCancelled, false, false, true, true},
	} {
		ctx := &Context{Status: c.status}
		for src, want := range map[string]bool{
			"success()": c.success, "failure()": c.failure, "cancelled()": c.cancelled, "always()": c.always,
			"Success()": c.success, "ALWAYS()": c.always,
		} {
			if got := eval(t, src, ctx); !same(got, want) {
				t.Errorf("%s with status %s = %v, want %v", src, c.status, got.Interface(), want)
			}
		}
	}
	if got := eval(t, "success()", nil); !same(got, true) {
		t.Errorf("success() with a nil context = %v, want true", got.Interface())
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{StatusSuccess: "success", StatusFailure: "failure", StatusCancelled: "cancelled", 7: "Status(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", s, got, want)
		}
	}
}

type named string

func TestContextValues(t *testing.T) {
	calls := 0
	ctx := &Context{
		Contexts: map[string]any{
			"vars": map[string]any{
				"int": 3, "int64": int64(4), "uint8": uint8(5), "float32": float32(0.5),
				"number":  json.Number("6"),
				"strings": []string{"a", "b"},
				"ints":    []int{1, 2},
				"named":   named("n"),
				"intmap":  map[string]int{"k": 7},
				"strmap":  map[named]string{"k": "v"},
				"value":   stringValue("already a Value"),
				"nilmap":  map[string]any(nil),
			},
		},
		Lookup: func(name string) (any, bool) {
			calls++
			if name == "inputs" {
				return map[string]any{"lazy": true}, true
			}
			return nil, false
		},
	}
	runEvalCases(t, ctx, []evalCase{
		{"vars.int", 3.0},
		{"vars.int64", 4.0},
		{"vars.uint8", 5.0},
		{"vars.float32", 0.5},
		{"vars.number", 6.0},
		{"vars.strings[1]", "b"},
		{"join(vars.strings, '+')", "a+b"},
		{"vars.ints[1]", 2.0},
		{"vars.named", "n"},
		{"vars.intmap.K", 7.0},
		{"vars.strmap.k", "v"},
		{"vars.value", "already a Value"},
		{"toJSON(vars.nilmap)", "{}"},
		{"inputs.lazy", true},
		{"steps", nil}, // in neither Contexts nor Lookup
	})
	if calls == 0 {
		t.Error("Lookup was never called")
	}
}

func TestInterface(t *testing.T) {
	ctx := testContext(StatusSuccess)
	labels := ctx.Contexts["github"].(map[string]any)["event"].(map[string]any)["issue"].(map[string]any)["labels"].([]any)
	if got := eval(t, "github.event.issue.labels", ctx).Interface().([]any); &got[0] != &labels[0] {
		t.Error("Interface copied an array that came from the context")
	}
	got := eval(t, `fromJSON('{"a":[1,{"b":null}],"c":"d"}')`, ctx).Interface()
	want := map[string]any{"a": []any{1.0, map[string]any{"b": nil}}, "c": "d"}
	if gj, wj := mustJSON(t, got), mustJSON(t, want); gj != wj {
		t.Errorf("Interface() = %s, want %s", gj, wj)
	}
	if _, ok := got.(map[string]any)["a"].([]any)[1].(map[string]any); !ok {
		t.Errorf("nested fromJSON object converted to %T, want map[string]any", got.(map[string]any)["a"].([]any)[1])
	}
	if got := eval(t, "env", ctx).Interface(); mustJSON(t, got) != `{"CI":"true","EMPTY":"","NUM":"10"}` {
		t.Errorf("env.Interface() = %#v", got)
	}
	if got := eval(t, "NaN", ctx).Interface(); !math.IsNaN(got.(float64)) {
		t.Errorf("NaN.Interface() = %v", got)
	}
}

func mustJSON(t *testing.T, x any) string {
	t.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConcurrentEval evaluates one Expr from many goroutines; run with
// -race it checks that Expr is immutable.
func TestConcurrentEval(t *testing.T) {
	e, err := Parse("format('{0}-{1}', matrix.os, join(github.event.issue.labels.*.name)) == 'ubuntu-latest-bug,help wanted' && success()")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ctx := testContext(Status(i % 2))
			for range 100 {
				v, err := e.Eval(ctx)
				if err != nil || Truthy(v) != (i%2 == 0) {
					t.Errorf("goroutine %d: %v %v", i, v.Interface(), err)
					return
				}
			}
		})
	}
	wg.Wait()
}
