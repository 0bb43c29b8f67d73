package pipeline

import (
	"slices"
	"strings"
)

var artifactsKeywords = keywords{supported: []string{
	"paths", "exclude", "untracked", "name", "when", "expire_in", "expose_as", "public", "access", "reports",
}}

// whenValues are the `when:` values of artifacts and caches.
var whenValues = []string{"on_success", "on_failure", "always"}

// artifacts reads `artifacts:`.
func (p *parser) artifacts(ctx string, n *node) *Artifacts {
	if n.kind != mapNode {
		p.d.errorf(n.pos, "%sartifacts must be a mapping with paths, reports..., got %s", prefix(ctx), describe(n))
		return nil
	}
	a := &Artifacts{When: "on_success", Public: true, Access: "all"}
	actx := prefix(ctx) + "artifacts"
	var public, access *node
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "paths":
			paths, _ := p.stringList(ctx, "artifacts:paths", kv.value, false)
			a.Paths = texts(paths)
		case "exclude":
			ex, _ := p.stringList(ctx, "artifacts:exclude", kv.value, false)
			a.Exclude = texts(ex)
		case "untracked":
			a.Untracked, _ = p.boolean(ctx, "artifacts:untracked", kv.value)
		case "name":
			a.Name, _ = p.scalar(ctx, "artifacts:name", kv.value)
		case "when":
			if w, ok := p.oneOf(ctx, "artifacts:when", kv.value, whenValues...); ok {
				a.When = w
			}
		case "expire_in":
			a.ExpireIn, a.ExpireNever, _ = p.durationValue(ctx, "artifacts:expire_in", kv.value, 0, true)
		case "expose_as":
			a.ExposeAs, _ = p.scalar(ctx, "artifacts:expose_as", kv.value)
		case "public":
			public = kv.value
			a.Public, _ = p.boolean(ctx, "artifacts:public", kv.value)
			if !a.Public {
				a.Access = "developer"
			}
		case "access":
			access = kv.value
			if s, ok := p.oneOf(ctx, "artifacts:access", kv.value, "all", "developer", "maintainer", "none"); ok {
				a.Access, a.Public = s, s == "all"
			}
		case "reports":
			a.Reports = p.reports(ctx, kv.value)
		default:
			p.otherKeyword(actx, kv.key, artifactsKeywords)
		}
	}
	if public != nil && access != nil {
		p.d.errorf(access.pos, "%s: public and access cannot be used together", actx)
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

func (p *parser) reports(ctx string, n *node) Reports {
	var r Reports
	if n.kind != mapNode {
		p.d.errorf(n.pos, "%sartifacts:reports must be a mapping of report types to paths, got %s", prefix(ctx), describe(n))
		return r
	}
	for _, kv := range n.pairs {
		k := kv.key.value
		what := "artifacts:reports:" + k
		switch {
		case k == "junit":
			paths, _ := p.stringList(ctx, what, kv.value, true)
			r.JUnit = texts(paths)
		case k == "dotenv":
			paths, _ := p.stringList(ctx, what, kv.value, true)
			r.Dotenv = texts(paths)
		case k == "coverage_report":
			r.CoverageReport = p.coverageReport(ctx, kv.value)
		case slices.Contains(uiReports, k):
			paths, _ := p.stringList(ctx, what, kv.value, true)
			if r.Other == nil {
				r.Other = map[string][]string{}
			}
			r.Other[k] = texts(paths)
			p.d.warnf(kv.key.pos, "%s%s: only GitLab reads this report; Gantry keeps the files as artifacts", prefix(ctx), what)
		default:
			p.otherKeyword(prefix(ctx)+"artifacts:reports", kv.key, reportsKeywords)
		}
	}
	return r
}

func (p *parser) coverageReport(ctx string, n *node) *CoverageReport {
	const what = "artifacts:reports:coverage_report"
	if n.kind != mapNode {
		p.d.errorf(n.pos, "%s%s must be a mapping with coverage_format and path, got %s", prefix(ctx), what, describe(n))
		return nil
	}
	c := &CoverageReport{}
	var format, path *node
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "coverage_format":
			format = kv.value
			c.Format, _ = p.oneOf(ctx, what+":coverage_format", kv.value, "cobertura", "jacoco")
		case "path":
			path = kv.value
			c.Path, _ = p.scalar(ctx, what+":path", kv.value)
		default:
			p.otherKeyword(prefix(ctx)+what, kv.key, keywords{supported: []string{"coverage_format", "path"}})
		}
	}
	if format == nil || path == nil {
		p.d.errorf(n.pos, "%s%s: coverage_format and path are required", prefix(ctx), what)
	}
	return c
}

const maxCaches = 4

var cacheKeywords = keywords{supported: []string{
	"key", "paths", "untracked", "unprotect", "policy", "when", "fallback_keys",
}}

// caches reads `cache:`, one mapping or a list of up to four.
func (p *parser) caches(ctx string, n *node) []Cache {
	var items []*node
	switch n.kind {
	case mapNode:
		items = []*node{n}
	case seqNode:
		items = flatten(n)
		if len(items) > maxCaches {
			p.d.errorf(n.pos, "%scache: at most %d caches are allowed, got %d", prefix(ctx), maxCaches, len(items))
			return nil
		}
	default:
		if n.isNull() {
			return []Cache{}
		}
		p.d.errorf(n.pos, "%scache must be a mapping or a list of up to %d mappings, got %s", prefix(ctx), maxCaches, describe(n))
		return nil
	}
	out := make([]Cache, 0, len(items))
	for _, it := range items {
		if it.kind != mapNode {
			p.d.errorf(it.pos, "%scache entries must be mappings, got %s", prefix(ctx), describe(it))
			continue
		}
		out = append(out, p.cache(ctx, it))
	}
	return out
}

func (p *parser) cache(ctx string, n *node) Cache {
	c := Cache{Key: "default", Policy: "pull-push", When: "on_success"}
	cctx := prefix(ctx) + "cache"
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "key":
			p.cacheKey(ctx, kv.value, &c)
		case "paths":
			paths, _ := p.stringList(ctx, "cache:paths", kv.value, false)
			c.Paths = texts(paths)
		case "untracked":
			c.Untracked, _ = p.boolean(ctx, "cache:untracked", kv.value)
		case "unprotect":
			c.Unprotect, _ = p.boolean(ctx, "cache:unprotect", kv.value)
		case "policy":
			if s, ok := p.scalar(ctx, "cache:policy", kv.value); ok {
				if !strings.HasPrefix(s, "$") && !slices.Contains([]string{"pull", "push", "pull-push"}, s) {
					p.d.errorf(kv.value.pos, "%s: policy must be pull, push, pull-push or a $VARIABLE, got %q", cctx, s)
				}
				c.Policy = s
			}
		case "when":
			if w, ok := p.oneOf(ctx, "cache:when", kv.value, whenValues...); ok {
				c.When = w
			}
		case "fallback_keys":
			keys, _ := p.stringList(ctx, "cache:fallback_keys", kv.value, false)
			if len(keys) > 5 {
				p.d.errorf(kv.value.pos, "%s: at most 5 fallback_keys are allowed", cctx)
			}
			c.FallbackKeys = texts(keys)
		default:
			p.otherKeyword(cctx, kv.key, cacheKeywords)
		}
	}
	return c
}

// cacheKey reads `cache:key`, a string or a mapping with files and prefix.
func (p *parser) cacheKey(ctx string, n *node, c *Cache) {
	if n.kind != mapNode {
		key, ok := p.scalar(ctx, "cache:key", n)
		if !ok {
			return
		}
		switch {
		case strings.Contains(key, "/") || strings.Contains(strings.ToLower(key), "%2f"):
			p.d.errorf(n.pos, "%scache:key must not contain \"/\", got %q", prefix(ctx), key)
		case key == "." || key == ".." || strings.EqualFold(key, "%2e") || strings.EqualFold(key, "%2e%2e"):
			p.d.errorf(n.pos, "%scache:key must not be %q", prefix(ctx), key)
		}
		c.Key = key
		return
	}
	var files *node
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "files":
			files = kv.value
			list, ok := p.stringList(ctx, "cache:key:files", kv.value, false)
			if ok && (len(list) == 0 || len(list) > 2) {
				p.d.errorf(kv.value.pos, "%scache:key:files must list one or two files", prefix(ctx))
			}
			c.KeyFiles = texts(list)
		case "prefix":
			c.KeyPrefix, _ = p.scalar(ctx, "cache:key:prefix", kv.value)
		default:
			p.otherKeyword(prefix(ctx)+"cache:key", kv.key, keywords{supported: []string{"files", "prefix"}})
		}
	}
	if files == nil {
		p.d.errorf(n.pos, "%scache:key: `files` is required in the mapping form", prefix(ctx))
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
