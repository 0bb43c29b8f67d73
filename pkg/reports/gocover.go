package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxLineSize bounds one line of a text report.
const maxLineSize = 1 << 20

// ParseGoCover reads a Go coverage profile (go test -coverprofile).
func ParseGoCover(r io.Reader) (*Coverage, error) {
	return parseGoCover(r, defaultLimits)
}

// goBlock identifies a block by its position in a file.
type goBlock struct {
	file                                 string
	startLine, startCol, endLine, endCol int
}

type goBlockCount struct {
	stmts   int
	covered bool
}

func parseGoCover(r io.Reader, lim limits) (*Coverage, error) {
	sc := newScanner(r, lim)
	mode := ""
	blocks := map[goBlock]goBlockCount{}
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if m, ok := strings.CutPrefix(line, "mode:"); ok {
			// Concatenated profiles repeat the mode line; go tool cover
			// cannot merge different modes and neither do we.
			m = strings.TrimSpace(m)
			switch {
			case m != "set" && m != "count" && m != "atomic":
				return nil, fmt.Errorf("gocover: line %d: unknown mode %q (want set, count or atomic)", lineNo, m)
			case mode != "" && m != mode:
				return nil, fmt.Errorf("gocover: line %d: mode %q differs from %q", lineNo, m, mode)
			}
			mode = m
			continue
		}
		if mode == "" {
			return nil, fmt.Errorf("gocover: line %d: profile does not start with a mode line (not a Go coverage profile?)", lineNo)
		}
		b, cnt, err := parseGoBlock(line)
		if err != nil {
			return nil, fmt.Errorf("gocover: line %d: %v", lineNo, err)
		}
		if prev, ok := blocks[b]; ok {
			if prev.stmts != cnt.stmts {
				return nil, fmt.Errorf("gocover: line %d: %s:%d.%d,%d.%d has %d statements, earlier %d", lineNo, b.file, b.startLine, b.startCol, b.endLine, b.endCol, cnt.stmts, prev.stmts)
			}
			cnt.covered = cnt.covered || prev.covered
		}
		blocks[b] = cnt
	}
	if err := sc.Err(); err != nil {
		return nil, scanError("gocover", lineNo, err)
	}
	if mode == "" {
		return nil, errors.New("gocover: no mode line (empty file?)")
	}
	perFile := map[string]*FileCoverage{}
	for b, cnt := range blocks {
		f := perFile[b.file]
		if f == nil {
			f = &FileCoverage{Path: b.file}
			perFile[b.file] = f
		}
		f.LinesValid += cnt.stmts
		if cnt.covered {
			f.LinesCovered += cnt.stmts
		}
	}
	files := make([]FileCoverage, 0, len(perFile))
	for _, f := range perFile {
		files = append(files, *f)
	}
	return newCoverage(files), nil
}

// parseGoBlock parses "file:startLine.startCol,endLine.endCol numStmts count".
// The file name may itself contain colons, so it is split from the right.
func parseGoBlock(line string) (goBlock, goBlockCount, error) {
	var b goBlock
	var cnt goBlockCount
	colon := strings.LastIndexByte(line, ':')
	if colon <= 0 {
		return b, cnt, fmt.Errorf("%q is not file:start,end statements count", line)
	}
	b.file = line[:colon]
	fields := strings.Fields(line[colon+1:])
	if len(fields) != 3 {
		return b, cnt, fmt.Errorf("%q is not file:start,end statements count", line)
	}
	start, end, ok := strings.Cut(fields[0], ",")
	if !ok {
		return b, cnt, fmt.Errorf("block %q is not start,end", fields[0])
	}
	var err error
	if b.startLine, b.startCol, err = parseGoPos(start); err != nil {
		return b, cnt, err
	}
	if b.endLine, b.endCol, err = parseGoPos(end); err != nil {
		return b, cnt, err
	}
	if cnt.stmts, err = parseCount(fields[1]); err != nil {
		return b, cnt, fmt.Errorf("statements: %v", err)
	}
	if cnt.covered, err = parseHits(fields[2]); err != nil {
		return b, cnt, err
	}
	return b, cnt, nil
}

func parseGoPos(s string) (line, col int, err error) {
	l, c, ok := strings.Cut(s, ".")
	if ok {
		line, err = strconv.Atoi(l)
	}
	if ok && err == nil {
		col, err = strconv.Atoi(c)
	}
	if !ok || err != nil || line < 0 || col < 0 {
		return 0, 0, fmt.Errorf("position %q is not line.column", s)
	}
	return line, col, nil
}

// newScanner reads lines of at most maxLineSize bytes from at most
// lim.input bytes of r.
func newScanner(r io.Reader, lim limits) *bufio.Scanner {
	sc := bufio.NewScanner(newCapReader(r, lim.input))
	sc.Buffer(make([]byte, 0, 64<<10), maxLineSize)
	return sc
}

func scanError(format string, lineNo int, err error) error {
	switch {
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%s: %w", format, ErrTooLarge)
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("%s: line %d longer than %d KiB (not a text report?)", format, lineNo+1, maxLineSize>>10)
	}
	return fmt.Errorf("%s: reading: %w", format, err)
}
