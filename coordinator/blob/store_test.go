package blob

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/gantry-ci/gantry/coordinator/blob/s3test"
)

func TestConfigParse(t *testing.T) {
	cases := []struct {
		url     string
		dir     string // want a filesystem store here
		s3      *S3Config
		wantErr string
	}{
		{url: "", dir: "/data/blobs"},
		{url: "/srv/gantry-blobs/", dir: "/srv/gantry-blobs"},
		{url: "file:///mnt/nfs/blobs", dir: "/mnt/nfs/blobs"},
		{url: "file://relative/dir", wantErr: "absolute path"},
		{url: "s3://ci-blobs", s3: &S3Config{Bucket: "ci-blobs"}},
		{url: "s3://ci-blobs/gantry/prod/?endpoint=minio.internal:9000&region=eu-west-1&insecure=true&path-style=1",
			s3: &S3Config{Bucket: "ci-blobs", Prefix: "gantry/prod", Endpoint: "minio.internal:9000", Region: "eu-west-1", Insecure: true, PathStyle: true}},
		{url: "s3://", wantErr: "no bucket"},
		{url: "s3:///prefix", wantErr: "no bucket"},
		{url: "s3://Bad_Bucket", wantErr: `bucket "Bad_Bucket"`},
		{url: "s3://bkt/x/../y", wantErr: "clean path"},
		{url: "s3://ak:hunter2@bucket", wantErr: "credentials do not belong in the URL"},
		{url: "s3://bucket?endpoint=http://host:9000", wantErr: "without a scheme"},
		{url: "s3://bucket?insecure=maybe", wantErr: "insecure=\"maybe\" must be true or false"},
		{url: "s3://bucket?endpiont=host", wantErr: `unknown parameter "endpiont" (known: endpoint, region, insecure, path-style)`},
		{url: "s3://bucket?region=a&region=b", wantErr: "given 2 times"},
		{url: "gs://bucket", wantErr: "unsupported scheme"},
	}
	for _, c := range cases {
		loc, err := Config{URL: c.url, Dir: "/data/blobs"}.Parse()
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", c.url, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q: the error shows the secret: %v", c.url, err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.url, err)
		case c.s3 != nil:
			if loc.S3 == nil || *loc.S3 != *c.s3 {
				t.Errorf("%q: S3 %+v, want %+v", c.url, loc.S3, c.s3)
			}
		case loc.S3 != nil || loc.Dir != c.dir:
			t.Errorf("%q: %+v, want directory %s", c.url, loc, c.dir)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"artifacts/ab.tar.gz": true, "a": true, "a/.tmp": true, ".tmpx/y": true,
		"": false, "/a": false, "a/": false, "a//b": false, "./a": false, "a/../b": false, "..": false,
		".tmp": false, ".tmp/x": false, `a\b`: false,
	} {
		if err := checkKey(key); (err == nil) != ok {
			t.Errorf("checkKey(%q) = %v, want ok %v", key, err, ok)
		}
	}
}

func TestPartSize(t *testing.T) {
	for max, want := range map[int64]uint64{0: 8 << 20, 1 << 30: 8 << 20, 80 << 30: 9 << 20, 1 << 40: 105 << 20} {
		if got := partSize(max); got != want {
			t.Errorf("partSize(%d) = %d, want %d", max, got, want)
		}
		if got := partSize(max); max > 0 && int64(got)*maxParts < max {
			t.Errorf("partSize(%d) = %d cannot hold the limit in %d parts", max, got, maxParts)
		}
	}
}

// A wrong S3 setting fails at startup with what to fix.
func TestS3StartupCheck(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "present")
	ctx := context.Background()
	good := S3Config{Endpoint: srv.Endpoint, Bucket: "present", Insecure: true, PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	cases := []struct {
		name    string
		edit    func(*S3Config)
		wantErr string
	}{
		{"reachable", func(*S3Config) {}, ""},
		{"missing bucket", func(c *S3Config) { c.Bucket = "absent" }, `S3 bucket "absent" at ` + srv.Endpoint + " does not exist: create it"},
		{"wrong secret", func(c *S3Config) { c.SecretKey = "wrong" }, "refused the credentials"},
		{"TLS to a plain HTTP server", func(c *S3Config) { c.Insecure = false }, "add insecure=true"},
		{"half the credentials", func(c *S3Config) { c.SecretKey = "" }, "both an access key and a secret key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			_, err := NewS3(ctx, cfg, zaptest.NewLogger(t))
			if c.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	t.Run("credentials from the AWS environment", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		cfg := good
		cfg.AccessKey, cfg.SecretKey = "", ""
		if _, err := NewS3(ctx, cfg, zaptest.NewLogger(t)); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		if _, err := NewS3(ctx, cfg, zaptest.NewLogger(t)); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
			t.Fatalf("without credentials: %v", err)
		}
	})
	t.Run("Open selects S3 from the URL", func(t *testing.T) {
		s, err := Open(ctx, Config{URL: "s3://present/from-url?insecure=true&path-style=true&endpoint=" + srv.Endpoint,
			Dir: t.TempDir(), AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("v")), 0); err != nil {
			t.Fatal(err)
		}
		if got := srv.Objects(t, "present", "from-url/"); len(got) != 1 || got[0] != "from-url/k" {
			t.Errorf("objects %q, want from-url/k", got)
		}
		if _, err := s.Open(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("open missing: %v", err)
		}
	})
}

// Nothing listening: the error says to check the endpoint.
func TestS3Unreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the client's retries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3e9)
	defer cancel()
	_, err := NewS3(ctx, S3Config{Endpoint: "127.0.0.1:1", Bucket: "bucket", Insecure: true, AccessKey: "a", SecretKey: "s"}, zaptest.NewLogger(t))
	if err == nil || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "check endpoint=") {
		t.Fatalf("error %v, want cannot reach ... check endpoint=", err)
	}
}
