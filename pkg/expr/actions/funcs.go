package actions

import (
	"fmt"
	"strings"
)

// maxArgs is the most arguments format() takes, as in GitHub.
const maxArgs = 255

// function is a built-in function. Its eval receives the call node and
// evaluates the arguments it needs itself, so that unused arguments are
// never evaluated, as in the runner.
type function struct {
	name     string
	min, max int
	status   bool // a status function, which stops ParseIf adding success()
	eval     func(ev *evaluator, call *node) (Value, error)
}

var functions = []*function{
	{name: "contains", min: 2, max: 2, eval: evalContains},
	{name: "startsWith", min: 2, max: 2, eval: evalAffix(strings.HasPrefix)},
	{name: "endsWith", min: 2, max: 2, eval: evalAffix(strings.HasSuffix)},
	{name: "format", min: 1, max: maxArgs, eval: evalFormat},
	{name: "join", min: 1, max: 2, eval: evalJoin},
	{name: "toJSON", min: 1, max: 1, eval: evalToJSON},
	{name: "fromJSON", min: 1, max: 1, eval: evalFromJSON},
	{name: "hashFiles", min: 1, max: maxArgs, eval: evalHashFiles},
	{name: "success", status: true, eval: evalStatus(func(s Status) bool { return s == StatusSuccess })},
	{name: "failure", status: true, eval: evalStatus(func(s Status) bool { return s == StatusFailure })},
	{name: "cancelled", status: true, eval: evalStatus(func(s Status) bool { return s == StatusCancelled })},
	{name: "always", status: true, eval: evalStatus(func(Status) bool { return true })},
}

// functionsByName indexes functions by lower-case name: GitHub's function
// names ignore case (toJson and toJSON are the same).
var functionsByName = func() map[string]*function {
	m := make(map[string]*function, len(functions))
	for _, f := range functions {
		m[strings.ToLower(f.name)] = f
	}
	return m
}()

func lookupFunction(name string) *function {
	return functionsByName[strings.ToLower(name)]
}

func functionList() string {
	names := make([]string, len(functions))
	for i, f := range functions {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// arity describes how many arguments f takes, for error messages.
func (f *function) arity() string {
	switch {
	case f.max == 0:
		return "no arguments"
	case f.min == f.max && f.min == 1:
		return "1 argument"
	case f.min == f.max:
		return fmt.Sprintf("%d arguments", f.min)
	case f.max == maxArgs && f.min == 1:
		return "at least 1 argument"
	case f.max == maxArgs:
		return fmt.Sprintf("at least %d arguments", f.min)
	}
	return fmt.Sprintf("%d to %d arguments", f.min, f.max)
}

// callError reports a failure of the function called at call.
func callError(call *node, format string, args ...any) error {
	return &EvalError{Column: call.col, Err: fmt.Errorf(call.fn.name+"(): "+format, args...)}
}

// evalContains is contains(search, item): with a primitive search, whether
// its string form contains item's, ignoring case; with an array, whether
// an element equals item by ==.
func evalContains(ev *evaluator, call *node) (Value, error) {
	search, err := ev.eval(call.args[0])
	if err != nil {
		return Value{}, err
	}
	switch {
	case search.isPrimitive():
		item, err := ev.eval(call.args[1])
		if err != nil || !item.isPrimitive() {
			return boolValue(false), err
		}
		return boolValue(strings.Contains(upper(search.String()), upper(item.String()))), nil
	case search.kind == KindArray && arrayLen(search.ref) > 0:
		item, err := ev.eval(call.args[1])
		if err != nil {
			return Value{}, err
		}
		for i := range arrayLen(search.ref) {
			v, err := ev.value(call, arrayAt(search.ref, i))
			if err != nil {
				return Value{}, err
			}
			if looseEqual(item, v) {
				return boolValue(true), nil
			}
		}
	}
	return boolValue(false), nil
}

// evalAffix makes startsWith and endsWith, which compare the string forms
// of two primitives ignoring case, and are false for anything else.
func evalAffix(has func(s, affix string) bool) func(*evaluator, *node) (Value, error) {
	return func(ev *evaluator, call *node) (Value, error) {
		s, err := ev.eval(call.args[0])
		if err != nil || !s.isPrimitive() {
			return boolValue(false), err
		}
		affix, err := ev.eval(call.args[1])
		if err != nil || !affix.isPrimitive() {
			return boolValue(false), err
		}
		return boolValue(has(upper(s.String()), upper(affix.String()))), nil
	}
}

// evalJoin is join(array, separator): the string forms of the elements,
// separated by separator (default ","). A primitive is its own string form;
// an object is "".
func evalJoin(ev *evaluator, call *node) (Value, error) {
	items, err := ev.eval(call.args[0])
	if err != nil {
		return Value{}, err
	}
	if items.isPrimitive() {
		return stringValue(items.String()), nil
	}
	if items.kind != KindArray {
		return stringValue(""), nil
	}
	n := arrayLen(items.ref)
	sep := ","
	if n > 1 && len(call.args) > 1 {
		s, err := ev.eval(call.args[1])
		if err != nil {
			return Value{}, err
		}
		if s.isPrimitive() {
			sep = s.String()
		}
	}
	var b strings.Builder
	for i := range n {
		v, err := ev.value(call, arrayAt(items.ref, i))
		if err != nil {
			return Value{}, err
		}
		s := v.String()
		if i > 0 {
			s = sep + s
		}
		if err := ev.spend(call, len(s)); err != nil {
			return Value{}, err
		}
		b.WriteString(s)
	}
	return stringValue(b.String()), nil
}

// fmtPart is a piece of a format string: literal text, or argument arg
// (1-based among the call's arguments) with its format specifier.
type fmtPart struct {
	text string
	arg  int
	spec string
}

// evalFormat is format(string, args...): {N} is replaced by the string
// form of argument N, and {{ and }} stand for { and }.
func evalFormat(ev *evaluator, call *node) (Value, error) {
	f, err := ev.eval(call.args[0])
	if err != nil {
		return Value{}, err
	}
	parts, err := parseFormat(f.String(), len(call.args)-1)
	if err != nil {
		return Value{}, callError(call, "%v", err)
	}
	// Arguments are evaluated once, when first used.
	args := make([]*Value, len(call.args))
	var b strings.Builder
	for _, p := range parts {
		s := p.text
		if p.arg > 0 {
			if args[p.arg] == nil {
				v, err := ev.eval(call.args[p.arg])
				if err != nil {
					return Value{}, err
				}
				args[p.arg] = &v
			}
			if p.spec != "" {
				return Value{}, callError(call, "format specifier %q in {%d:%s} is not supported for a %s",
					p.spec, p.arg-1, p.spec, args[p.arg].kind)
			}
			s = args[p.arg].String()
		}
		if err := ev.spend(call, len(s)); err != nil {
			return Value{}, err
		}
		b.WriteString(s)
	}
	return stringValue(b.String()), nil
}

// parseFormat splits a format string as the runner's Format function
// does. nargs is the number of arguments after the format string.
func parseFormat(f string, nargs int) ([]fmtPart, error) {
	invalid := fmt.Errorf("invalid format string %q: write {N} for argument N, and {{ and }} for literal braces", f)
	var parts []fmtPart
	text := func(s string) {
		if s != "" {
			parts = append(parts, fmtPart{text: s})
		}
	}
	i := 0
	for i < len(f) {
		l := strings.IndexByte(f[i:], '{')
		r := strings.IndexByte(f[i:], '}')
		if l >= 0 {
			l += i
		}
		if r >= 0 {
			r += i
		}
		switch {
		case l >= 0 && (r < 0 || r > l):
			if l+1 < len(f) && f[l+1] == '{' {
				text(f[i : l+1])
				i = l + 2
				continue
			}
			arg, spec, end, ok := readPlaceholder(f, l+1)
			if !ok {
				return nil, invalid
			}
			if arg >= nargs {
				return nil, fmt.Errorf("format string %q refers to argument {%d}, but only %d argument(s) follow it", f, arg, nargs)
			}
			text(f[i:l])
			parts = append(parts, fmtPart{arg: arg + 1, spec: spec})
			i = end + 1
		case r >= 0:
			if r+1 < len(f) && f[r+1] == '}' {
				text(f[i : r+1])
				i = r + 2
				continue
			}
			return nil, invalid
		default:
			text(f[i:])
			i = len(f)
		}
	}
	return parts, nil
}

// readPlaceholder reads "N}" or "N:spec}" from f at i, where N is 0 to 255
// and '}}' stands for '}' inside spec. It returns the offset of the
// closing brace.
func readPlaceholder(f string, i int) (arg int, spec string, end int, ok bool) {
	start := i
	for i < len(f) && isDigit(f[i]) {
		arg = arg*10 + int(f[i]-'0')
		if arg > maxArgs {
			return 0, "", 0, false
		}
		i++
	}
	if i == start || i >= len(f) {
		return 0, "", 0, false
	}
	if f[i] == '}' {
		return arg, "", i, true
	}
	if f[i] != ':' {
		return 0, "", 0, false
	}
	var b strings.Builder
	for i++; i < len(f); i++ {
		if f[i] != '}' {
			b.WriteByte(f[i])
			continue
		}
		if i+1 < len(f) && f[i+1] == '}' {
			b.WriteByte('}')
			i++
			continue
		}
		return arg, b.String(), i, true
	}
	return 0, "", 0, false
}

func evalToJSON(ev *evaluator, call *node) (Value, error) {
	v, err := ev.eval(call.args[0])
	if err != nil {
		return Value{}, err
	}
	w := jsonWriter{limit: ev.budget}
	w.value(v, 0)
	if w.err != nil {
		return Value{}, callError(call, "%v", w.err)
	}
	if err := ev.spend(call, w.b.Len()); err != nil {
		return Value{}, err
	}
	return stringValue(w.b.String()), nil
}

func evalFromJSON(ev *evaluator, call *node) (Value, error) {
	v, err := ev.eval(call.args[0])
	if err != nil {
		return Value{}, err
	}
	x, err := decodeJSON(v.String())
	if err != nil {
		return Value{}, callError(call, "%v", err)
	}
	return ev.value(call, x)
}

func evalHashFiles(ev *evaluator, call *node) (Value, error) {
	return Value{}, &EvalError{Column: call.col, Err: fmt.Errorf("hashFiles() is %w: Gantry evaluates expressions without the job's workspace", ErrUnsupported)}
}

func evalStatus(is func(Status) bool) func(*evaluator, *node) (Value, error) {
	return func(ev *evaluator, _ *node) (Value, error) {
		return boolValue(is(ev.ctx.Status)), nil
	}
}
