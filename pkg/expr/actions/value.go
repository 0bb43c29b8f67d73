package actions

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the type of a Value, named as GitHub names it in its messages.
type Kind uint8

// The kinds of value an expression can produce.
const (
	KindNull Kind = iota
	KindBoolean
	KindNumber
	KindString
	KindArray
	KindObject
)

var kindNames = [...]string{"Null", "Boolean", "Number", "String", "Array", "Object"}

// String returns GitHub's name for the kind: "Null", "Boolean", "Number",
// "String", "Array" or "Object".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is the result of evaluating an expression. The zero Value is null.
//
// Arrays and objects keep a reference to the data they came from (a context
// given to Eval, or what fromJSON built) rather than a copy, so two values
// read from the same context object compare equal, as in GitHub.
type Value struct {
	kind Kind
	b    bool
	n    float64
	s    string
	// ref holds an array ([]any, []string or *list) or an object
	// (map[string]any, map[string]string or *object).
	ref any
}

func boolValue(b bool) Value      { return Value{kind: KindBoolean, b: b} }
func numberValue(n float64) Value { return Value{kind: KindNumber, n: n} }
func stringValue(s string) Value  { return Value{kind: KindString, s: s} }

// Kind returns the type of v.
func (v Value) Kind() Kind { return v.kind }

func (v Value) isPrimitive() bool { return v.kind <= KindString }

// Truthy reports whether v counts as true in a condition: false, 0, -0,
// NaN, the empty string and null are falsy; everything else, including
// empty arrays and objects, is truthy.
func Truthy(v Value) bool {
	switch v.kind {
	case KindNull:
		return false
	case KindBoolean:
		return v.b
	case KindNumber:
		return v.n != 0 && !math.IsNaN(v.n)
	case KindString:
		return v.s != ""
	default:
		return true
	}
}

// String converts v to a string the way GitHub does when it interpolates a
// value into text or passes it to format(): null is "", booleans are "true"
// and "false", numbers use at most 15 significant digits (1E+15 beyond
// that), and arrays and objects become "Array" and "Object".
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return ""
	case KindBoolean:
		if v.b {
			return "true"
		}
		return "false"
	case KindNumber:
		return formatNumber(v.n)
	case KindString:
		return v.s
	default:
		return v.kind.String()
	}
}

// Interface returns v as plain Go data: nil, bool, float64, string, []any
// or map[string]any. Arrays and objects that came from a Context are
// returned as given there when they already have one of these types.
func (v Value) Interface() any {
	switch v.kind {
	case KindNull:
		return nil
	case KindBoolean:
		return v.b
	case KindNumber:
		return v.n
	case KindString:
		return v.s
	}
	switch r := v.ref.(type) {
	case []any:
		return r
	case map[string]any:
		return r
	}
	if v.kind == KindArray {
		out := make([]any, 0, arrayLen(v.ref))
		for i := range arrayLen(v.ref) {
			out = append(out, plain(arrayAt(v.ref, i)))
		}
		return out
	}
	out := make(map[string]any, objectLen(v.ref))
	for k, x := range objectPairs(v.ref) {
		out[k] = plain(x)
	}
	return out
}

// plain converts an element of an array or object to plain Go data.
func plain(x any) any {
	v, err := toValue(x)
	if err != nil {
		return x // a type toValue rejects is left for the caller to see
	}
	return v.Interface()
}

// toNumber converts v to a number as GitHub does before comparing values
// of different kinds: null is 0, booleans are 1 and 0, strings are parsed
// (see parseNumber), arrays and objects are NaN.
func toNumber(v Value) float64 {
	switch v.kind {
	case KindNull:
		return 0
	case KindBoolean:
		if v.b {
			return 1
		}
		return 0
	case KindNumber:
		return v.n
	case KindString:
		return parseNumber(v.s)
	default:
		return math.NaN()
	}
}

// parseNumber follows the runner's ExpressionUtility.ParseNumber, itself
// modelled on JavaScript's Number(): surrounding white space is ignored, the
// empty string is 0, and besides decimal and exponent forms it accepts
// 0x hexadecimal, 0o octal and Infinity. Anything else is NaN.
func parseNumber(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if f, ok := parseDecimal(s); ok {
		return f
	}
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x':
			return parseInt32(s[2:], 16)
		case 'o':
			return parseInt32(s[2:], 8)
		}
	}
	return math.NaN()
}

// parseDecimal parses what .NET's Double.TryParse accepts with a leading
// sign, a decimal point and an exponent allowed: digits with an optional
// fraction and exponent, or Infinity or NaN spelt in any case.
func parseDecimal(s string) (float64, bool) {
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	switch {
	case strings.EqualFold(body, "infinity"), body == "∞":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case strings.EqualFold(body, "nan"):
		return math.NaN(), true
	}
	i, digits := 0, 0
	for i < len(body) && isDigit(body[i]) {
		i++
		digits++
	}
	if i < len(body) && body[i] == '.' {
		i++
		for i < len(body) && isDigit(body[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		start := i
		for i < len(body) && isDigit(body[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(body) {
		return 0, false
	}
	// The syntax is checked above; an out-of-range value comes back as
	// ±Inf or 0, which is what .NET returns too.
	f, _ := strconv.ParseFloat(s, 64)
	return f, true
}

// parseInt32 parses hexadecimal or octal digits as .NET's Int32 parsing
// does: the 32 bits are read as a two's complement number, and more than 32
// bits is NaN.
func parseInt32(digits string, base int) float64 {
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		ok := c >= '0' && c <= '7' ||
			base == 16 && (isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
		if !ok {
			return math.NaN()
		}
	}
	digits = strings.TrimLeft(digits, "0")
	if len(digits) > 11 { // more than 32 bits in either base
		return math.NaN()
	}
	if digits == "" {
		return 0
	}
	u, err := strconv.ParseUint(digits, base, 64)
	if err != nil || u > math.MaxUint32 {
		return math.NaN()
	}
	return float64(int32(uint32(u)))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// formatNumber formats f like .NET's "G15" format, which GitHub uses to turn
// numbers into strings: 15 significant digits, trailing zeros dropped, and
// scientific notation ("1.5E+20", "1E-05") when the exponent is -5 or
// below, or 15 or above. Negative zero prints as "0".
func formatNumber(f float64) string {
	switch {
	case f == 0:
		return "0"
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	// Integers that fit in 15 digits are common and need no rounding.
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	e := strconv.FormatFloat(f, 'e', 14, 64) // [-]d.dddddddddddddde±dd
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mark := strings.IndexByte(e, 'e')
	digits := strings.TrimRight(e[:1]+e[2:mark], "0")
	exp, _ := strconv.Atoi(e[mark+1:])

	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp < -4 || exp >= 15:
		b.WriteByte(digits[0])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('E')
		if exp < 0 {
			b.WriteByte('-')
			exp = -exp
		} else {
			b.WriteByte('+')
		}
		if exp < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(exp))
	case exp < 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp-1))
		b.WriteString(digits)
	case exp+1 >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", exp+1-len(digits)))
	default:
		b.WriteString(digits[:exp+1])
		b.WriteByte('.')
		b.WriteString(digits[exp+1:])
	}
	return b.String()
}

// compareFold compares strings as .NET's OrdinalIgnoreCase does: character
// by character after converting both to upper case.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		var ra, rb rune
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			ra, rb = rune(a[0]), rune(b[0])
			a, b = a[1:], b[1:]
			if 'a' <= ra && ra <= 'z' {
				ra -= 'a' - 'A'
			}
			if 'a' <= rb && rb <= 'z' {
				rb -= 'a' - 'A'
			}
		} else {
			var na, nb int
			ra, na = utf8.DecodeRuneInString(a)
			rb, nb = utf8.DecodeRuneInString(b)
			a, b = a[na:], b[nb:]
			ra, rb = unicode.ToUpper(ra), unicode.ToUpper(rb)
		}
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

// upper converts s to upper case rune by rune, as OrdinalIgnoreCase
// searches do.
func upper(s string) string { return strings.Map(unicode.ToUpper, s) }

// coerce converts the operands of a comparison the way GitHub does (like
// JavaScript's abstract equality, but objects are never converted): a
// number and a string compare as numbers; a boolean or null is turned into
// a number and the comparison tried again.
func coerce(l, r Value) (Value, Value) {
	for l.kind != r.kind {
		switch {
		case l.kind == KindNumber && r.kind == KindString:
			return l, numberValue(toNumber(r))
		case l.kind == KindString && r.kind == KindNumber:
			return numberValue(toNumber(l)), r
		case l.kind == KindBoolean || l.kind == KindNull:
			l = numberValue(toNumber(l))
		case r.kind == KindBoolean || r.kind == KindNull:
			r = numberValue(toNumber(r))
		default:
			return l, r
		}
	}
	return l, r
}

// looseEqual is GitHub's ==: values are coerced, strings compare without
// regard to case, NaN equals nothing, and arrays and objects are equal only
// to themselves.
func looseEqual(l, r Value) bool {
	l, r = coerce(l, r)
	if l.kind != r.kind {
		return false
	}
	switch l.kind {
	case KindNull:
		return true
	case KindBoolean:
		return l.b == r.b
	case KindNumber:
		return l.n == r.n // false when either is NaN
	case KindString:
		return compareFold(l.s, r.s) == 0
	default:
		return sameRef(l.ref, r.ref)
	}
}

// looseLess is GitHub's <. Values that cannot be ordered (NaN, arrays,
// objects, mismatched kinds) are never less than anything.
func looseLess(l, r Value) bool {
	l, r = coerce(l, r)
	if l.kind != r.kind {
		return false
	}
	switch l.kind {
	case KindBoolean:
		return !l.b && r.b
	case KindNumber:
		return l.n < r.n
	case KindString:
		return compareFold(l.s, r.s) < 0
	default:
		return false
	}
}
