package docker

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/docker/docker/api/types/filters"

	"github.com/gantry-ci/gantry/runner/executor"
)

// Labels put on everything the executor creates, so leftovers of a crashed
// runner can be found (Prune) and removed.
const (
	labelManaged  = "gantry.managed"
	labelRunnerID = "gantry.runner-id"
	labelJobID    = "gantry.job-id"
	labelEpoch    = "gantry.epoch"
	labelRole     = "gantry.role"
)

// Roles of the containers of one job attempt (label gantry.role).
const (
	roleBuild       = "build"
	roleAfterScript = "after-script"
	roleService     = "service"
)

// names derives Docker resource names and labels for one job attempt.
type names struct {
	runnerID string
	jobID    int64
	epoch    int64
	base     string
}

func newNames(runnerID string, jobID, epoch int64) names {
	return names{
		runnerID: runnerID,
		jobID:    jobID,
		epoch:    epoch,
		base:     sanitizeName(fmt.Sprintf("gantry-%s-job-%d-%d", runnerID, jobID, epoch)),
	}
}

func (n names) network() string     { return n.base + "-network" }
func (n names) volume() string      { return n.base + "-builds" }
func (n names) build() string       { return n.base + "-build" }
func (n names) afterScript() string { return n.base + "-after-script" }

func (n names) service(i int, aliases []string) string {
	name := fmt.Sprintf("%s-service-%d", n.base, i)
	if len(aliases) > 0 {
		name += "-" + aliases[0]
	}
	return sanitizeName(name)
}

// labels returns the labels of a resource of this attempt; role is empty
// for networks and volumes.
func (n names) labels(role string) map[string]string {
	l := map[string]string{
		labelManaged:  "true",
		labelRunnerID: n.runnerID,
		labelJobID:    strconv.FormatInt(n.jobID, 10),
		labelEpoch:    strconv.FormatInt(n.epoch, 10),
	}
	if role != "" {
		l[labelRole] = role
	}
	return l
}

// filter selects every resource of this attempt.
func (n names) filter() filters.Args {
	f := runnerFilter(n.runnerID)
	f.Add("label", labelJobID+"="+strconv.FormatInt(n.jobID, 10))
	f.Add("label", labelEpoch+"="+strconv.FormatInt(n.epoch, 10))
	return f
}

// runnerFilter selects every resource a runner with this ID created.
func runnerFilter(runnerID string) filters.Args {
	return filters.NewArgs(
		filters.Arg("label", labelManaged+"=true"),
		filters.Arg("label", labelRunnerID+"="+runnerID),
	)
}

// sanitizeName maps s onto the characters Docker allows in container,
// network and volume names ([a-zA-Z0-9_.-]); every name built here starts
// with "gantry", which satisfies Docker's rule on the first character.
func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '_', r == '.', r == '-':
			return r
		default:
			return '-'
		}
	}, s)
}

// serviceAliases returns the hostnames a service is reachable under, as
// GitLab Runner derives them: the image name without tag, digest or
// registry port, once with "/" replaced by "__" and once by "-", then the
// user's aliases (comma or space separated).
func serviceAliases(s executor.Service) []string {
	name := imageRepository(s.Name)
	var out []string
	add := func(a string) {
		if a == "" {
			return
		}
		for _, o := range out {
			if o == a {
				return
			}
		}
		out = append(out, a)
	}
	add(strings.ReplaceAll(name, "/", "__"))
	add(strings.ReplaceAll(name, "/", "-"))
	for _, a := range strings.FieldsFunc(s.Alias, func(r rune) bool {
		return r == ',' || unicode.IsSpace(r)
	}) {
		add(a)
	}
	return out
}

// imageRepository strips the digest, the tag and a registry port from an
// image reference: "reg.example.com:5000/group/tool:1.2@sha256:..." gives
// "reg.example.com/group/tool".
func imageRepository(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	if slash := strings.IndexByte(ref, '/'); slash >= 0 {
		if colon := strings.IndexByte(ref[:slash], ':'); colon >= 0 {
			ref = ref[:colon] + ref[slash:]
		}
	}
	return ref
}

// envList renders variables as Docker's KEY=value list. A later variable
// overrides an earlier one with the same key but keeps its position.
func envList(groups ...[]executor.Variable) []string {
	index := map[string]int{}
	var out []string
	for _, vars := range groups {
		for _, v := range vars {
			if v.Key == "" || strings.ContainsRune(v.Key, '=') {
				continue
			}
			kv := v.Key + "=" + v.Value
			if i, ok := index[v.Key]; ok {
				out[i] = kv
				continue
			}
			index[v.Key] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
