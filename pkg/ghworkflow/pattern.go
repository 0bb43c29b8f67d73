package ghworkflow

import (
	"fmt"
	"regexp"
	"strings"
)

// filterPattern is one entry of a branches, tags or paths filter, compiled
// per GitHub's filter pattern cheat sheet:
//
//   - `*` matches zero or more characters but not "/";
//   - `**` matches zero or more of any character, and `**/` zero or more
//     directories;
//   - `?` makes the preceding character optional, `+` repeats it one or
//     more times (so `*.jsx?` matches page.js and page.jsx, and
//     `v[12].[0-9]+.[0-9]+` matches v1.10.1);
//   - `[...]` matches one character listed or in a range of a-z, A-Z or
//     0-9;
//   - `\` escapes the next character;
//   - a leading `!` makes the pattern negative: in a list, the last
//     pattern that matches decides.
//
// Everything else matches itself; `.` is not special.
type filterPattern struct {
	src string
	neg bool
	re  *regexp.Regexp
}

// compileFilter compiles one pattern; the error says what is wrong.
func compileFilter(src string) (*filterPattern, error) {
	fp := &filterPattern{src: src}
	s := src
	if strings.HasPrefix(s, "!") {
		fp.neg, s = true, s[1:]
	}
	if s == "" {
		return nil, fmt.Errorf("an empty pattern matches nothing")
	}
	var b strings.Builder
	b.WriteString("^")
	// atom is the last thing written that a following ? or + applies to.
	atom := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '*':
			switch {
			case strings.HasPrefix(s[i:], "**/"):
				b.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(s[i:], "**"):
				b.WriteString("(?:.*)")
				i++
			default:
				b.WriteString("(?:[^/]*)")
			}
			atom = true
		case '?', '+':
			if !atom {
				b.WriteString(regexp.QuoteMeta(string(c)))
				atom = true
				continue
			}
			b.WriteByte(c)
			atom = false // `a+?` would make a lazy quantifier: take the next literally
		case '[':
			end := strings.IndexByte(s[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("`[` at character %d has no closing `]`", i+1)
			}
			class := s[i+1 : i+1+end]
			if class == "" {
				return nil, fmt.Errorf("`[]` at character %d is empty", i+1)
			}
			re, err := charClass(class)
			if err != nil {
				return nil, fmt.Errorf("%s at character %d", err, i+1)
			}
			b.WriteString(re)
			i += end + 1
			atom = true
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("`\\` at the end escapes nothing")
			}
			i++
			b.WriteString(regexp.QuoteMeta(s[i : i+1]))
			atom = true
		default:
			// Write whole UTF-8 sequences so a quantifier applies to the
			// character, not its last byte.
			j := i + 1
			for j < len(s) && s[j]&0xC0 == 0x80 {
				j++
			}
			b.WriteString("(?:" + regexp.QuoteMeta(s[i:j]) + ")")
			i = j - 1
			atom = true
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("it cannot be compiled: %v", err)
	}
	fp.re = re
	return fp, nil
}

// charClass turns the inside of [...] into a regexp class, allowing only
// what GitHub allows: characters and ranges of a-z, A-Z and 0-9.
func charClass(class string) (string, error) {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < len(class); i++ {
		c := class[i]
		if i+2 < len(class) && class[i+1] == '-' {
			hi := class[i+2]
			if !(sameRange(c, hi) && c <= hi) {
				return "", fmt.Errorf("range %c-%c is not allowed: ranges can only include a-z, A-Z and 0-9", c, hi)
			}
			b.WriteString(regexp.QuoteMeta(string(c)) + "-" + regexp.QuoteMeta(string(hi)))
			i += 2
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(c)))
	}
	b.WriteString("]")
	return b.String(), nil
}

func sameRange(a, b byte) bool {
	in := func(lo, hi byte) bool { return a >= lo && a <= hi && b >= lo && b <= hi }
	return in('a', 'z') || in('A', 'Z') || in('0', '9')
}

// patternList is a branches, tags or paths filter (or its -ignore form).
type patternList struct {
	key      string // "on.push.branches"
	patterns []*filterPattern
}

// matches reports whether name is selected by the list: the last pattern
// that matches decides, a negative one deselecting.
func (l *patternList) matches(name string) bool {
	in := false
	for _, p := range l.patterns {
		if p.re.MatchString(name) {
			in = !p.neg
		}
	}
	return in
}

// String lists the patterns as written, for reasons: [main, release/**].
func (l *patternList) String() string {
	srcs := make([]string, len(l.patterns))
	for i, p := range l.patterns {
		srcs[i] = p.src
	}
	return "[" + strings.Join(srcs, ", ") + "]"
}
