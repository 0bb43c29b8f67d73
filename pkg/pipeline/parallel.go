package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// maxParallel is GitLab's limit on the jobs one `parallel:` makes.
const maxParallel = 200

var parallelKeywords = keywords{supported: []string{"matrix"}}

// parallel reads `parallel:`, a number or a mapping with a matrix.
func (p *parser) parallel(ctx string, n *yamlpos.Node) *Parallel {
	switch n.Kind {
	case yamlpos.Scalar:
		count, ok := p.integer(ctx, "parallel", n, 1, maxParallel)
		if !ok {
			return nil
		}
		return &Parallel{Count: count}
	case yamlpos.Mapping:
	default:
		p.d.Errorf(n.Pos, "%sparallel must be a number from 1 to %d or a mapping with a matrix, got %s", prefix(ctx), maxParallel, yamlpos.Describe(n))
		return nil
	}
	var matrix *yamlpos.Node
	for _, kv := range n.Pairs {
		if kv.Key.Value == "matrix" {
			matrix = kv.Value
			continue
		}
		p.otherKeyword(prefix(ctx)+"parallel", kv.Key, parallelKeywords)
	}
	if matrix == nil {
		p.d.Errorf(n.Pos, "%sparallel: `matrix` is required in the mapping form", prefix(ctx))
		return nil
	}
	rows, ok := p.matrix(ctx, "parallel:matrix", matrix)
	if !ok {
		return nil
	}
	par := &Parallel{Matrix: rows}
	if total := par.total(); total > maxParallel {
		p.d.Errorf(matrix.Pos, "%sparallel:matrix makes %d jobs, at most %d are allowed", prefix(ctx), total, maxParallel)
		return nil
	}
	return par
}

// matrix reads a list of mappings from variable names to a value or a list
// of values.
func (p *parser) matrix(ctx, what string, n *yamlpos.Node) ([]MatrixRow, bool) {
	items, ok := p.items(ctx, what, n, "a list of mappings of variables to values")
	if !ok {
		return nil, false
	}
	if len(items) == 0 {
		p.d.Errorf(n.Pos, "%s%s must not be empty", prefix(ctx), what)
		return nil, false
	}
	rows := make([]MatrixRow, 0, len(items))
	for _, it := range items {
		if it.Kind != yamlpos.Mapping || len(it.Pairs) == 0 {
			p.d.Errorf(it.Pos, "%s%s entries must be mappings of variables to values, got %s", prefix(ctx), what, yamlpos.Describe(it))
			ok = false
			continue
		}
		row := make(MatrixRow, 0, len(it.Pairs))
		for _, kv := range it.Pairs {
			if !variableName.MatchString(kv.Key.Value) {
				p.d.Errorf(kv.Key.Pos, "%s%s: variable name %q is invalid: use only letters, digits and \"_\"", prefix(ctx), what, kv.Key.Value)
				ok = false
				continue
			}
			values, good := p.stringList(ctx, what+" values", kv.Value, true)
			switch {
			case !good:
				ok = false
				continue
			case len(values) == 0:
				p.d.Errorf(kv.Value.Pos, "%s%s: %s has no values", prefix(ctx), what, kv.Key.Value)
				ok = false
				continue
			}
			row = append(row, MatrixVar{Name: kv.Key.Value, Values: texts(values)})
		}
		rows = append(rows, row)
	}
	return rows, ok
}

// total is the number of jobs a parallel job makes, saturating just above
// maxParallel.
func (par *Parallel) total() int {
	if par == nil {
		return 1
	}
	if len(par.Matrix) == 0 {
		return max(par.Count, 1)
	}
	total := 0
	for _, row := range par.Matrix {
		total = min(total+row.combinations(), maxParallel+1)
	}
	return total
}

func (row MatrixRow) combinations() int {
	n := 1
	for _, v := range row {
		n = min(n*len(v.Values), maxParallel+1)
	}
	return n
}

// instance is one job a definition makes: itself, or one of its parallel
// copies.
type instance struct {
	name string
	// index (1-based) and total are CI_NODE_INDEX and CI_NODE_TOTAL, 0
	// for a job without `parallel:`.
	index, total int
	// vars are the matrix variables of the instance.
	vars []Variable
}

// instances returns the jobs a definition makes, named as GitLab names
// them: "test 1/3" for `parallel: 3`, "deploy: [aws, eu]" for a matrix.
func (j *Job) instances() []instance {
	par := j.Parallel
	switch {
	case par == nil:
		return []instance{{name: j.Name}}
	case len(par.Matrix) == 0:
		n := max(par.Count, 1)
		out := make([]instance, n)
		for i := range out {
			out[i] = instance{name: fmt.Sprintf("%s %d/%d", j.Name, i+1, n), index: i + 1, total: n}
		}
		return out
	}
	var out []instance
	for _, row := range par.Matrix {
		for _, combo := range row.expand() {
			out = append(out, instance{name: matrixName(j.Name, combo), vars: combo})
		}
	}
	for i := range out {
		out[i].index, out[i].total = i+1, len(out)
	}
	return out
}

// expand returns every combination of the row's values, the first
// variable varying slowest, as GitLab orders them.
func (row MatrixRow) expand() [][]Variable {
	combos := [][]Variable{nil}
	for _, v := range row {
		next := make([][]Variable, 0, len(combos)*len(v.Values))
		for _, c := range combos {
			for _, val := range v.Values {
				combo := append(append(make([]Variable, 0, len(c)+1), c...), Variable{Key: v.Name, Value: val})
				next = append(next, combo)
			}
		}
		combos = next
	}
	return combos
}

func matrixName(job string, combo []Variable) string {
	vals := make([]string, len(combo))
	for i, v := range combo {
		vals[i] = v.Value
	}
	return job + ": [" + strings.Join(vals, ", ") + "]"
}

// matrixNames returns the instance names a `needs:parallel:matrix`
// selects of job.
func matrixNames(job string, rows []MatrixRow) []string {
	var out []string
	for _, row := range rows {
		for _, combo := range row.expand() {
			out = append(out, matrixName(job, combo))
		}
	}
	return out
}

// nodeVariables are CI_NODE_INDEX and CI_NODE_TOTAL of a parallel instance.
func (in instance) nodeVariables() []Variable {
	if in.total == 0 {
		return nil
	}
	return []Variable{
		{Key: "CI_NODE_INDEX", Value: strconv.Itoa(in.index)},
		{Key: "CI_NODE_TOTAL", Value: strconv.Itoa(in.total)},
	}
}
