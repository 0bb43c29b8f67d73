// Package tests holds Gantry's end-to-end tests: the real binaries, the
// real embedded etcd, real gRPC and the real Docker engine.
package tests

import (
	"fmt"
	"os"
	"testing"

	"github.com/gantry-ci/gantry/tests/harness"
)

func TestMain(m *testing.M) {
	if err := harness.BuildTestImages(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	harness.CleanupBinaries()
	os.Exit(code)
}
