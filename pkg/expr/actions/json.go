package actions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	// maxJSONDepth is how deeply fromJSON input may nest; it is the
	// default limit of the JSON reader GitHub uses (Newtonsoft.Json).
	maxJSONDepth = 64
	// maxToJSONDepth stops toJSON on context data nested absurdly deep,
	// which only a cycle in the caller's Go values could produce.
	maxToJSONDepth = 1000
)

// jsonWriter writes a value as toJSON does in GitHub: two-space indents,
// one element per line, "key": value, [] and {} for empty collections, and
// numbers in the same form as String.
type jsonWriter struct {
	b     strings.Builder
	limit int
	err   error
}

func (w *jsonWriter) write(s string) {
	if w.err != nil {
		return
	}
	if w.b.Len()+len(s) > w.limit {
		w.err = fmt.Errorf("result is larger than the limit of %d bytes", MaxResultBytes)
		return
	}
	w.b.WriteString(s)
}

func (w *jsonWriter) newline(level int) {
	w.write("\n" + strings.Repeat("  ", level))
}

func (w *jsonWriter) value(v Value, level int) {
	if w.err != nil {
		return
	}
	if level > maxToJSONDepth {
		w.err = fmt.Errorf("value is nested more than %d levels deep", maxToJSONDepth)
		return
	}
	switch v.kind {
	case KindNull:
		w.write("null")
	case KindBoolean, KindNumber:
		w.write(v.String())
	case KindString:
		w.write(quoteJSON(v.s))
	case KindArray:
		n := arrayLen(v.ref)
		if n == 0 {
			w.write("[]")
			return
		}
		w.write("[")
		for i := range n {
			if i > 0 {
				w.write(",")
			}
			w.newline(level + 1)
			w.element(arrayAt(v.ref, i), level+1)
		}
		w.newline(level)
		w.write("]")
	case KindObject:
		if objectLen(v.ref) == 0 {
			w.write("{}")
			return
		}
		w.write("{")
		first := true
		for k, x := range objectPairs(v.ref) {
			if !first {
				w.write(",")
			}
			first = false
			w.newline(level + 1)
			w.write(quoteJSON(k))
			w.write(": ")
			w.element(x, level+1)
			if w.err != nil {
				return
			}
		}
		w.newline(level)
		w.write("}")
	}
}

func (w *jsonWriter) element(x any, level int) {
	v, err := toValue(x)
	if err != nil {
		w.err = err
		return
	}
	w.value(v, level)
}

// quoteJSON quotes s as a JSON string, escaping what Newtonsoft.Json
// escapes by default: quotes, backslashes, control characters and the
// line separators U+0085, U+2028 and U+2029.
func quoteJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\u0085', '\u2028', '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// decodeJSON parses s for fromJSON into nil, bool, float64, string, *list
// and *object values; objects keep their keys' order.
func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	x, err := decodeJSONValue(d, 0)
	if errors.Is(err, io.EOF) {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("invalid JSON: the string is empty")
		}
		return nil, errors.New("invalid JSON: unexpected end of input")
	}
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: unexpected text after the value")
	}
	return x, nil
}

func decodeJSONValue(d *json.Decoder, depth int) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, fmt.Errorf("nested more than %d levels deep", maxJSONDepth)
		}
		if t == '[' {
			l := &list{}
			for d.More() {
				x, err := decodeJSONValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, x)
			}
			_, err := d.Token() // ']'
			return l, err
		}
		o := &object{vals: map[string]any{}}
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string) // the decoder only returns strings as keys
			x, err := decodeJSONValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = x // the last of duplicate keys wins, as in Newtonsoft.Json
		}
		_, err := d.Token() // '}'
		return o, err
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return f, nil
	default: // nil, bool, string
		return t, nil
	}
}
