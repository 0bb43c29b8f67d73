package pipeline

import (
	"slices"
	"strings"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

var artifactsKeywords = keywords{supported: []string{
	"paths", "exclude", "untracked", "name", "when", "expire_in", "expose_as", "public", "access", "reports",
}}

// whenValues are the `when:` values of artifacts and caches.
var whenValues = []string{"on_success", "on_failure", "always"}

// artifacts reads `artifacts:`.
func (p *parser) artifacts(ctx string, n *yamlpos.Node) *Artifacts {
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%sartifacts must be a mapping with paths, reports..., got %s", prefix(ctx), yamlpos.Describe(n))
		return nil
	}
	a := &Artifacts{When: "on_success", Public: true, Access: "all"}
	actx := prefix(ctx) + "artifacts"
	var public, access *yamlpos.Node
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "paths":
			paths, _ := p.stringList(ctx, "artifacts:paths", kv.Value, false)
			a.Paths = texts(paths)
		case "exclude":
			ex, _ := p.stringList(ctx, "artifacts:exclude", kv.Value, false)
			a.Exclude = texts(ex)
		case "untracked":
			a.Untracked, _ = p.boolean(ctx, "artifacts:untracked", kv.Value)
		case "name":
			a.Name, _ = p.scalar(ctx, "artifacts:name", kv.Value)
		case "when":
			if w, ok := p.oneOf(ctx, "artifacts:when", kv.Value, whenValues...); ok {
				a.When = w
			}
		case "expire_in":
			a.ExpireIn, a.ExpireNever, _ = p.durationValue(ctx, "artifacts:expire_in", kv.Value, 0, true)
		case "expose_as":
			a.ExposeAs, _ = p.scalar(ctx, "artifacts:expose_as", kv.Value)
		case "public":
			public = kv.Value
			a.Public, _ = p.boolean(ctx, "artifacts:public", kv.Value)
			if !a.Public {
				a.Access = "developer"
			}
		case "access":
			access = kv.Value
			if s, ok := p.oneOf(ctx, "artifacts:access", kv.Value, "all", "developer", "maintainer", "none"); ok {
				a.Access, a.Public = s, s == "all"
			}
		case "reports":
			a.Reports = p.reports(ctx, kv.Value)
		default:
			p.otherKeyword(actx, kv.Key, artifactsKeywords)
		}
	}
	if public != nil && access != nil {
		p.d.Errorf(access.Pos, "%s: public and access cannot be used together", actx)
	}
	return a
}

// uiReports are the report types only GitLab's UI reads: they are kept as
// artifacts and not interpreted.
var uiReports = []string{
	"accessibility", "annotations", "api_fuzzing", "browser_performance", "codequality",
	"container_scanning", "coverage_fuzzing", "cyclonedx", "dast", "dependency_scanning",
	"license_scanning", "load_performance", "metrics", "performance", "repository_xray",
	"requirements", "requirements_v2", "sast", "secret_detection", "terraform",
}

var reportsKeywords = keywords{supported: slices.Concat([]string{"junit", "coverage_report", "dotenv"}, uiReports)}

func (p *parser) reports(ctx string, n *yamlpos.Node) Reports {
	var r Reports
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%sartifacts:reports must be a mapping of report types to paths, got %s", prefix(ctx), yamlpos.Describe(n))
		return r
	}
	for _, kv := range n.Pairs {
		k := kv.Key.Value
		what := "artifacts:reports:" + k
		switch {
		case k == "junit":
			paths, _ := p.stringList(ctx, what, kv.Value, true)
			r.JUnit = texts(paths)
		case k == "dotenv":
			paths, _ := p.stringList(ctx, what, kv.Value, true)
			r.Dotenv = texts(paths)
		case k == "coverage_report":
			r.CoverageReport = p.coverageReport(ctx, kv.Value)
		case slices.Contains(uiReports, k):
			paths, _ := p.stringList(ctx, what, kv.Value, true)
			if r.Other == nil {
				r.Other = map[string][]string{}
			}
			r.Other[k] = texts(paths)
			p.d.Warnf(kv.Key.Pos, "%s%s: only GitLab reads this report; Gantry keeps the files as artifacts", prefix(ctx), what)
		default:
			p.otherKeyword(prefix(ctx)+"artifacts:reports", kv.Key, reportsKeywords)
		}
	}
	return r
}

func (p *parser) coverageReport(ctx string, n *yamlpos.Node) *CoverageReport {
	const what = "artifacts:reports:coverage_report"
	if n.Kind != yamlpos.Mapping {
		p.d.Errorf(n.Pos, "%s%s must be a mapping with coverage_format and path, got %s", prefix(ctx), what, yamlpos.Describe(n))
		return nil
	}
	c := &CoverageReport{}
	var format, path *yamlpos.Node
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "coverage_format":
			format = kv.Value
			// GitLab reads cobertura and jacoco; Gantry also reads Go
			// cover profiles and LCOV tracefiles as they are.
			c.Format, _ = p.oneOf(ctx, what+":coverage_format", kv.Value, "cobertura", "jacoco", "gocover", "lcov")
		case "path":
			path = kv.Value
			c.Path, _ = p.scalar(ctx, what+":path", kv.Value)
		default:
			p.otherKeyword(prefix(ctx)+what, kv.Key, keywords{supported: []string{"coverage_format", "path"}})
		}
	}
	if format == nil || path == nil {
		p.d.Errorf(n.Pos, "%s%s: coverage_format and path are required", prefix(ctx), what)
	}
	return c
}

const maxCaches = 4

var cacheKeywords = keywords{supported: []string{
	"key", "paths", "untracked", "unprotect", "policy", "when", "fallback_keys",
}}

// caches reads `cache:`, one mapping or a list of up to four.
func (p *parser) caches(ctx string, n *yamlpos.Node) []Cache {
	var items []*yamlpos.Node
	switch n.Kind {
	case yamlpos.Mapping:
		items = []*yamlpos.Node{n}
	case yamlpos.Sequence:
		items = flatten(n)
		if len(items) > maxCaches {
			p.d.Errorf(n.Pos, "%scache: at most %d caches are allowed, got %d", prefix(ctx), maxCaches, len(items))
			return nil
		}
	default:
		if n.IsNull() {
			return []Cache{}
		}
		p.d.Errorf(n.Pos, "%scache must be a mapping or a list of up to %d mappings, got %s", prefix(ctx), maxCaches, yamlpos.Describe(n))
		return nil
	}
	out := make([]Cache, 0, len(items))
	for _, it := range items {
		if it.Kind != yamlpos.Mapping {
			p.d.Errorf(it.Pos, "%scache entries must be mappings, got %s", prefix(ctx), yamlpos.Describe(it))
			continue
		}
		out = append(out, p.cache(ctx, it))
	}
	return out
}

func (p *parser) cache(ctx string, n *yamlpos.Node) Cache {
	c := Cache{Key: "default", Policy: "pull-push", When: "on_success"}
	cctx := prefix(ctx) + "cache"
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "key":
			p.cacheKey(ctx, kv.Value, &c)
		case "paths":
			paths, _ := p.stringList(ctx, "cache:paths", kv.Value, false)
			c.Paths = texts(paths)
		case "untracked":
			c.Untracked, _ = p.boolean(ctx, "cache:untracked", kv.Value)
		case "unprotect":
			c.Unprotect, _ = p.boolean(ctx, "cache:unprotect", kv.Value)
		case "policy":
			if s, ok := p.scalar(ctx, "cache:policy", kv.Value); ok {
				if !strings.HasPrefix(s, "$") && !slices.Contains([]string{"pull", "push", "pull-push"}, s) {
					p.d.Errorf(kv.Value.Pos, "%s: policy must be pull, push, pull-push or a $VARIABLE, got %q", cctx, s)
				}
				c.Policy = s
			}
		case "when":
			if w, ok := p.oneOf(ctx, "cache:when", kv.Value, whenValues...); ok {
				c.When = w
			}
		case "fallback_keys":
			keys, _ := p.stringList(ctx, "cache:fallback_keys", kv.Value, false)
			if len(keys) > 5 {
				p.d.Errorf(kv.Value.Pos, "%s: at most 5 fallback_keys are allowed", cctx)
			}
			c.FallbackKeys = texts(keys)
		default:
			p.otherKeyword(cctx, kv.Key, cacheKeywords)
		}
	}
	return c
}

// cacheKey reads `cache:key`, a string or a mapping with files and prefix.
func (p *parser) cacheKey(ctx string, n *yamlpos.Node, c *Cache) {
	if n.Kind != yamlpos.Mapping {
		key, ok := p.scalar(ctx, "cache:key", n)
		if !ok {
			return
		}
		switch {
		case strings.Contains(key, "/") || strings.Contains(strings.ToLower(key), "%2f"):
			p.d.Errorf(n.Pos, "%scache:key must not contain \"/\", got %q", prefix(ctx), key)
		case key == "." || key == ".." || strings.EqualFold(key, "%2e") || strings.EqualFold(key, "%2e%2e"):
			p.d.Errorf(n.Pos, "%scache:key must not be %q", prefix(ctx), key)
		}
		c.Key = key
		return
	}
	var files *yamlpos.Node
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "files":
			files = kv.Value
			list, ok := p.stringList(ctx, "cache:key:files", kv.Value, false)
			if ok && (len(list) == 0 || len(list) > 2) {
				p.d.Errorf(kv.Value.Pos, "%scache:key:files must list one or two files", prefix(ctx))
			}
			c.KeyFiles = texts(list)
		case "prefix":
			c.KeyPrefix, _ = p.scalar(ctx, "cache:key:prefix", kv.Value)
		default:
			p.otherKeyword(prefix(ctx)+"cache:key", kv.Key, keywords{supported: []string{"files", "prefix"}})
		}
	}
	if files == nil {
		p.d.Errorf(n.Pos, "%scache:key: `files` is required in the mapping form", prefix(ctx))
	}
	c.Key = ""
}

func cloneArtifacts(a *Artifacts) *Artifacts {
	if a == nil {
		return nil
	}
	c := *a
	c.Paths, c.Exclude = slices.Clone(a.Paths), slices.Clone(a.Exclude)
	c.Reports.JUnit, c.Reports.Dotenv = slices.Clone(a.Reports.JUnit), slices.Clone(a.Reports.Dotenv)
	if a.Reports.CoverageReport != nil {
		cr := *a.Reports.CoverageReport
		c.Reports.CoverageReport = &cr
	}
	if a.Reports.Other != nil {
		c.Reports.Other = make(map[string][]string, len(a.Reports.Other))
		for k, v := range a.Reports.Other {
			c.Reports.Other[k] = slices.Clone(v)
		}
	}
	return &c
}

func cloneCaches(cs []Cache) []Cache {
	if cs == nil {
		return nil
	}
	out := slices.Clone(cs)
	for i := range out {
		out[i].KeyFiles = slices.Clone(cs[i].KeyFiles)
		out[i].Paths = slices.Clone(cs[i].Paths)
		out[i].FallbackKeys = slices.Clone(cs[i].FallbackKeys)
	}
	return out
}
