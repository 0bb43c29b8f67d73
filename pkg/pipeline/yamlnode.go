package pipeline

import (
	"errors"

	yaml "go.yaml.in/yaml/v4"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// loadYAML parses data into raw nodes. It returns nil, with the problem
// recorded, when data is not valid YAML; it returns a null node when the
// file holds no document. Problems in a YAML structure it could read
// (a recursive alias, an unknown tag, a bad merge key) are recorded too.
func loadYAML(file string, data []byte, d *diagnostics) *yamlpos.Node {
	docs, err := yamlpos.Parse(file, data, 0)
	if err != nil {
		var se *yamlpos.SyntaxError
		errors.As(err, &se) // Parse fails with nothing else
		d.errs = append(d.errs, &Error{Pos: se.Pos, Msg: se.Msg})
		return nil
	}
	l := yamlpos.NewLoader(file, d, yamlpos.Options{Tag: func(n *yamlpos.Node) bool {
		if n.Tag != "!reference" {
			return false
		}
		if n.Kind != yamlpos.Sequence {
			d.Errorf(n.Pos, "!reference takes a list of keys, such as [.job, script]; got %s", yamlpos.Describe(n))
		}
		return true
	}})
	switch {
	case len(docs) == 0:
		return &yamlpos.Node{Kind: yamlpos.Scalar, Tag: "!!null", Pos: Pos{File: file, Line: 1, Column: 1}}
	case len(docs) == 2 && isSpecHeader(docs[0]):
		// GitLab lets a file start with a `spec:` document declaring its
		// inputs; without inputs support the jobs are still readable.
		d.Warnf(l.Pos(docs[0].Content[0]), "the `spec` header document is not supported yet and was ignored")
		return l.Load(docs[1])
	case len(docs) > 1:
		d.Errorf(l.Pos(docs[1]), "a pipeline file holds a single YAML document; remove this `---` and what follows, or merge it into the first document")
		return nil
	}
	return l.Load(docs[0])
}

func isSpecHeader(doc *yaml.Node) bool {
	if len(doc.Content) != 1 {
		return false
	}
	m := doc.Content[0]
	return m.Kind == yaml.MappingNode && len(m.Content) == 2 && m.Content[0].Value == "spec"
}
