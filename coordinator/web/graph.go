package web

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// The needs graph is an SVG drawn on the server: one band per stage, a
// box per job, and a curve from each needed job to the job that needs it.
// Inside a stage, a job that needs another job of the same stage sits in
// a column to its right, so a pipeline of needs alone (a GitHub workflow)
// still reads left to right.
const (
	nodeW    = 190
	nodeH    = 46
	colGap   = 48
	rowGap   = 12
	stageTop = 30 // room for the stage names
	pad      = 8
	maxLabel = 24 // runes of a job name shown in its box
)

// graphView is the laid-out graph.
type graphView struct {
	Width, Height int
	Stages        []graphStage
	Nodes         []graphNode
	Edges         []graphEdge
}

// graphStage is a stage's band.
type graphStage struct {
	Name           string
	X, W, LabelX   int
	Height, LabelY int
}

// graphNode is a job's box.
type graphNode struct {
	ID                  int64
	X, Y, W, H          int
	TextX, NameY, SubY  int
	Name, Label         string
	Status, StatusClass string
	Duration            elapsed
	URL                 string
}

// graphEdge is one need, as an SVG path.
type graphEdge struct {
	D     string
	Class string
}

// layoutGraph places jobs (sorted by stage, then id) in stage bands.
func layoutGraph(run *gantryv1.Run, jobs []*gantryv1.Job, now time.Time) graphView {
	byName := map[string]*gantryv1.Job{}
	for _, j := range jobs {
		byName[j.GetName()] = j
	}
	// depth is a job's column inside its stage: 1 + the deepest job of the
	// same stage it needs.
	depth := map[int64]int{}
	var depthOf func(j *gantryv1.Job, seen map[int64]bool) int
	depthOf = func(j *gantryv1.Job, seen map[int64]bool) int {
		if d, ok := depth[j.GetId()]; ok {
			return d
		}
		if seen[j.GetId()] {
			return 0 // a cycle, which a planned run cannot have
		}
		seen[j.GetId()] = true
		d := 0
		for _, n := range j.GetNeeds() {
			if dep := byName[n]; dep != nil && dep.GetStageIndex() == j.GetStageIndex() {
				d = max(d, depthOf(dep, seen)+1)
			}
		}
		depth[j.GetId()] = d
		return d
	}

	type stageCols struct {
		index int32
		name  string
		cols  [][]*gantryv1.Job
	}
	var stages []*stageCols
	for _, j := range jobs {
		if len(stages) == 0 || stages[len(stages)-1].index != j.GetStageIndex() {
			name := j.GetStage()
			if i := int(j.GetStageIndex()); name == "" && i >= 0 && i < len(run.GetStages()) {
				name = run.GetStages()[i]
			}
			stages = append(stages, &stageCols{index: j.GetStageIndex(), name: name})
		}
		s := stages[len(stages)-1]
		d := depthOf(j, map[int64]bool{})
		for len(s.cols) <= d {
			s.cols = append(s.cols, nil)
		}
		s.cols[d] = append(s.cols[d], j)
	}

	var g graphView
	nodes := map[string]*graphNode{}
	x, maxRows := pad, 0
	for _, s := range stages {
		w := len(s.cols)*(nodeW+colGap) - colGap + 2*pad
		g.Stages = append(g.Stages, graphStage{Name: s.name, X: x, W: w, LabelX: x + pad, LabelY: 20})
		for c, col := range s.cols {
			maxRows = max(maxRows, len(col))
			for r, j := range col {
				st := jobStatusText(j.GetStatus())
				n := graphNode{
					ID: j.GetId(), X: x + pad + c*(nodeW+colGap), Y: stageTop + pad + r*(nodeH+rowGap), W: nodeW, H: nodeH,
					Name: j.GetName(), Label: truncate(j.GetName(), maxLabel),
					Status: st, StatusClass: statusClass(st),
					Duration: span(j.GetStartedAt(), j.GetFinishedAt(), now),
					URL:      jobURL(j.GetRunId(), j.GetId()),
				}
				n.TextX, n.NameY, n.SubY = n.X+12, n.Y+19, n.Y+36
				g.Nodes = append(g.Nodes, n)
			}
		}
		x += w + colGap/2
	}
	for i := range g.Nodes {
		nodes[g.Nodes[i].Name] = &g.Nodes[i]
	}
	g.Width = max(x-colGap/2+pad, 2*pad)
	g.Height = stageTop + 2*pad + maxRows*(nodeH+rowGap) - rowGap
	for i := range g.Stages {
		g.Stages[i].Height = g.Height - pad
	}
	for _, j := range jobs {
		to := nodes[j.GetName()]
		for _, need := range slices.Sorted(slices.Values(j.GetNeeds())) {
			from := nodes[need]
			if from == nil || to == nil {
				continue
			}
			g.Edges = append(g.Edges, graphEdge{D: curve(from, to), Class: "edge " + from.StatusClass})
		}
	}
	return g
}

// curve joins the right side of from to the left side of to.
func curve(from, to *graphNode) string {
	x1, y1 := from.X+from.W, from.Y+from.H/2
	x2, y2 := to.X, to.Y+to.H/2
	dx := max(abs(x2-x1)/2, 24)
	return fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
