package yamlpos

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// problems is a Reporter that keeps what it is told as "pos: message".
type problems struct {
	errs, warnings []string
}

func (p *problems) Errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, pos.String()+": "+fmt.Sprintf(format, args...))
}

func (p *problems) Warnf(pos Pos, format string, args ...any) {
	p.warnings = append(p.warnings, pos.String()+": "+fmt.Sprintf(format, args...))
}

// load reads the single document of src as f.yml.
func load(t *testing.T, src string, opts Options) (*Node, *problems) {
	t.Helper()
	docs, err := Parse("f.yml", []byte(src), 0)
	if err != nil || len(docs) != 1 {
		t.Fatalf("Parse: %d documents, %v", len(docs), err)
	}
	p := &problems{}
	return NewLoader("f.yml", p, opts).Load(docs[0]), p
}

// dump writes a node as a one-line tree with each value's position.
func dump(n *Node) string {
	at := fmt.Sprintf("@%d:%d", n.Pos.Line, n.Pos.Column)
	switch n.Kind {
	case Sequence:
		items := make([]string, len(n.Items))
		for i, it := range n.Items {
			items[i] = dump(it)
		}
		return "[" + strings.Join(items, " ") + "]" + at
	case Mapping:
		pairs := make([]string, len(n.Pairs))
		for i, p := range n.Pairs {
			pairs[i] = dump(p.Key) + ":" + dump(p.Value)
		}
		return "{" + strings.Join(pairs, " ") + "}" + at
	}
	return n.Value + at
}

func TestLoadPositions(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"block mapping", "a: 1\nb:\n  - x\n  - y\n", "{a@1:1:1@1:4 b@2:1:[x@3:5 y@4:5]@3:3}@1:1"},
		{"flow", "a: [x, {b: c}]\n", "{a@1:1:[x@1:5 {b@1:9:c@1:12}@1:8]@1:4}@1:1"},
		{"columns count characters", "é: ü\nb: \"ß\" \n", "{é@1:1:ü@1:4 b@2:1:ß@2:4}@1:1"},
		{"quoted scalar starts at its quote", "a: 'x'\n", "{a@1:1:x@1:4}@1:1"},
		{"an alias is the anchored value, where it was written", "a: &x [1]\nb: *x\n", "{a@1:1:[1@1:8]@1:4 b@2:1:[1@1:8]@1:4}@1:1"},
		{"a repeated key keeps its place", "a: 1\nb: 2\na: 3\n", "{a@3:1:3@3:4 b@2:1:2@2:4}@1:1"},
		{"merge keys: keys after `<<` win, earlier mappings win", "x: &x {a: 1, b: 1}\ny: &y {b: 2, c: 2}\nz: {a: 0, <<: [*x, *y], c: 3}\n",
			"{x@1:1:{a@1:8:1@1:11 b@1:14:1@1:17}@1:4 y@2:1:{b@2:8:2@2:11 c@2:14:2@2:17}@2:4 z@3:1:{a@1:8:1@1:11 b@1:14:1@1:17 c@3:25:3@3:28}@3:4}@1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, p := load(t, tc.src, Options{})
			if got := dump(n); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if len(p.errs) > 0 {
				t.Errorf("errors: %q", p.errs)
			}
		})
	}
}

func TestAliasesAreShared(t *testing.T) {
	n, _ := load(t, "a: &x {k: v}\nb: *x\nc: *x\n", Options{})
	if a, b, c := n.Get("a"), n.Get("b"), n.Get("c"); a != b || b != c {
		t.Errorf("aliases converted to copies: %p %p %p", a, b, c)
	}
}

func TestLoadProblems(t *testing.T) {
	reference := Options{Tag: func(n *Node) bool { return n.Tag == "!ref" }}
	plain := Options{UnknownTagHint: "plain YAML only", MergeKeyError: "no merge keys here"}
	for _, tc := range []struct {
		name, src      string
		opts           Options
		errs, warnings []string
	}{
		{name: "alias to a value containing it", src: "a: &a [1, *a]\n",
			errs: []string{"f.yml:1:11: alias *a refers to a value that contains it"}},
		{name: "unknown tag", src: "a: !shell x\n",
			errs: []string{"f.yml:1:4: unknown YAML tag `!shell`"}},
		{name: "unknown tag with a hint", src: "a: !shell x\n", opts: plain,
			errs: []string{"f.yml:1:4: unknown YAML tag `!shell`: plain YAML only"}},
		{name: "custom tag", src: "a: !ref [x]\nb: !nope y\n", opts: reference,
			errs: []string{"f.yml:2:4: unknown YAML tag `!nope`"}},
		{name: "non-string key", src: "[a]: 1\n",
			errs: []string{"f.yml:1:1: a mapping key must be a string, got a list"}},
		{name: "merge of a scalar", src: "s: &s x\nm:\n  <<: *s\n",
			errs: []string{"f.yml:3:7: a merge key `<<` takes a mapping or a list of mappings, got a string"}},
		{name: "merge of a list holding a scalar", src: "m:\n  <<: [{a: 1}, x]\n",
			errs: []string{"f.yml:2:16: a merge key `<<` takes a mapping or a list of mappings, got a string in the list"}},
		{name: "merge keys refused", src: "x: &x {a: 1}\nm:\n  <<: *x\n", opts: plain,
			errs: []string{"f.yml:3:3: no merge keys here"}},
		{name: "duplicate key", src: "a: 1\nb: 2\na: 3\na: 4\n",
			warnings: []string{
				`f.yml:3:1: duplicate key "a": this value replaces the one at 1:1`,
				`f.yml:4:1: duplicate key "a": this value replaces the one at 3:1`,
			}},
		{name: "merged keys are not duplicates", src: "x: &x {a: 1}\nm: {<<: *x, a: 2}\n"},
		{name: "redefined anchor", src: "a: &x 1\nb: &x 2\n",
			warnings: []string{"f.yml:2:4: anchor &x is defined again (first at 1:4); aliases after this point use this value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p := load(t, tc.src, tc.opts)
			if !slices.Equal(p.errs, tc.errs) {
				t.Errorf("errors:\n got %q\nwant %q", p.errs, tc.errs)
			}
			if !slices.Equal(p.warnings, tc.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", p.warnings, tc.warnings)
			}
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"mapping value in a plain scalar", "a:\n  b: c: d\n", "f.yml:2:7: invalid YAML: mapping values are not allowed in this context"},
		{"bad indentation", "a:\n  b: x\n c: y\n", "f.yml:3:2: invalid YAML: did not find expected key (while parsing a block mapping started at 1:1)"},
		{"tab indentation", "a:\n\tb: x\n", "f.yml:2:1: invalid YAML: found character that cannot start any token (while scanning for the next token); indent with spaces, YAML does not allow tabs for indentation"},
		{"unclosed flow sequence", "a: [x, y\nb: z\n", "f.yml:2:2: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence started at 1:4)"},
		{"columns count characters", "a: \"héllo\" x\n", "f.yml:1:12: invalid YAML: did not find expected key (while parsing a block mapping started at 1:1)"},
		{"invalid UTF-8", "a:\n  b: \"h\xc3\xa9llo \xff\"\n", "f.yml:2:13: invalid YAML: the file is not valid UTF-8 here (invalid leading UTF-8 octet (value: 255))"},
		{"unknown alias", "a: *nope\n", "f.yml:1:4: invalid YAML: unknown anchor 'nope' referenced"},
		{"in a later document", "a: 1\n---\nb: [\n", "f.yml:4:1: invalid YAML: did not find expected node content (while parsing a flow node)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := Parse("f.yml", []byte(tc.src), 0)
			if err == nil {
				t.Fatalf("no error, %d documents", len(docs))
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseStopsAfterMaxDocs(t *testing.T) {
	src := "a: 1\n---\nb: 2\n---\nc: [\n"
	if docs, err := Parse("f.yml", []byte(src), 2); err != nil || len(docs) != 2 {
		t.Errorf("maxDocs 2: %d documents, %v", len(docs), err)
	}
	if _, err := Parse("f.yml", []byte(src), 0); err == nil {
		t.Error("maxDocs 0: the broken third document was not read")
	}
	if docs, err := Parse("f.yml", nil, 0); err != nil || len(docs) != 0 {
		t.Errorf("empty file: %d documents, %v", len(docs), err)
	}
}

// laughs returns YAML whose last key holds levels of aliases of aliases,
// each repeating the previous one ten times, of leaf.
func laughs(levels int, leaf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "l0: &l0 %s\n", leaf)
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	return b.String()
}

func TestSizerCheck(t *testing.T) {
	limits := Limits{Nodes: 1000, TextBytes: 1 << 20, Depth: 10}
	for _, tc := range []struct {
		name   string
		src    string
		limits Limits
		want   string // "" when within limits
	}{
		{name: "small", src: "a: [1, 2, {b: c}]\n", limits: limits},
		{name: "alias bomb", src: laughs(6, "x"), limits: limits,
			want: "f.yml:1:1: the file is too big: with its aliases expanded it has more than 1000 values"},
		{name: "text bomb", src: laughs(2, strings.Repeat("x", 20000)), limits: limits,
			want: "f.yml:1:1: the file is too big: with its aliases expanded it holds more than 1 MiB of text"},
		{name: "text unbounded", src: laughs(2, strings.Repeat("x", 20000)), limits: Limits{Nodes: 1000, Depth: 10}},
		{name: "too deep", src: "a: 1\nb: " + strings.Repeat("[", 12) + strings.Repeat("]", 12) + "\n", limits: limits,
			want: "f.yml:2:13: the file is nested too deeply: more than 10 levels"},
		// The error points into the anchored value, where the nesting
		// can be seen.
		{name: "deep through aliases", src: "a: &a [[[[[[1]]]]]]\nb: [[[[[*a]]]]]\n", limits: limits,
			want: "f.yml:1:11: the file is nested too deeply: more than 10 levels"},
		{name: "at the depth limit", src: "a: " + strings.Repeat("[", 8) + strings.Repeat("]", 8) + "\n", limits: limits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := load(t, tc.src, Options{})
			p := &problems{}
			ok := NewSizer(tc.limits).Check(root, p, "file")
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if ok != (tc.want == "") || !slices.Equal(p.errs, want) {
				t.Errorf("Check = %v, errors %q; want %q", ok, p.errs, want)
			}
		})
	}
}

func TestSizerMeasureSaturates(t *testing.T) {
	root, _ := load(t, laughs(9, strings.Repeat("x", 100)), Options{})
	got := NewSizer(Limits{Nodes: 5000, TextBytes: 1 << 20, Depth: 10}).Measure(root)
	if want := (Extent{Nodes: 5001, TextBytes: 1<<20 + 1, Depth: 11}); got != want {
		t.Errorf("Measure = %+v, want %+v", got, want)
	}
}

func TestMapBuilder(t *testing.T) {
	scalar := func(v string, line int) *Node {
		return &Node{Kind: Scalar, Tag: "!!str", Value: v, Pos: Pos{Line: line}}
	}
	for _, n := range []int{3, mapIndexThreshold + 5} { // without and with the index
		b := NewMapBuilder(Pos{}, "!!map", 0)
		for i := range n {
			b.Set(scalar(fmt.Sprint("k", i), i), scalar("v", i))
		}
		b.Set(scalar("k1", 100), scalar("new", 100))
		m := b.Node()
		if len(m.Pairs) != n || m.Pairs[1].Key.Pos.Line != 100 || m.Pairs[1].Value.Value != "new" {
			t.Errorf("%d keys: k1 is %+v, %d pairs", n, m.Pairs[1], len(m.Pairs))
		}
		if v, ok := b.Get(fmt.Sprint("k", n-1)); !ok || v != m.Pairs[n-1].Value {
			t.Errorf("%d keys: Get(last) = %v, %v", n, v, ok)
		}
		if _, ok := b.Get("nope"); ok {
			t.Errorf("%d keys: Get(nope) found", n)
		}
	}
}

func TestDescribe(t *testing.T) {
	n, _ := load(t, "[s, 1, 1.5, true, null, [], {}]\n", Options{})
	var got []string
	for _, it := range n.Items {
		got = append(got, Describe(it))
	}
	got = append(got, Describe(nil))
	want := []string{"a string", "a number", "a number", "a boolean", "null", "a list", "a mapping", "nothing"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
