package pipeline

import (
	"strings"
	"unicode/utf8"
)

// maxBraceAlternatives bounds `{a,b}` expansion, which multiplies.
const maxBraceAlternatives = 256

// MatchGlob reports whether a slash-separated path relative to the source
// root matches a glob as GitLab matches `changes:` and `exists:` (Ruby's
// File.fnmatch with FNM_PATHNAME, FNM_DOTMATCH and FNM_EXTGLOB):
//
//   - `*` matches any characters but "/", dot files included; `?` one;
//   - `[abc]`, `[a-z]`, `[!a]` or `[^a]` match one character of a class;
//   - `**/` matches any number of directories, none included;
//   - `{a,b}` matches either alternative;
//   - `\` escapes the next character.
//
// A Plan's FileExists should answer with MatchGlob so that `exists:` reads
// as it does in GitLab.
func MatchGlob(pattern, path string) bool {
	for _, alt := range expandBraces(pattern) {
		if matchPath(strings.Split(alt, "/"), strings.Split(path, "/")) {
			return true
		}
	}
	return false
}

// matchPath matches pattern segments against path segments; a `**`
// segment followed by another matches zero or more path segments. It is a
// dynamic program over (pattern, path) positions, so patterns full of `**`
// stay polynomial.
func matchPath(pat, path []string) bool {
	// ok[j] is whether pat[i:] matches path[j:], for the current i.
	ok := make([]bool, len(path)+1)
	ok[len(path)] = true // empty pattern matches empty path
	for i := len(pat) - 1; i >= 0; i-- {
		next := make([]bool, len(path)+1)
		if pat[i] == "**" && i < len(pat)-1 {
			// Zero directories, or one more then the same `**`.
			for j := len(path); j >= 0; j-- {
				next[j] = ok[j] || (j < len(path) && next[j+1])
			}
		} else {
			for j := len(path) - 1; j >= 0; j-- {
				next[j] = ok[j+1] && matchSegment(pat[i], path[j])
			}
		}
		ok = next
	}
	return ok[0]
}

// matchSegment matches one path segment, which holds no "/".
func matchSegment(pat, s string) bool {
	// Classic wildcard matching with a single backtrack point: on a
	// mismatch, retry from the last `*` consuming one more character.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pat) {
			switch c := pat[pi]; c {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				_, size := utf8.DecodeRuneInString(s[si:])
				pi, si = pi+1, si+size
				continue
			case '[':
				r, size := utf8.DecodeRuneInString(s[si:])
				if matched, end, ok := matchClass(pat, pi, r); ok {
					if matched {
						pi, si = end, si+size
						continue
					}
				} else if s[si] == '[' { // an unclosed "[" is literal
					pi, si = pi+1, si+1
					continue
				}
			case '\\':
				if pi+1 < len(pat) && pat[pi+1] == s[si] {
					pi, si = pi+2, si+1
					continue
				}
			default:
				if c == s[si] {
					pi, si = pi+1, si+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, size := utf8.DecodeRuneInString(s[starS:])
		starS += size
		pi, si = starP+1, starS
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}

// matchClass matches r against the class starting at pat[i] == '['. ok is
// false when the class is not closed.
func matchClass(pat string, i int, r rune) (matched bool, end int, ok bool) {
	j := i + 1
	negate := j < len(pat) && (pat[j] == '!' || pat[j] == '^')
	if negate {
		j++
	}
	first := true
	for j < len(pat) && (first || pat[j] != ']') {
		first = false
		lo, size := utf8.DecodeRuneInString(pat[j:])
		if lo == '\\' && j+1 < len(pat) {
			j++
			lo, size = utf8.DecodeRuneInString(pat[j:])
		}
		j += size
		hi := lo
		if j+1 < len(pat) && pat[j] == '-' && pat[j+1] != ']' {
			hi, size = utf8.DecodeRuneInString(pat[j+1:])
			j += 1 + size
		}
		if lo <= r && r <= hi {
			matched = true
		}
	}
	if j >= len(pat) {
		return false, 0, false
	}
	return matched != negate, j + 1, true
}

// expandBraces expands `{a,b}` alternatives, innermost first; a pattern
// that would expand to too many alternatives is taken literally.
func expandBraces(pattern string) []string {
	out := []string{pattern}
	for range maxBraceAlternatives {
		var next []string
		expanded := false
		for _, p := range out {
			alts, ok := expandFirstBrace(p)
			if ok {
				expanded = true
			}
			next = append(next, alts...)
		}
		if len(next) > maxBraceAlternatives {
			return []string{pattern}
		}
		out = next
		if !expanded {
			return out
		}
	}
	return out
}

// expandFirstBrace expands the first `{...,...}` group of p that holds no
// other group.
func expandFirstBrace(p string) ([]string, bool) {
	open := -1
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '{':
			open = i
		case '}':
			if open < 0 {
				continue
			}
			body := p[open+1 : i]
			var alts []string
			start := 0
			for k := 0; k < len(body); k++ {
				switch body[k] {
				case '\\':
					k++
				case ',':
					alts = append(alts, body[start:k])
					start = k + 1
				}
			}
			alts = append(alts, body[start:])
			out := make([]string, len(alts))
			for k, a := range alts {
				out[k] = p[:open] + a + p[i+1:]
			}
			return out, true
		}
	}
	return []string{p}, false
}
