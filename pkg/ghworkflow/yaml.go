package ghworkflow

import (
	"errors"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"

	"github.com/gantry-ci/gantry/pkg/pipeline"
	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Limits on what a workflow file may be. GitHub bounds workflow files too;
// these bounds keep the memory and time of Parse and Plan bounded for any
// input, including YAML aliases that stand for billions of values
// ("billion laughs").
const (
	maxFileBytes = 2 << 20
	// maxNodes and maxTextBytes bound the file with its aliases expanded.
	maxNodes     = 500_000
	maxTextBytes = 16 << 20
	maxDepth     = 100
)

var yamlLimits = yamlpos.Limits{Nodes: maxNodes, TextBytes: maxTextBytes, Depth: maxDepth}

// workflowYAML is plain YAML: no custom tags, no merge keys.
var workflowYAML = yamlpos.Options{
	UnknownTagHint: "GitHub Actions workflows use plain YAML",
	MergeKeyError:  "merge keys `<<` are not supported in GitHub Actions workflows; repeat the keys, or use an alias for a whole value",
}

// loadYAML parses data into nodes. It returns nil, with the problem
// recorded, when data is not a single valid YAML document.
func loadYAML(file string, data []byte, d *diagnostics) *yamlpos.Node {
	docs, err := yamlpos.Parse(file, data, 2) // a second one is an error anyway
	if err != nil {
		var se *yamlpos.SyntaxError
		errors.As(err, &se) // Parse fails with nothing else
		d.errs = append(d.errs, &pipeline.Error{Pos: se.Pos, Msg: se.Msg})
		return nil
	}
	l := yamlpos.NewLoader(file, d, workflowYAML)
	switch {
	case len(docs) == 0:
		return &yamlpos.Node{Kind: yamlpos.Scalar, Tag: "!!null", Pos: pipeline.Pos{File: file, Line: 1, Column: 1}}
	case len(docs) > 1:
		d.Errorf(l.Pos(docs[1]), "a workflow file holds a single YAML document; remove this `---` and what follows")
		return nil
	}
	return l.Load(docs[0])
}

// source is the file being read, to turn offsets inside scalars into
// positions.
type source struct {
	file  string
	lines []string
}

func newSource(file string, data []byte) *source {
	return &source{file: file, lines: strings.Split(string(data), "\n")}
}

// posIn returns the position of the byte at offset off of scalar n's value,
// exactly for single-line scalars and literal blocks, and n's own position
// for the other multi-line forms, whose folding loses the columns.
func (s *source) posIn(n *yamlpos.Node, off int) pipeline.Pos {
	off = max(0, min(off, len(n.Value)))
	before := n.Value[:off]
	switch {
	case !strings.Contains(before, "\n") && !strings.Contains(n.Value, "\n") && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0:
		col := n.Pos.Column + utf8.RuneCountInString(before)
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
			col++
		}
		return pipeline.Pos{File: n.Pos.File, Line: n.Pos.Line, Column: col}
	case n.Style&yaml.LiteralStyle != 0:
		k := strings.Count(before, "\n")
		lineStart := strings.LastIndexByte(before, '\n') + 1
		line := n.Pos.Line + 1 + k
		indent := s.blockIndent(n.Pos.Line + 1)
		return pipeline.Pos{File: n.Pos.File, Line: line, Column: indent + 1 + utf8.RuneCountInString(before[lineStart:])}
	}
	return n.Pos
}

// blockIndent returns the indentation of the first non-blank line at or
// after line (1-based): the indentation of a block scalar's content.
func (s *source) blockIndent(line int) int {
	for i := line - 1; i >= 0 && i < len(s.lines); i++ {
		l := strings.TrimRight(s.lines[i], "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		return len(l) - len(strings.TrimLeft(l, " "))
	}
	return 0
}
