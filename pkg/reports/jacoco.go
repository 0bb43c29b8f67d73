package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
)

// ParseJaCoCo reads a JaCoCo XML report, using its LINE counters.
func ParseJaCoCo(r io.Reader) (*Coverage, error) {
	return parseJaCoCo(r, defaultLimits)
}

func parseJaCoCo(r io.Reader, lim limits) (*Coverage, error) {
	const format = "jacoco"
	d := newXMLDecoder(r, lim)
	errorf := func(f string, args ...any) error {
		line, _ := d.InputPos()
		return fmt.Errorf("jacoco: line %d: %s", line, fmt.Sprintf(f, args...))
	}
	var (
		stack      []string
		pkg, file  string
		files      []FileCoverage
		total      *FileCoverage // the report's own LINE counter
		sawRoot    bool
		fileCounts bool
	)
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
			if !sawRoot {
				if t.Name.Local != "report" {
					return nil, fmt.Errorf("jacoco: root element is <%s>, not <report>", t.Name.Local)
				}
				sawRoot = true
			} else if len(stack) == 0 {
				return nil, errorf("second root element <%s>", t.Name.Local)
			}
			switch t.Name.Local {
			case "package":
				pkg = attrOr(t, "name")
			case "sourcefile":
				file = attrOr(t, "name")
				if strings.TrimSpace(file) == "" {
					return nil, errorf("<sourcefile> without a name")
				}
				file = path.Join(pkg, file)
			case "counter":
				parent := stack[len(stack)-1]
				if attrOr(t, "type") != "LINE" || (parent != "sourcefile" && parent != "report") {
					break
				}
				fc, err := jacocoCounter(t)
				if err != nil {
					return nil, errorf("<%s> LINE counter: %v", parent, err)
				}
				if parent == "report" {
					total = &fc
				} else {
					fc.Path = file
					files = append(files, fc)
					fileCounts = true
				}
			}
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if !sawRoot {
		return nil, fmt.Errorf("jacoco: no <report> element (empty file?)")
	}
	if fileCounts || total == nil {
		return newCoverage(files), nil
	}
	return &Coverage{LinesValid: total.LinesValid, LinesCovered: total.LinesCovered}, nil
}

func jacocoCounter(se xml.StartElement) (FileCoverage, error) {
	missed, err := parseCount(attrOr(se, "missed"))
	if err != nil {
		return FileCoverage{}, fmt.Errorf("missed: %v", err)
	}
	covered, err := parseCount(attrOr(se, "covered"))
	if err != nil {
		return FileCoverage{}, fmt.Errorf("covered: %v", err)
	}
	return FileCoverage{LinesValid: missed + covered, LinesCovered: covered}, nil
}
