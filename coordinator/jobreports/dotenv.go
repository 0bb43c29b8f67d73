package jobreports

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/coordinator/model"
)

// Dotenv limits. GitLab refuses the upload beyond its limits (5 KiB and
// 20 variables by default); Gantry is more generous and keeps what fits,
// with a warning, so a pipeline that runs on GitLab runs here.
const (
	MaxDotenvBytes = 64 << 10
	MaxDotenvVars  = 200
)

var dotenvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// dotenv collects the variables of a job's dotenv files.
type dotenv struct {
	vars  []model.EnvVar
	bytes int
}

// parse reads one dotenv file: KEY=VALUE lines, as GitLab reads them:
// the value is taken as written (quotes kept, no substitution), spaces
// around it trimmed; a later definition of a key replaces the earlier.
// Gantry also accepts what GitLab rejects outright: blank lines and
// comments are skipped, `export ` prefixes dropped, and a malformed line
// is a warning rather than a failed upload.
func (d *dotenv) parse(name string, r io.Reader) (warnings []string) {
	sc := bufio.NewScanner(io.LimitReader(r, MaxDotenvBytes+1))
	sc.Buffer(make([]byte, 0, 4096), MaxDotenvBytes+1)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		d.bytes += len(sc.Bytes()) + 1
		if d.bytes > MaxDotenvBytes {
			return append(warnings, fmt.Sprintf("dotenv report %s: more than %d bytes of dotenv files; the rest is ignored", name, MaxDotenvBytes))
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !ok || !dotenvName.MatchString(key) {
			warnings = append(warnings, fmt.Sprintf("dotenv report %s:%d: not a KEY=VALUE line (a key is letters, digits and _); ignored", name, line))
			continue
		}
		d.set(key, strings.TrimSpace(value))
		if len(d.vars) > MaxDotenvVars {
			d.vars = d.vars[:MaxDotenvVars]
			return append(warnings, fmt.Sprintf("dotenv report %s: more than %d variables; the rest is ignored", name, MaxDotenvVars))
		}
	}
	if err := sc.Err(); err != nil {
		warnings = append(warnings, fmt.Sprintf("dotenv report %s: %v", name, err))
	}
	return warnings
}

func (d *dotenv) set(key, value string) {
	for i := range d.vars {
		if d.vars[i].Key == key {
			d.vars[i].Value = value
			return
		}
	}
	d.vars = append(d.vars, model.EnvVar{Key: key, Value: value})
}
