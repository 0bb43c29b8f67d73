// Package source moves a run's working tree between machines as a
// gzip-compressed tar: the CLI packs it with [Pack], the runner's shell
// executor unpacks it with [Unpack].
//
// Unpack treats every archive as hostile. The same code guards artifact
// downloads, so nothing an archive holds may create, modify or point at a file
// outside the destination directory (zip-slip); see [Unpack] for the rules.
package source

import (
	"context"
	"errors"
	"io"
)

var (
	// ErrUnsafePath reports an archive entry that Unpack refuses because it
	// could reach outside the destination directory or is a kind of file a
	// source tree must not contain (devices, fifos). The wrapping error names
	// the entry.
	ErrUnsafePath = errors.New("source: unsafe archive entry")

	// ErrTooLarge reports that the uncompressed size of the files packed or
	// unpacked would exceed the configured limit. The wrapping error names the
	// limit and the size reached.
	ErrTooLarge = errors.New("source: archive too large")
)

// Stats counts what Pack put into an archive.
type Stats struct {
	// Files is the number of regular files.
	Files int
	// Dirs is the number of directories, not counting the root itself.
	Dirs int
	// Symlinks is the number of symbolic links.
	Symlinks int
	// Bytes is the total uncompressed size of the regular files.
	Bytes int64
}

// ctxReader makes a long copy stop soon after ctx is done: it checks ctx
// before every Read. A Read already blocked in the underlying reader is not
// interrupted; callers whose reader may block forever must close it on
// cancellation.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
