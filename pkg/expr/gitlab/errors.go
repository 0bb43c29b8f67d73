package gitlab

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError reports why Parse rejected an expression and where.
type SyntaxError struct {
	// Offset is the byte offset of the problem in the source, 0-based.
	Offset int
	// Line and Column locate the problem for people: both are 1-based and
	// Column counts characters, not bytes, as editors do.
	Line, Column int
	// Msg says what was expected and what was found instead, for example
	// `expected a value after "==", got end of expression`.
	Msg string

	multiline bool
}

// Error formats the problem as "column C: message", or as
// "line L, column C: message" when the expression spans several lines.
func (e *SyntaxError) Error() string {
	if e.multiline {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
}

// errorAt builds the SyntaxError for byte offset off of src.
func errorAt(src string, off int, format string, args ...any) *SyntaxError {
	off = min(max(off, 0), len(src))
	line, col := position(src, off)
	return &SyntaxError{
		Offset:    off,
		Line:      line,
		Column:    col,
		Msg:       fmt.Sprintf(format, args...),
		multiline: strings.IndexByte(src, '\n') >= 0,
	}
}

// position returns the 1-based line and character column of byte offset off.
func position(src string, off int) (line, col int) {
	before := src[:off]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return strings.Count(before, "\n") + 1, utf8.RuneCountInString(before[lineStart:]) + 1
}

func column(src string, off int) int {
	_, col := position(src, off)
	return col
}
