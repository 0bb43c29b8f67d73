package actions

import (
	"errors"
	"fmt"
)

// ErrUnsupported is wrapped by the errors Eval returns for parts of the
// language Gantry recognises but cannot evaluate, such as hashFiles().
var ErrUnsupported = errors.New("not supported")

// SyntaxError is a problem in the text of an expression or of a string
// holding ${{ }} expressions. Column is 1-based and counts characters, not
// bytes, within the string given to Parse, ParseTemplate or ParseIf.
type SyntaxError struct {
	Column int
	Msg    string
}

// Error formats the problem as "column N: message".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
}

// EvalError is a problem found while evaluating an expression, at the
// column of the part that failed. Err says what went wrong; errors.Is sees
// through to it (for example to ErrUnsupported).
type EvalError struct {
	Column int
	Err    error
}

// Error formats the problem as "column N: message".
func (e *EvalError) Error() string {
	return fmt.Sprintf("column %d: %v", e.Column, e.Err)
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }
