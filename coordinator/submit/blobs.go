package submit

import (
	"context"
	"io"

	"github.com/gantry-ci/gantry/coordinator/blob"
)

// BlobStore is what submissions need of the blob store (blob.Store,
// blob.FS or blob.S3): store a source archive and read it back.
type BlobStore interface {
	PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (blob.PutResult, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}
