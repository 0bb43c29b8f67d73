package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// ParseCobertura reads a Cobertura XML report.
func ParseCobertura(r io.Reader) (*Coverage, error) {
	return parseCobertura(r, defaultLimits)
}

func parseCobertura(r io.Reader, lim limits) (*Coverage, error) {
	const format = "cobertura"
	d := newXMLDecoder(r, lim)
	errorf := func(f string, args ...any) error {
		line, _ := d.InputPos()
		return fmt.Errorf("cobertura: line %d: %s", line, fmt.Sprintf(f, args...))
	}
	lines := lineSet{}
	var root *xml.StartElement
	var stack []string // open element names
	filename := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, xmlError(format, d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, errorf("elements nested deeper than %d levels", maxDepth)
			}
			if root == nil {
				if t.Name.Local != "coverage" {
					return nil, fmt.Errorf("cobertura: root element is <%s>, not <coverage>", t.Name.Local)
				}
				root = &t
			} else if len(stack) == 0 {
				return nil, errorf("second root element <%s>", t.Name.Local)
			}
			switch {
			case t.Name.Local == "class":
				filename, _ = attr(t, "filename")
				filename = strings.TrimSpace(filename)
				if filename == "" {
					return nil, errorf("<class> without a filename")
				}
			case t.Name.Local == "line" && parentsAre(stack, "class", "lines"):
				n, err := parseLineNumber(attrOr(t, "number"))
				if err != nil {
					return nil, errorf("<line>: %v", err)
				}
				covered, err := parseHits(attrOr(t, "hits"))
				if err != nil {
					return nil, errorf("<line number=%d>: %v", n, err)
				}
				lines.add(filename, n, covered)
			}
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, fmt.Errorf("cobertura: no <coverage> element (empty file?)")
	}
	if len(lines) > 0 {
		return lines.coverage(nil), nil
	}
	// No classes: a summary-only report.
	c := &Coverage{}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"lines-valid", &c.LinesValid}, {"lines-covered", &c.LinesCovered}} {
		v, ok := attr(*root, f.name)
		if !ok {
			continue
		}
		n, err := parseCount(v)
		if err != nil {
			return nil, fmt.Errorf("cobertura: <coverage> attribute %s: %v", f.name, err)
		}
		*f.dst = n
	}
	return c, checkTotals(format, "<coverage>", c.LinesValid, c.LinesCovered)
}

// parentsAre reports whether the innermost open elements are names, outermost first.
func parentsAre(stack []string, names ...string) bool {
	if len(stack) < len(names) {
		return false
	}
	for i, n := range names {
		if stack[len(stack)-len(names)+i] != n {
			return false
		}
	}
	return true
}

// attrOr returns the attribute's value, empty when it is missing.
func attrOr(se xml.StartElement, name string) string {
	v, _ := attr(se, name)
	return v
}
