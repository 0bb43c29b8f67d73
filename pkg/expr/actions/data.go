package actions

import (
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
)

// list is an array the evaluator built: one decoded by fromJSON, or the
// result of a '*' filter. A filtered list applies any further index to each
// of its elements instead of to itself (a.*.b.c reads c from every b).
type list struct {
	items    []any
	filtered bool
}

// object is an object decoded by fromJSON. It keeps the keys in the order
// they were written so that toJSON(fromJSON(x)) reproduces x's order.
type object struct {
	keys []string
	vals map[string]any
}

// toValue converts context data to a Value. It accepts what a Context may
// hold: nil, bool, string, any Go number, []any, []string, map[string]any,
// map[string]string, Value, and through reflection other slices, arrays
// and maps keyed by strings.
func toValue(x any) (Value, error) {
	switch v := x.(type) {
	case nil:
		return Value{}, nil
	case Value:
		return v, nil
	case bool:
		return boolValue(v), nil
	case string:
		return stringValue(v), nil
	case float64:
		return numberValue(v), nil
	case int:
		return numberValue(float64(v)), nil
	case int64:
		return numberValue(float64(v)), nil
	case json.Number:
		return numberValue(parseNumber(string(v))), nil
	case []any, []string, *list:
		return Value{kind: KindArray, ref: v}, nil
	case map[string]any, map[string]string, *object:
		return Value{kind: KindObject, ref: v}, nil
	}
	return reflectValue(x)
}

// reflectValue handles the less common Go types a caller might put in a
// context. Collections are copied one level deep into the common types.
func reflectValue(x any) (Value, error) {
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Bool:
		return boolValue(rv.Bool()), nil
	case reflect.String:
		return stringValue(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numberValue(float64(rv.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return numberValue(float64(rv.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return numberValue(rv.Float()), nil
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return Value{kind: KindArray, ref: &list{items: items}}, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return Value{kind: KindObject, ref: m}, nil
	}
	return Value{}, fmt.Errorf("unsupported Go type %T in a context", x)
}

func arrayLen(ref any) int {
	switch a := ref.(type) {
	case []any:
		return len(a)
	case []string:
		return len(a)
	case *list:
		return len(a.items)
	}
	return 0
}

func arrayAt(ref any, i int) any {
	switch a := ref.(type) {
	case []any:
		return a[i]
	case []string:
		return a[i]
	case *list:
		return a.items[i]
	}
	return nil
}

func objectLen(ref any) int {
	switch o := ref.(type) {
	case map[string]any:
		return len(o)
	case map[string]string:
		return len(o)
	case *object:
		return len(o.keys)
	}
	return 0
}

// objectPairs yields an object's entries: in written order for objects
// from fromJSON, sorted by key for Go maps, whose order is random.
func objectPairs(ref any) iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		switch o := ref.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(o)) {
				if !yield(k, o[k]) {
					return
				}
			}
		case map[string]string:
			for _, k := range slices.Sorted(maps.Keys(o)) {
				if !yield(k, o[k]) {
					return
				}
			}
		case *object:
			for _, k := range o.keys {
				if !yield(k, o.vals[k]) {
					return
				}
			}
		}
	}
}

// objectGet looks key up in an object. GitHub's objects ignore case; an
// exact match is preferred, then the first key (in objectPairs order) that
// differs only in case.
func objectGet(ref any, key string) (any, bool) {
	switch o := ref.(type) {
	case map[string]any:
		if v, ok := o[key]; ok {
			return v, true
		}
	case map[string]string:
		if v, ok := o[key]; ok {
			return v, true
		}
	case *object:
		if v, ok := o.vals[key]; ok {
			return v, true
		}
	}
	for k, v := range objectPairs(ref) {
		if compareFold(k, key) == 0 {
			return v, true
		}
	}
	return nil, false
}

// sameRef reports whether two arrays or objects are the same one, which is
// what == means for them in GitHub.
func sameRef(a, b any) bool {
	switch x := a.(type) {
	case *list:
		y, ok := b.(*list)
		return ok && x == y
	case *object:
		y, ok := b.(*object)
		return ok && x == y
	}
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Type() != rb.Type() {
		return false
	}
	// Slices are the same array when they share their first element and
	// length; maps when they share their header.
	return ra.UnsafePointer() == rb.UnsafePointer() && ra.Len() == rb.Len()
}
