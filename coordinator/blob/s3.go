package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.uber.org/zap"
)

// S3Config locates a bucket of an S3-compatible object store.
type S3Config struct {
	// Endpoint is host[:port] (default s3.amazonaws.com).
	Endpoint string
	// Bucket holds the blobs; it must exist.
	Bucket string
	// Prefix, if set, is prepended (with a slash) to every key, so that
	// one bucket can serve several installations.
	Prefix string
	// Region is the bucket's region ("": asked from the server).
	Region string
	// Insecure speaks plain HTTP instead of HTTPS.
	Insecure bool
	// PathStyle addresses the bucket in the path instead of the host
	// name (most self-hosted servers want it; the default is automatic).
	PathStyle bool
	// AccessKey and SecretKey sign requests; when both are empty the
	// standard AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and
	// AWS_SESSION_TOKEN) environment variables are used.
	AccessKey string
	SecretKey string
}

const (
	// minPartSize is the part size of multipart uploads: the memory one
	// upload holds. S3 allows 10,000 parts, so it grows for larger limits.
	minPartSize = 8 << 20
	maxParts    = 10000
	// cleanupTimeout bounds removing a temporary object after a failure,
	// when the caller's context may have ended already.
	cleanupTimeout = 30 * time.Second
)

// partSize is the multipart part size for a put of at most maxBytes.
func partSize(maxBytes int64) uint64 {
	size := int64(minPartSize)
	if need := (maxBytes + maxParts - 1) / maxParts; need > size {
		size = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	return uint64(size)
}

// S3 is a blob store in a bucket of an S3-compatible object store (AWS
// S3, MinIO, versitygw, Ceph RGW, ...). Uploads are streamed as multipart
// uploads, which S3 makes visible only once complete; content-addressed
// blobs are uploaded to a temporary key (under .tmp/), then copied
// server-side to their digest's key.
type S3 struct {
	client *minio.Client
	cfg    S3Config
	root   string // "" or Prefix + "/"
	log    *zap.Logger
}

// NewS3 connects to the bucket and checks that it is reachable with the
// credentials given, so that a wrong setting fails at startup with an
// error saying what to fix.
func NewS3(ctx context.Context, cfg S3Config, log *zap.Logger) (*S3, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "s3.amazonaws.com"
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	creds, err := s3Credentials(cfg)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region, BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &S3{client: client, cfg: cfg, log: log}
	if cfg.Prefix != "" {
		s.root = cfg.Prefix + "/"
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func s3Credentials(cfg S3Config) (*credentials.Credentials, error) {
	switch {
	case cfg.AccessKey != "" && cfg.SecretKey != "":
		return credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), nil
	case cfg.AccessKey != "" || cfg.SecretKey != "":
		return nil, errors.New("S3 credentials need both an access key and a secret key")
	}
	creds := credentials.NewEnvAWS()
	if v, err := creds.Get(); err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return nil, errors.New("no S3 credentials: set --s3-access-key and --s3-secret-key-file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return creds, nil
}

// check makes one signed request to the bucket and explains a failure.
func (s *S3) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	where := fmt.Sprintf("S3 bucket %q at %s", s.cfg.Bucket, s.cfg.Endpoint)
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err == nil && !ok {
		return fmt.Errorf("%s does not exist: create it, or correct the bucket in the S3 URL", where)
	}
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	var netErr net.Error
	switch {
	case resp.StatusCode == 403 || resp.Code == minio.AccessDenied || resp.Code == "SignatureDoesNotMatch" || resp.Code == "InvalidAccessKeyId":
		return fmt.Errorf("%s refused the credentials (%v): check the access key and secret key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and the bucket's permissions", where, err)
	case resp.StatusCode == 301 || resp.Code == "AuthorizationHeaderMalformed" || resp.Code == "PermanentRedirect":
		return fmt.Errorf("%s is in another region (%v): set region= in the S3 URL", where, err)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s speaks plain HTTP: add insecure=true to the S3 URL (%v)", where, err)
	case errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach %s (%v): check endpoint= in the S3 URL, and insecure=true for a plain HTTP server", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// String describes the store for logs.
func (s *S3) String() string {
	return fmt.Sprintf("s3 bucket %s prefix %q at %s", s.cfg.Bucket, s.cfg.Prefix, s.cfg.Endpoint)
}

func (s *S3) object(key string) string { return s.root + key }

// PutContentAddressed stores r under prefix/<sha256><suffix>, returning its
// digest. Identical contents share one blob. At most maxBytes are accepted
// (0 means no limit). The bytes go to a temporary object first, copied to
// their key on the server once the digest is known and then removed, so
// the key never names a partial blob.
func (s *S3) PutContentAddressed(ctx context.Context, prefix, suffix string, r io.Reader, maxBytes int64) (PutResult, error) {
	if err := checkContentKey(prefix, suffix); err != nil {
		return PutResult{}, err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	tmp := s.object(tmpDir + "/" + hex.EncodeToString(rnd[:]))
	defer s.removeTemp(ctx, tmp)
	res, err := s.upload(ctx, tmp, r, maxBytes)
	if err != nil {
		return PutResult{}, err
	}
	obj := s.object(contentKey(prefix, suffix, res.SHA256))
	if info, err := s.client.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{}); err == nil && info.Size == res.Size {
		return res, nil // the same bytes are stored already
	}
	// ComposeObject copies in one request up to 5 GiB and as a multipart
	// copy beyond; the bytes never come back through the coordinator.
	_, err = s.client.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: obj},
		minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: tmp})
	if err != nil {
		return PutResult{}, fmt.Errorf("copy blob to %s: %w", obj, err)
	}
	return res, nil
}

// Put stores r under key, replacing what was there once r is wholly
// written (readers never see a partial blob). At most maxBytes are
// accepted (0 means no limit).
func (s *S3) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (PutResult, error) {
	if err := checkKey(key); err != nil {
		return PutResult{}, err
	}
	return s.upload(ctx, s.object(key), r, maxBytes)
}

// upload streams r to obj as a multipart upload, holding one part in
// memory. On any failure the client aborts the upload (even when ctx has
// ended), so no object and no parts are left.
func (s *S3) upload(ctx context.Context, obj string, r io.Reader, maxBytes int64) (PutResult, error) {
	m := newMeter(ctx, r, maxBytes)
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, obj, m, -1, minio.PutObjectOptions{
		PartSize: partSize(maxBytes), ContentType: "application/octet-stream",
	})
	if m.tooLarge {
		return PutResult{}, m.errTooLarge()
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return PutResult{}, fmt.Errorf("upload blob: %w", cerr)
		}
		return PutResult{}, fmt.Errorf("upload blob to %s: %w", obj, err)
	}
	return m.result(), nil
}

// removeTemp removes a temporary object, also when ctx has ended; a
// failure only leaves garbage under .tmp/ (see docs/adr/0007).
func (s *S3) removeTemp(ctx context.Context, obj string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		s.log.Warn("temporary blob not removed", zap.String("bucket", s.cfg.Bucket), zap.String("object", obj), zap.Error(err))
	}
}

// Open opens the blob at key. The returned reader streams the object;
// the request is made here, so a missing key is ErrNotFound at once.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, s.object(key), minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
		if err != nil {
			obj.Close()
		}
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return obj, nil
}

// Delete removes the blob at key. Removing a missing blob is not an
// error.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.object(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// List yields the blobs whose keys start with prefix, in the server's
// (lexical) order; blobs being written are not listed.
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(Info{}, err)
			return
		}
		// Stopping early must end the listing's goroutine.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.object(prefix), Recursive: true}) {
			if o.Err != nil {
				yield(Info{}, fmt.Errorf("list blobs under %q: %w", prefix, o.Err))
				return
			}
			key := strings.TrimPrefix(o.Key, s.root)
			if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
				continue
			}
			if !yield(Info{Key: key, Size: o.Size, ModTime: o.LastModified}, nil) {
				return
			}
		}
	}
}
