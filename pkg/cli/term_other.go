//go:build !unix

package cli

import "io"

// terminalSize is unknown (0, 0) where there is no TIOCGWINSZ.
func terminalSize(io.Writer) (cols, rows int) { return 0, 0 }
