package ghworkflow

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// uploadSearch is one positive pattern of an upload's path input: where
// to look for files and which of the files found it selects.
type uploadSearch struct {
	dir string // the search path: the pattern up to its first wildcard
	re  string // ERE the file paths must match
}

// uploadPlan is how an upload step finds its files and lays them out.
type uploadPlan struct {
	searches []uploadSearch
	exclude  string // ERE of the files to leave out, "" for none
	// root is the directory the artifact's paths are relative to: the
	// least common ancestor of the search paths. With single set, a lone
	// file equal to the only search path is relative to its directory
	// instead, as actions/upload-artifact does.
	root   string
	single bool
}

// planUpload turns the lines of an upload's path input into an
// uploadPlan, following actions/upload-artifact: `!` lines exclude,
// every pattern selects the files below a directory it matches, hidden
// files (a name starting with ".") below the search paths are left out
// unless includeHidden.
func planUpload(lines []string, includeHidden bool) (*uploadPlan, error) {
	up := &uploadPlan{}
	var excludes, dirs []string
	abs, rel := false, false
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		p := strings.TrimPrefix(line, "!")
		if strings.HasPrefix(p, "~") {
			return nil, fmt.Errorf("path %q: paths under ~ are not supported; use an absolute path or one relative to the workspace", line)
		}
		p = path.Clean(p)
		if neg {
			excludes = append(excludes, "^"+globERE(p)+"(/.*)?$")
			continue
		}
		if strings.HasPrefix(p, "/") {
			abs = true
		} else {
			rel = true
		}
		dir := searchPath(p)
		up.searches = append(up.searches, uploadSearch{dir: dir, re: "^" + globERE(p) + "(/.*)?$"})
		dirs = append(dirs, dir)
	}
	if len(up.searches) == 0 {
		return nil, fmt.Errorf("the path input selects no files: write at least one path that does not start with !")
	}
	if abs && rel {
		return nil, fmt.Errorf("mixing absolute paths and paths relative to the workspace in one artifact is not supported")
	}
	dirs = topmost(dirs)
	if !includeHidden {
		for _, d := range dirs {
			if d == "." {
				excludes = append(excludes, `^(.*/)?\.`)
			} else {
				excludes = append(excludes, "^"+quoteERE(d)+`/(.*/)?\.`)
			}
		}
	}
	if len(excludes) > 0 {
		up.exclude = "(" + strings.Join(excludes, ")|(") + ")"
	}
	if len(dirs) == 1 {
		up.root, up.single = dirs[0], true
	} else {
		up.root = commonDir(dirs)
	}
	return up, nil
}

// searchPath returns the directories of a pattern before its first
// segment with a wildcard: the pattern itself when it has none.
func searchPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.ContainsAny(s, "*?[") {
			switch {
			case i == 0:
				return "."
			case i == 1 && segs[0] == "":
				return "/"
			}
			return strings.Join(segs[:i], "/")
		}
	}
	return p
}

// topmost drops the search paths that are inside another one.
func topmost(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		inside := slices.ContainsFunc(dirs, func(o string) bool { return o != d && isUnder(d, o) })
		if !inside && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func isUnder(p, dir string) bool {
	switch dir {
	case ".":
		return !strings.HasPrefix(p, "/")
	case "/":
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, dir+"/")
}

// commonDir returns the least common ancestor of several paths.
func commonDir(dirs []string) string {
	split := make([][]string, len(dirs))
	for i, d := range dirs {
		split[i] = strings.Split(d, "/")
	}
	var common []string
	for i := 0; ; i++ {
		if i >= len(split[0]) {
			break
		}
		seg := split[0][i]
		same := true
		for _, s := range split[1:] {
			if i >= len(s) || s[i] != seg {
				same = false
				break
			}
		}
		if !same {
			break
		}
		common = append(common, seg)
	}
	switch {
	case len(common) == 0:
		return "."
	case len(common) == 1 && common[0] == "":
		return "/"
	}
	return strings.Join(common, "/")
}

// globERE converts an actions/glob pattern (a cleaned path) to a POSIX
// extended regular expression: `*` is any characters but "/", `?` one,
// `**` any number of directories, `[...]` a class.
func globERE(p string) string {
	var b strings.Builder
	segs := strings.Split(p, "/")
	for i, s := range segs {
		last := i == len(segs)-1
		if s == "**" {
			if last {
				if i > 0 {
					// a/** is a and everything below, which the (/.*)?
					// after the expression already adds.
					return strings.TrimSuffix(b.String(), "/")
				}
				return ".*"
			}
			b.WriteString("(.*/)?")
			continue
		}
		for j := 0; j < len(s); j++ {
			c := s[j]
			switch c {
			case '*':
				b.WriteString("[^/]*")
			case '?':
				b.WriteString("[^/]")
			case '[':
				end := strings.IndexByte(s[j+1:], ']')
				if end < 0 {
					b.WriteString(`\[`)
					continue
				}
				class := s[j+1 : j+1+end]
				if strings.HasPrefix(class, "!") {
					class = "^" + class[1:]
				}
				b.WriteString("[" + class + "]")
				j += end + 1
			default:
				b.WriteString(quoteERE(string(c)))
			}
		}
		if !last {
			b.WriteString("/")
		}
	}
	return b.String()
}

// quoteERE escapes the characters special in a POSIX ERE.
func quoteERE(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`\.[]()*+?{}|^$`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// validArtifactName checks a name as actions/upload-artifact does.
func validArtifactName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("an artifact name must not be empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a valid artifact name", name)
	case strings.ContainsAny(name, "\":<>|*?\r\n\\/"):
		return fmt.Errorf("artifact name %q holds a character GitHub does not allow: \" : < > | * ? \\r \\n \\ /", name)
	}
	return nil
}
