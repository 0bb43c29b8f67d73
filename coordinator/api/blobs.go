package api

import (
	"context"
	"io"

	"github.com/gantry-ci/gantry/coordinator/blob"
)

// BlobStore is what the handlers need of the blob store (blob.Store,
// blob.FS or blob.S3): store sources, artifacts and caches, and stream
// them back.
type BlobStore interface {
	PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (blob.PutResult, error)
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (blob.PutResult, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}
