package actions

import (
	"math"
	"testing"
)

func TestParseNumber(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"", 0},
		{"  \t", 0},
		{"1", 1},
		{" 1 ", 1},
		{"+1", 1},
		{"-1", -1},
		{"-0", math.Copysign(0, -1)},
		{".5", 0.5},
		{"5.", 5},
		{"+.5", 0.5},
		{"123456.789", 123456.789},
		{"1e3", 1000},
		{"1E+3", 1000},
		{"1.2e-2", 0.012},
		{"1e400", math.Inf(1)},
		{"0xff", 255},
		{"0xFF", 255},
		{"0x0000000001", 1},
		{"0x7fffffff", math.MaxInt32},
		{"0xffffffff", -1}, // 32 bits read as two's complement, as .NET does
		{"0x100000000", nan},
		{"0XFF", nan},
		{"-0xff", nan},
		{"0x", nan},
		{"0xg", nan},
		{"0o17", 15},
		{"0o8", nan},
		{"Infinity", math.Inf(1)},
		{"-Infinity", math.Inf(-1)},
		{"+Infinity", math.Inf(1)},
		{"infinity", math.Inf(1)},
		{"inf", nan},
		{"NaN", nan},
		{"abc", nan},
		{"1 2", nan},
		{"1_000", nan},
		{"0b1", nan},
		{"1e", nan},
		{"e1", nan},
		{".", nan},
		{"-", nan},
		{"1.2.3", nan},
		{"١", nan}, // digits are ASCII only
	} {
		got := parseNumber(c.in)
		if math.IsNaN(c.want) != math.IsNaN(got) || !math.IsNaN(got) && (got != c.want || math.Signbit(got) != math.Signbit(c.want)) {
			t.Errorf("parseNumber(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{0.5, "0.5"},
		{-0.5, "-0.5"},
		{100, "100"},
		{1.9, "1.9"},
		{0.1, "0.1"},
		{1234.56, "1234.56"},
		{123456.789, "123456.789"},
		{0.84551240822557006, "0.84551240822557"},
		{1.0 / 3, "0.333333333333333"},
		{2.0 / 3, "0.666666666666667"},
		{1e14, "100000000000000"},
		{123456789012345, "123456789012345"},
		{1e15, "1E+15"},
		{1234567890123456, "1.23456789012346E+15"},
		{999999999999999.9, "1E+15"},
		{1e21, "1E+21"},
		{-1.5e300, "-1.5E+300"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{1e-5, "1E-05"},
		{1.5e-7, "1.5E-07"},
		{math.MaxFloat64, "1.79769313486232E+308"},
		{5e-324, "4.94065645841247E-324"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	} {
		if got := formatNumber(c.in); got != c.want {
			t.Errorf("formatNumber(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestToNumber checks GitHub's documented conversion table: null is 0,
// true 1, false 0, a string is parsed from any legal JSON number format
// (the empty string being 0) or else NaN, arrays and objects NaN.
func TestToNumber(t *testing.T) {
	ctx := testContext(StatusSuccess)
	nan := math.NaN()
	for _, c := range []struct {
		src  string
		want float64
	}{
		{"null", 0},
		{"true", 1},
		{"false", 0},
		{"''", 0},
		{"' 12.5 '", 12.5},
		{"'-2.99e-2'", -0.0299},
		{"'0xff'", 255},
		{"'abc'", nan},
		{"'1 2'", nan},
		{"matrix.empty", nan},   // array
		{"github.event", nan},   // object
		{"fromJSON('[]')", nan}, // array
		{"fromJSON('{}')", nan}, // object
		{"42", 42},
	} {
		got := toNumber(eval(t, c.src, ctx))
		if math.IsNaN(c.want) != math.IsNaN(got) || !math.IsNaN(got) && got != c.want {
			t.Errorf("toNumber(%s) = %v, want %v", c.src, got, c.want)
		}
	}
}

func TestTruthy(t *testing.T) {
	ctx := testContext(StatusSuccess)
	for _, c := range []struct {
		src  string
		want bool
	}{
		{"false", false},
		{"0", false},
		{"-0", false},
		{"0.0", false},
		{"''", false},
		{"null", false},
		{"NaN", false},
		{"true", true},
		{"1", true},
		{"-1", true},
		{"Infinity", true},
		{"' '", true},
		{"'false'", true},
		{"'0'", true},
		{"matrix.empty", true}, // an empty array is truthy
		{"fromJSON('{}')", true},
		{"github.missing", false},
	} {
		if got := Truthy(eval(t, c.src, ctx)); got != c.want {
			t.Errorf("Truthy(%s) = %v, want %v", c.src, got, c.want)
		}
	}
}

func TestValueString(t *testing.T) {
	ctx := testContext(StatusSuccess)
	for _, c := range []struct {
		src  string
		kind Kind
		want string
	}{
		{"null", KindNull, ""},
		{"true", KindBoolean, "true"},
		{"false", KindBoolean, "false"},
		{"1.50", KindNumber, "1.5"},
		{"-0", KindNumber, "0"},
		{"1.2e2", KindNumber, "120"},
		{"0xff", KindNumber, "255"},
		{"0o10", KindNumber, "8"},
		{"-Infinity", KindNumber, "-Infinity"},
		{"+Infinity", KindNumber, "Infinity"},
		{"NaN", KindNumber, "NaN"},
		{"'It''s'", KindString, "It's"},
		{"matrix.empty", KindArray, "Array"},
		{"github.event", KindObject, "Object"},
		{"github.event.issue.labels.*.name", KindArray, "Array"},
	} {
		v := eval(t, c.src, ctx)
		if v.Kind() != c.kind || v.String() != c.want {
			t.Errorf("%s = %s %q, want %s %q", c.src, v.Kind(), v.String(), c.kind, c.want)
		}
	}
}

func TestKindString(t *testing.T) {
	want := []string{"Null", "Boolean", "Number", "String", "Array", "Object", "Kind(6)"}
	for k, w := range want {
		if got := Kind(k).String(); got != w {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, w)
		}
	}
}

func TestCompareFold(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"abc", "ABC", 0},
		{"abc", "abd", -1},
		{"abc", "ab", 1},
		{"", "", 0},
		{"", "a", -1},
		{"straße", "STRASSE", 1}, // no full case folding, as in .NET ordinal comparison
		{"émile", "ÉMILE", 0},
		{"a", "_", -1}, // compared upper-cased: 'A' < '_'
	} {
		if got := compareFold(c.a, c.b); got != c.want {
			t.Errorf("compareFold(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
