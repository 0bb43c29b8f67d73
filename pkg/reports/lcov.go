package reports

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseLCOV reads an LCOV tracefile.
func ParseLCOV(r io.Reader) (*Coverage, error) {
	return parseLCOV(r, defaultLimits)
}

func parseLCOV(r io.Reader, lim limits) (*Coverage, error) {
	sc := newScanner(r, lim)
	lines := lineSet{}
	var summaries []FileCoverage // records without DA lines
	var (
		file      string // current SF, "" outside a record
		inRecord  bool
		sawDA     bool
		lf, lh    int
		hasLF     bool
		records   int
		lineNo    int
		recordPos int
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line == "end_of_record" {
			if !inRecord {
				return nil, fmt.Errorf("lcov: line %d: end_of_record without SF", lineNo)
			}
			if !sawDA && hasLF {
				if err := checkTotals("lcov", fmt.Sprintf("line %d: %s", lineNo, file), lf, lh); err != nil {
					return nil, err
				}
				summaries = append(summaries, FileCoverage{Path: file, LinesValid: lf, LinesCovered: lh})
			}
			inRecord, sawDA, hasLF, lf, lh = false, false, false, 0, 0
			records++
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("lcov: line %d: %q is not KEY:value (not an LCOV file?)", lineNo, Truncate(line, 80))
		}
		if key == "SF" {
			if inRecord {
				return nil, fmt.Errorf("lcov: line %d: SF before end_of_record of %q", lineNo, file)
			}
			file, inRecord, recordPos = strings.TrimSpace(val), true, lineNo
			if file == "" {
				return nil, fmt.Errorf("lcov: line %d: empty SF", lineNo)
			}
			continue
		}
		if !inRecord {
			if key == "DA" || key == "LF" || key == "LH" {
				return nil, fmt.Errorf("lcov: line %d: %s outside a record (no SF)", lineNo, key)
			}
			continue // TN, VER and other headers
		}
		var err error
		switch key {
		case "DA": // line,count[,checksum]
			parts := strings.Split(val, ",")
			if len(parts) < 2 || len(parts) > 3 {
				return nil, fmt.Errorf("lcov: line %d: DA:%s is not line,count", lineNo, Truncate(val, 80))
			}
			var n int
			var covered bool
			if n, err = parseLineNumber(parts[0]); err == nil {
				covered, err = parseHits(parts[1])
			}
			if err == nil {
				lines.add(file, n, covered)
				sawDA = true
			}
		case "LF":
			lf, err = parseCount(val)
			hasLF = true
		case "LH":
			lh, err = parseCount(val)
		}
		// FN, FNDA, FNF, FNH, BRDA, BRF, BRH, VER, ... do not affect lines.
		if err != nil {
			return nil, fmt.Errorf("lcov: line %d: %s: %v", lineNo, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, scanError("lcov", lineNo, err)
	}
	if inRecord {
		return nil, fmt.Errorf("lcov: record for %q at line %d has no end_of_record (truncated file?)", file, recordPos)
	}
	if records == 0 {
		return nil, errors.New("lcov: no records (empty file?)")
	}
	return lines.coverage(summaries), nil
}
