package pipeline

import "github.com/gantry-ci/gantry/pkg/yamlpos"

// Limits on what a pipeline file may expand to. Aliases let a few hundred
// bytes of YAML stand for billions of nodes ("billion laughs"); GitLab caps
// the loaded size and depth for the same reason (MAX_YAML_SIZE,
// MAX_YAML_DEPTH), and so do we, before any layer walks the tree.
const (
	maxNodes = 1_000_000
	maxDepth = 100
)

var yamlLimits = yamlpos.Limits{Nodes: maxNodes, Depth: maxDepth}
