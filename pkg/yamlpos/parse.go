package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
)

// SyntaxError is data that is not valid YAML, at the position to fix.
type SyntaxError struct {
	Pos Pos
	Msg string
}

// Error formats the problem as "file:line:column: message".
func (e *SyntaxError) Error() string {
	return e.Pos.String() + ": " + e.Msg
}

// Parse reads the YAML documents of data, the content of file; with
// maxDocs > 0 it stops after that many. When data is not valid YAML the
// error is a *SyntaxError.
func Parse(file string, data []byte, maxDocs int) (docs []*yaml.Node, err error) {
	defer func() {
		// The YAML library is a port of C code; a panic on some input must
		// not take down a coordinator that parses files users send.
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser failed: %v", r)
		}
		if err != nil {
			docs, err = nil, syntaxError(file, data, err)
		}
	}()
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	for maxDocs <= 0 || len(docs) < maxDocs {
		var doc yaml.Node
		err := l.Load(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
	return docs, nil
}

// syntaxError turns the YAML library's error into one with our position
// format, keeping libyaml's hint about the construct being read.
func syntaxError(file string, data []byte, err error) *SyntaxError {
	pos := Pos{File: file, Line: 1, Column: 1}
	msg := err.Error()
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg = le.Message
		if le.Mark.Line > 0 {
			pos.Line, pos.Column = le.Mark.Line, max(le.Mark.Column, 1)
		}
		if le.ContextMsg != "" {
			msg += " (" + le.ContextMsg
			if le.ContextMark.Line > 0 && le.ContextMark != le.Mark {
				msg += fmt.Sprintf(" started at %d:%d", le.ContextMark.Line, le.ContextMark.Column)
			}
			msg += ")"
		}
		if le.Stage == yaml.ReaderStage && le.Mark.Line == 0 {
			// The reader does not say where the bad bytes are.
			if line, col, ok := invalidUTF8(data); ok {
				pos.Line, pos.Column = line, col
				msg = "the file is not valid UTF-8 here (" + msg + ")"
			}
		}
	}
	if charAt(data, pos.Line, pos.Column) == '\t' {
		msg += "; indent with spaces, YAML does not allow tabs for indentation"
	}
	return &SyntaxError{Pos: pos, Msg: "invalid YAML: " + msg}
}

// invalidUTF8 returns the position of the first byte that is not valid
// UTF-8, counting columns in characters like libyaml.
func invalidUTF8(data []byte) (line, col int, ok bool) {
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line, col, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return 0, 0, false
}

// charAt returns the character at a 1-based line and column, or -1.
func charAt(data []byte, line, col int) rune {
	for ; line > 1; line-- {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return -1
		}
		data = data[i+1:]
	}
	for ; col > 1 && len(data) > 0; col-- {
		_, size := utf8.DecodeRune(data)
		data = data[size:]
	}
	if len(data) == 0 {
		return -1
	}
	r, _ := utf8.DecodeRune(data)
	return r
}
