package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestApplyPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(file, []byte("name: from-file\ntags: [a, b]\nconcurrency: 3\nlease-ttl: 20s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	name := fs.String("name", "default", "")
	tags := fs.StringSlice("tags", nil, "")
	conc := fs.Int("concurrency", 1, "")
	ttl := fs.Duration("lease-ttl", time.Second, "")
	if err := fs.Parse([]string{"--concurrency=5"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GANTRY_LEASE_TTL", "30s")
	if err := Apply(fs, file); err != nil {
		t.Fatal(err)
	}
	if *name != "from-file" || strings.Join(*tags, ",") != "a,b" || *conc != 5 || *ttl != 30*time.Second {
		t.Fatalf("got name=%q tags=%v concurrency=%d ttl=%s", *name, *tags, *conc, *ttl)
	}
}

func TestApplyErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yml")
	_ = os.WriteFile(file, []byte("nmae: x\n"), 0o600)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("name", "", "")
	if err := Apply(fs, file); err == nil || !strings.Contains(err.Error(), `unknown setting "nmae"`) {
		t.Fatalf("unknown key: err %v", err)
	}
	fs2 := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs2.Int("concurrency", 1, "")
	t.Setenv("GANTRY_CONCURRENCY", "many")
	if err := Apply(fs2, ""); err == nil || !strings.Contains(err.Error(), "GANTRY_CONCURRENCY") {
		t.Fatalf("bad env: err %v", err)
	}
	if err := Apply(fs2, filepath.Join(dir, "missing.yml")); err == nil {
		t.Fatal("bad env still expected to fail")
	}
}
