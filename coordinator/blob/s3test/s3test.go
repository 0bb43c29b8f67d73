// Package s3test starts a real S3-compatible server for tests: versitygw
// over a temporary directory, on a loopback port, stopped and removed
// when the test ends. `make tools` builds the server (pinned in the
// Makefile) and `make test` exports its path as GANTRY_S3_SERVER.
package s3test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// EnvServer names the server binary.
const EnvServer = "GANTRY_S3_SERVER"

// Server is a running S3-compatible server.
type Server struct {
	// Endpoint is its host:port (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are its root credentials.
	AccessKey, SecretKey string
	// Client talks to it with those credentials.
	Client *minio.Client
}

// Binary returns the server binary: $GANTRY_S3_SERVER, else the one
// `make tools` installs. When there is none the test fails under CI=true
// and is skipped otherwise.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvServer)
	if bin == "" {
		_, file, _, _ := runtime.Caller(0)
		bin = filepath.Join(filepath.Dir(file), "..", "..", "..", ".tools", "bin", "versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "no S3 server binary (" + err.Error() + "): run `make tools` to build versitygw, or set " + EnvServer
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Start runs the server until the test ends. Its data directory is a
// temporary directory removed afterwards.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir() // removed after the server is stopped (cleanups run last-in first-out)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	s := &Server{Endpoint: freeAddr(t), AccessKey: "gantry-test", SecretKey: "gantry-test-secret"}
	var out syncBuffer
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", s.Endpoint, "--quiet", "posix", data)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The server must not pick up the developer's settings.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_")
	})
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("---- S3 server output ----\n%s", out.String())
		}
	})

	client, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	s.Client = client
	// Ready when it answers a signed request.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return s
		}
		select {
		case <-exited:
			t.Fatalf("S3 server exited at start:\n%s", out.String())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("S3 server not ready after 30s: %v\n%s", err, out.String())
		}
	}
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Objects lists every object of a bucket under prefix, temporary ones
// included.
func (s *Server) Objects(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range s.Client.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", bucket, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// IncompleteUploads lists the multipart uploads neither completed nor
// aborted.
func (s *Server) IncompleteUploads(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	for u := range s.Client.ListIncompleteUploads(context.Background(), bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list uploads of %s: %v", bucket, u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects the server's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
