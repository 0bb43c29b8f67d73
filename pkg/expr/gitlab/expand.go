package gitlab

import "strings"

// ExpandVariables replaces the variable references in s, as GitLab does
// for the value a job finally sees:
//
//   - $NAME and ${NAME}, where NAME is a letter or underscore followed by
//     letters, digits and underscores, become the variable's value, or
//     nothing when it is unset;
//   - $$ becomes a single $, so "$$HOME" is the text "$HOME";
//   - any other $ (a lone "$", "$1", "${}", an unclosed "${") stays as it is.
//
// It is a single pass: values are inserted as they are, without expanding
// references inside them. A nil lookup means no variable is set.
func ExpandVariables(s string, lookup func(name string) (string, bool)) string {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:]
		name, n := reference(s)
		switch {
		case strings.HasPrefix(s, "$$"):
			b.WriteByte('$')
			n = 2
		case n > 0:
			if lookup != nil {
				v, _ := lookup(name)
				b.WriteString(v)
			}
		default:
			b.WriteByte('$')
			n = 1
		}
		s = s[n:]
		i = strings.IndexByte(s, '$')
	}
	b.WriteString(s)
	return b.String()
}

// reference reads "$NAME" or "${NAME}" at the start of s and returns the
// name and the length of the reference, or n == 0 if there is none.
func reference(s string) (name string, n int) {
	braced := strings.HasPrefix(s, "${")
	start := 1
	if braced {
		start = 2
	}
	if start >= len(s) || !isNameStart(s[start]) {
		return "", 0
	}
	end := wordEnd(s, start)
	if !braced {
		return s[start:end], end
	}
	if end == len(s) || s[end] != '}' {
		return "", 0
	}
	return s[start:end], end + 1
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
