package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"go.uber.org/zap"
)

// Config selects the backend: the coordinator's --blob-store and S3
// credentials.
type Config struct {
	// URL is "" for the filesystem under Dir; a directory (a path, or
	// file:///path) for the filesystem there; or
	// s3://BUCKET[/PREFIX][?endpoint=HOST:PORT&region=R&insecure=true&path-style=true]
	// for an S3-compatible object store.
	URL string
	// Dir is the default directory (the coordinator's data dir's blobs).
	Dir string
	// AccessKey and SecretKey are S3 credentials (empty: the AWS_*
	// environment variables).
	AccessKey string
	SecretKey string
}

// Location is a parsed Config.URL: a directory or an S3 bucket.
type Location struct {
	// Dir is the filesystem directory when S3 is nil.
	Dir string
	// S3 locates the bucket, credentials excluded.
	S3 *S3Config
}

var s3Params = []string{"endpoint", "region", "insecure", "path-style"}

// Parse reads c.URL, saying what to fix when it is wrong.
func (c Config) Parse() (Location, error) {
	raw := strings.TrimSpace(c.URL)
	switch {
	case raw == "":
		if c.Dir == "" {
			return Location{}, errors.New("no directory for the blob store")
		}
		return Location{Dir: c.Dir}, nil
	case strings.HasPrefix(raw, "file://"):
		dir := strings.TrimPrefix(raw, "file://")
		if !filepath.IsAbs(dir) {
			return Location{}, fmt.Errorf("%q: a file URL needs an absolute path, as in file:///var/lib/gantry/blobs", raw)
		}
		return Location{Dir: filepath.Clean(dir)}, nil
	case strings.HasPrefix(raw, "s3://"):
		return parseS3(raw)
	case strings.Contains(raw, "://"):
		return Location{}, fmt.Errorf("%q: unsupported scheme; use a directory, file:///DIR or s3://BUCKET/PREFIX?endpoint=HOST:PORT", raw)
	default:
		return Location{Dir: filepath.Clean(raw)}, nil
	}
}

func parseS3(raw string) (Location, error) {
	const form = "s3://BUCKET[/PREFIX][?endpoint=HOST:PORT&region=REGION&insecure=true&path-style=true]"
	u, err := url.Parse(raw)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		// ue.Error() would repeat raw, credentials included.
		return Location{}, fmt.Errorf("not a URL (%v); the form is %s", ue.Err, form)
	}
	if err != nil {
		return Location{}, fmt.Errorf("not a URL; the form is %s", form)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("%q: credentials do not belong in the URL; use --s3-access-key and --s3-secret-key-file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", redact(u))
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("%q: no bucket; the form is %s", raw, form)
	}
	if err := s3utils.CheckValidBucketNameStrict(u.Host); err != nil {
		return Location{}, fmt.Errorf("%q: bucket %q: %v", raw, u.Host, err)
	}
	cfg := &S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if cfg.Prefix != "" {
		if err := checkKey(cfg.Prefix); err != nil {
			return Location{}, fmt.Errorf("%q: prefix %q must be a clean path such as gantry/blobs", raw, cfg.Prefix)
		}
	}
	q := u.Query()
	for name, vals := range q {
		if !slices.Contains(s3Params, name) {
			return Location{}, fmt.Errorf("%q: unknown parameter %q (known: %s)", raw, name, strings.Join(s3Params, ", "))
		}
		if len(vals) != 1 {
			return Location{}, fmt.Errorf("%q: parameter %q given %d times", raw, name, len(vals))
		}
	}
	cfg.Endpoint = q.Get("endpoint")
	if strings.Contains(cfg.Endpoint, "://") || strings.Contains(cfg.Endpoint, "/") {
		return Location{}, fmt.Errorf("%q: endpoint=%q must be HOST[:PORT] without a scheme or path (add insecure=true for plain HTTP)", raw, cfg.Endpoint)
	}
	cfg.Region = q.Get("region")
	for name, dst := range map[string]*bool{"insecure": &cfg.Insecure, "path-style": &cfg.PathStyle} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Location{}, fmt.Errorf("%q: %s=%q must be true or false", raw, name, v)
			}
			*dst = b
		}
	}
	return Location{S3: cfg}, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// backend is what Store forwards to: FS or S3.
type backend interface {
	PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (PutResult, error)
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (PutResult, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	String() string
}

// Store is the blob store the configuration selected.
type Store struct {
	b backend
}

// Open builds the backend cfg selects; for S3 it checks that the bucket
// is reachable with the credentials.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*Store, error) {
	loc, err := cfg.Parse()
	if err != nil {
		return nil, fmt.Errorf("blob store %w", err)
	}
	if loc.S3 == nil {
		fs, err := NewFS(loc.Dir)
		if err != nil {
			return nil, err
		}
		return &Store{b: fs}, nil
	}
	s3cfg := *loc.S3
	s3cfg.AccessKey, s3cfg.SecretKey = cfg.AccessKey, cfg.SecretKey
	s3, err := NewS3(ctx, s3cfg, log)
	if err != nil {
		return nil, err
	}
	return &Store{b: s3}, nil
}

// String describes the store for logs.
func (s *Store) String() string { return s.b.String() }

// PutContentAddressed stores r under prefix/<sha256><suffix> (see
// FS.PutContentAddressed).
func (s *Store) PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (PutResult, error) {
	return s.b.PutContentAddressed(ctx, prefix, suffix, r, maxBytes)
}

// Put stores r under key once wholly written (see FS.Put).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (PutResult, error) {
	return s.b.Put(ctx, key, r, maxBytes)
}

// Open opens the blob at key; a missing one is ErrNotFound.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.b.Open(ctx, key)
}

// Delete removes the blob at key; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.b.Delete(ctx, key)
}

// List yields the blobs whose keys start with prefix.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return s.b.List(ctx, prefix)
}
