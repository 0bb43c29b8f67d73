package pipeline

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Limits on includes, as GitLab's (150 files, 100 levels), and on the bytes
// read, which GitLab caps per file (max_yaml_size_bytes, 1 MiB by default)
// and in total. Twice GitLab's default leaves room for instances that raised
// it, while bounding what the YAML library allocates before the node limit
// can be checked.
const (
	maxIncludes      = 150
	maxIncludeDepth  = 100
	maxFileBytes     = 2 << 20
	maxIncludedBytes = 16 << 20
)

// includer reads `include: local` files and merges them the way GitLab
// does: the included files deep-merge in order, then the including file
// deep-merges over them, recursively. Mappings merge key by key; lists and
// scalars are replaced whole.
type includer struct {
	p *parser
	// stack is the chain of files being read, for cycles.
	stack []string
	// seen are the files already included: one included twice (through
	// two different files) is merged once, at its first place.
	seen  map[string]bool
	bytes int
	nodes int // values read so far, aliases expanded
	// vars expands include paths and evaluates include:rules.
	vars   *varSet
	facts  *PlanInput
	list   []string // ListFiles, read once
	listed bool
}

var includeKeywords = keywords{
	supported: []string{"local", "rules"},
	refused: map[string]string{
		"remote":    reasonSource,
		"project":   reasonSource,
		"template":  reasonSource,
		"component": reasonSource,
		"inputs":    reasonInputs,
	},
	// Only meaningful with the refused kinds (remote caching and checksums,
	// a project's files and ref).
	ignored: []string{"cache", "integrity", "file", "ref"},
}

// loadPipeline reads the pipeline file and everything it includes into one
// raw tree.
func (p *parser) loadPipeline(data []byte) *yamlpos.Node {
	facts := p.opts.Facts
	if facts == nil {
		facts = &PlanInput{}
	}
	inc := &includer{p: p, seen: map[string]bool{}, facts: facts, vars: facts.pipelineVariables()}
	p.files = append(p.files, p.file)
	main := p.file
	if clean, ok := cleanSourcePath(p.file); ok {
		main = clean // so that an include of the pipeline file is a cycle
	}
	return inc.load(main, p.file, data, Pos{File: p.file, Line: 1, Column: 1})
}

// load reads one file, known as id for cycles and as file in positions;
// at is where it is included from, for errors.
func (c *includer) load(id, file string, data []byte, at Pos) *yamlpos.Node {
	if len(data) > maxFileBytes {
		c.p.d.Errorf(at, "%s is too big: %d bytes, at most %d are allowed", file, len(data), maxFileBytes)
		return nil
	}
	c.bytes += len(data)
	if c.bytes > maxIncludedBytes {
		c.p.d.Errorf(at, "the pipeline and its includes are too big: more than %d bytes", maxIncludedBytes)
		return nil
	}
	root := loadYAML(file, data, &c.p.d)
	if root == nil {
		return nil
	}
	// Stop before reading more files when these are already too big.
	c.nodes += c.p.sizer.Measure(root).Nodes
	if c.nodes > maxNodes {
		c.p.d.Errorf(root.Pos, "the pipeline is too big: with its aliases expanded it has more than %d values", maxNodes)
		return nil
	}
	if root.Kind != yamlpos.Mapping {
		return root
	}
	inc, ok := root.Lookup("include")
	if !ok {
		return root
	}
	c.stack = append(c.stack, id)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()

	merged := &yamlpos.Node{Kind: yamlpos.Mapping, Tag: "!!map", Pos: root.Pos}
	for _, it := range c.items(inc.Value) {
		for _, f := range c.resolve(it) {
			child := c.include(f.path, f.pos)
			if child != nil && child.Kind == yamlpos.Mapping {
				merged = deepMerge(merged, child)
			}
		}
	}
	return deepMerge(merged, without(root, "include"))
}

// includedFile is one file an include entry names.
type includedFile struct {
	path string
	pos  Pos
}

// items returns the entries of `include:`, a string, a mapping or a list of
// them (nested lists flattened).
func (c *includer) items(n *yamlpos.Node) []*yamlpos.Node {
	switch n.Kind {
	case yamlpos.Sequence:
		return flatten(n)
	case yamlpos.Scalar:
		if n.IsNull() {
			c.p.d.Errorf(n.Pos, "include must be a file path, a mapping with `local` or a list of them, got null")
			return nil
		}
	}
	return []*yamlpos.Node{n}
}

// resolve returns the files an include entry names, recording why when it
// cannot be used.
func (c *includer) resolve(it *yamlpos.Node) []includedFile {
	var loc *yamlpos.Node
	switch {
	case it.Kind == yamlpos.Scalar && !it.IsNull():
		if isURL(it.Value) {
			c.p.d.Errorf(it.Pos, "include %q: remote includes are not supported: %s", it.Value, reasonSource)
			return nil
		}
		loc = it
	case it.Kind == yamlpos.Mapping:
		for _, kv := range it.Pairs {
			if _, refused := includeKeywords.refused[kv.Key.Value]; refused {
				c.p.otherKeyword("include", kv.Key, includeKeywords)
				return nil // its other keys would only add noise
			}
		}
		var rules *yamlpos.Node
		for _, kv := range it.Pairs {
			switch kv.Key.Value {
			case "local":
				loc = kv.Value
			case "rules":
				rules = kv.Value
			default:
				c.p.otherKeyword("include", kv.Key, includeKeywords)
			}
		}
		if loc == nil {
			c.p.d.Errorf(it.Pos, "include: a mapping needs `local`, the path of a file in the source")
			return nil
		}
		if rules != nil && !c.rulesMatch(rules) {
			return nil
		}
		if loc.Kind != yamlpos.Scalar || loc.IsNull() {
			c.p.d.Errorf(loc.Pos, "include:local must be a file path, got %s", yamlpos.Describe(loc))
			return nil
		}
	default:
		c.p.d.Errorf(it.Pos, "include entries must be file paths or mappings with `local`, got %s", yamlpos.Describe(it))
		return nil
	}
	return c.localFiles(loc)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// localFiles expands variables and wildcards in an include:local path.
func (c *includer) localFiles(loc *yamlpos.Node) []includedFile {
	raw := loc.Value
	if strings.Contains(raw, "$") {
		var missing []string
		raw = expandVariables(raw, func(name string) (string, bool) {
			v, ok := c.vars.lookup(name)
			if !ok {
				missing = append(missing, "$"+name)
			}
			return v, ok
		})
		if len(missing) > 0 {
			c.p.d.Errorf(loc.Pos, "include %q uses %s, which is not set: include paths can only use predefined variables and those passed to the run", loc.Value, strings.Join(missing, ", "))
			return nil
		}
	}
	if !strings.HasSuffix(raw, ".yml") && !strings.HasSuffix(raw, ".yaml") {
		c.p.d.Errorf(loc.Pos, "include %q: an included file must have a .yml or .yaml extension", raw)
		return nil
	}
	clean, ok := cleanSourcePath(raw)
	if !ok {
		c.p.d.Errorf(loc.Pos, "include %q: the path leaves the source tree", raw)
		return nil
	}
	if !strings.Contains(clean, "*") {
		return []includedFile{{path: clean, pos: loc.Pos}}
	}
	files, ok := c.listFiles(loc.Pos)
	if !ok {
		return nil
	}
	re := includeWildcard(clean)
	var out []includedFile
	for _, f := range files {
		if re.MatchString(f) {
			out = append(out, includedFile{path: f, pos: loc.Pos})
		}
	}
	if len(out) == 0 {
		c.p.d.Warnf(loc.Pos, "include %q matches no file", raw)
	}
	return out
}

// cleanSourcePath turns a path as written (relative to the root, with or
// without a leading "/") into one for ReadFile.
func cleanSourcePath(p string) (string, bool) {
	clean := path.Clean(strings.TrimLeft(p, "/"))
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

// includeWildcard compiles an include:local pattern as GitLab does: `*`
// matches within a directory, `**` across directories.
func includeWildcard(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case pattern[i] == '*':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (c *includer) listFiles(at Pos) ([]string, bool) {
	if c.listed {
		return c.list, c.list != nil
	}
	c.listed = true
	if c.p.opts.ListFiles == nil {
		c.p.d.Errorf(at, "include: wildcard paths need the list of the source's files, which is not available here")
		return nil, false
	}
	files, err := c.p.opts.ListFiles()
	if err != nil {
		c.p.d.Errorf(at, "include: cannot list the source's files: %v", err)
		return nil, false
	}
	c.list = slices.Sorted(slices.Values(files))
	if c.list == nil {
		c.list = []string{}
	}
	return c.list, true
}

// include reads and loads one included file.
func (c *includer) include(file string, at Pos) *yamlpos.Node {
	switch {
	case slices.Contains(c.stack, file):
		cycle := append(slices.Clone(c.stack[slices.Index(c.stack, file):]), file)
		c.p.d.Errorf(at, "include forms a cycle: %s", strings.Join(cycle, " -> "))
		return nil
	case c.seen[file]:
		return nil
	case len(c.stack) > maxIncludeDepth:
		c.p.d.Errorf(at, "includes are nested too deeply: more than %d levels", maxIncludeDepth)
		return nil
	case len(c.p.files) > maxIncludes:
		c.p.d.Errorf(at, "too many includes: at most %d files may be included", maxIncludes)
		return nil
	case c.p.opts.ReadFile == nil:
		c.p.d.Errorf(at, "include %q: included files cannot be read here; parse the pipeline with its source", file)
		return nil
	}
	c.seen[file] = true
	data, err := c.p.opts.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.p.d.Errorf(at, "included file %q does not exist in the source", file)
		return nil
	case err != nil:
		c.p.d.Errorf(at, "included file %q cannot be read: %v", file, err)
		return nil
	}
	c.p.files = append(c.p.files, file)
	root := c.load(file, file, data, at)
	switch {
	case root == nil:
		return nil
	case root.IsNull():
		return nil // an empty file includes nothing
	case root.Kind != yamlpos.Mapping:
		c.p.d.Errorf(root.Pos, "an included file must be a mapping of keywords and jobs, got %s", yamlpos.Describe(root))
		return nil
	}
	return root
}

// rulesMatch evaluates include:rules with the parse-time facts.
func (c *includer) rulesMatch(n *yamlpos.Node) bool {
	rules, ok := c.p.rules("include", n, includeRule)
	if !ok {
		return false
	}
	ev := &evaluator{in: c.facts, exists: c.fileExists}
	lookup := newExpander(c.vars).lookup
	for _, r := range rules {
		if ev.matches(r, lookup) {
			return r.When != "never"
		}
	}
	return false
}

// fileExists answers include:rules:exists from the facts or the source's
// list of files.
func (c *includer) fileExists(glob string) bool {
	if c.facts.FileExists != nil {
		return c.facts.FileExists(glob)
	}
	if c.p.opts.ListFiles == nil {
		return false // unknown, as in Plan without FileExists
	}
	files, ok := c.listFiles(Pos{File: c.p.file, Line: 1, Column: 1})
	if !ok {
		return false
	}
	for _, f := range files {
		if MatchGlob(glob, f) {
			return true
		}
	}
	return false
}

// flatten returns a list's items with nested lists spliced in, as GitLab
// allows where `!reference` and anchors insert lists into lists.
func flatten(n *yamlpos.Node) []*yamlpos.Node {
	if n.Kind != yamlpos.Sequence {
		return []*yamlpos.Node{n}
	}
	var out []*yamlpos.Node
	for _, it := range n.Items {
		if it.Kind == yamlpos.Sequence {
			out = append(out, flatten(it)...)
			continue
		}
		out = append(out, it)
	}
	return out
}
