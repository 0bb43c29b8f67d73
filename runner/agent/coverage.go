package agent

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// maxCoverageLine bounds the part of a log line the coverage regex sees.
const maxCoverageLine = 64 << 10

var firstNumber = regexp.MustCompile(`\d+(?:\.\d+)?`)

// coverageScanner applies a job's `coverage:` regex to each line of its
// log as GitLab does: the last matching line wins; in it, the last match's
// last capture group (the whole match when the regex has no group) holds
// the coverage, as its first number.
type coverageScanner struct {
	re      *regexp.Regexp
	line    []byte
	value   float64
	matched bool
}

// newCoverageScanner compiles a `coverage:` value as written (/regex/).
func newCoverageScanner(expr string) (*coverageScanner, error) {
	src := expr
	if len(src) >= 2 && strings.HasPrefix(src, "/") && strings.HasSuffix(src, "/") {
		src = src[1 : len(src)-1]
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("coverage regex %s: %w", expr, err)
	}
	return &coverageScanner{re: re}, nil
}

// Write scans complete lines; it never fails.
func (c *coverageScanner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.keep(p)
			break
		}
		c.keep(p[:i])
		c.scan()
		p = p[i+1:]
	}
	return n, nil
}

func (c *coverageScanner) keep(b []byte) {
	if room := maxCoverageLine - len(c.line); room > 0 {
		c.line = append(c.line, b[:min(len(b), room)]...)
	}
}

func (c *coverageScanner) scan() {
	line := bytes.TrimSuffix(c.line, []byte("\r"))
	c.line = c.line[:0]
	all := c.re.FindAllSubmatch(line, -1)
	if len(all) == 0 {
		return
	}
	last := all[len(all)-1]
	m := last[len(last)-1]
	if len(m) == 0 {
		m = last[0]
	}
	num := firstNumber.Find(m)
	if num == nil {
		return
	}
	if v, err := strconv.ParseFloat(string(num), 64); err == nil {
		c.value, c.matched = v, true
	}
}

// Coverage is the percentage found, after the last line (which may lack
// its newline).
func (c *coverageScanner) Coverage() (float64, bool) {
	if len(c.line) > 0 {
		c.scan()
	}
	return c.value, c.matched
}
