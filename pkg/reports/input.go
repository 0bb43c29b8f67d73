package reports

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds applied to every report.
const (
	// MaxInputSize is the most bytes a parser reads from one report.
	MaxInputSize = 64 << 20
	// MaxFailedCases is the most failing cases a TestSummary lists.
	MaxFailedCases = 1000
	// MaxMessageSize bounds FailedCase.Message, in bytes.
	MaxMessageSize = 4 << 10
	// MaxOutputSize bounds FailedCase.Output, in bytes.
	MaxOutputSize = 16 << 10

	// maxDepth bounds XML nesting; real reports stay under ten levels.
	maxDepth = 256
	// maxCount bounds a count read from an attribute or a line, so that
	// sums over a MaxInputSize file cannot overflow an int.
	maxCount = 1<<31 - 1
)

// ErrTooLarge is returned when a report is larger than MaxInputSize.
var ErrTooLarge = fmt.Errorf("report larger than %d MiB", MaxInputSize>>20)

// limits are the bounds in force; tests shrink them.
type limits struct {
	input, failed, message, output int64
}

var defaultLimits = limits{input: MaxInputSize, failed: MaxFailedCases, message: MaxMessageSize, output: MaxOutputSize}

// capReader reads at most n bytes from r and fails with ErrTooLarge if
// there is more, instead of silently truncating the report.
type capReader struct {
	r io.Reader
	n int64 // bytes still allowed
}

func newCapReader(r io.Reader, n int64) *capReader {
	return &capReader{r: io.LimitReader(r, n+1), n: n}
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return 0, ErrTooLarge
	}
	return n, err
}

// newXMLDecoder returns a strict decoder with no entity table, so that
// entities declared in a DOCTYPE are never expanded.
func newXMLDecoder(r io.Reader, lim limits) *xml.Decoder {
	d := xml.NewDecoder(newCapReader(r, lim.input))
	d.Strict = true
	d.Entity = nil
	d.CharsetReader = charsetReader
	return d
}

// charsetReader accepts the single-byte encodings some Java tools declare;
// anything else is an error rather than mojibake.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		return &latin1Reader{r: r}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", charset)
}

// latin1Reader converts ISO-8859-1 to UTF-8.
type latin1Reader struct {
	r   io.Reader
	buf []byte
	out []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(l.out) == 0 {
		if cap(l.buf) == 0 {
			l.buf = make([]byte, 4096)
		}
		n, err := l.r.Read(l.buf)
		l.out = l.out[:0]
		for _, b := range l.buf[:n] {
			l.out = utf8.AppendRune(l.out, rune(b))
		}
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}

// xmlError wraps an error from the XML decoder, naming the line.
func xmlError(format string, d *xml.Decoder, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%s: %w", format, ErrTooLarge)
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) && se.Msg == "unexpected EOF" {
		return fmt.Errorf("%s: XML ends unexpectedly at line %d (truncated file?)", format, se.Line)
	}
	if errors.As(err, &se) {
		return fmt.Errorf("%s: malformed XML at line %d: %s", format, se.Line, se.Msg)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		line, _ := d.InputPos()
		return fmt.Errorf("%s: XML ends unexpectedly at line %d (truncated file?)", format, line)
	}
	return fmt.Errorf("%s: reading XML: %w", format, err)
}

// attr returns the value of the attribute named name, without namespace.
func attr(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// parseCount parses a non-negative count bounded by maxCount.
func parseCount(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > maxCount {
		return 0, fmt.Errorf("invalid count %q", s)
	}
	return int(n), nil
}

// parseLine parses a source line number.
func parseLineNumber(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > maxCount {
		return 0, fmt.Errorf("invalid line number %q", s)
	}
	return int(n), nil
}

// parseHits reports whether an execution count is non-zero. Counts can
// exceed 64 bits in long-running count-mode profiles and some tools have
// written negative ones, so the value is checked, not converted.
func parseHits(s string) (covered bool, err error) {
	s = strings.TrimSpace(s)
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return false, fmt.Errorf("invalid hit count %q", s)
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return false, fmt.Errorf("invalid hit count %q", s)
		}
		if c != '0' {
			covered = true
		}
	}
	return covered && len(digits) == len(s), nil
}

// Truncate shortens s to at most n bytes on a UTF-8 boundary, marking the
// cut: for the texts of failing cases, bounded wherever they are kept.
func Truncate(s string, n int64) string {
	if int64(len(s)) <= n {
		return s
	}
	const mark = "\n[truncated]"
	cut, suffix := int(n)-len(mark), mark
	if cut < 0 {
		cut, suffix = int(n), ""
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}
