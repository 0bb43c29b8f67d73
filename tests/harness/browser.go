package harness

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of Debian's chromium, or "" when it is not
// installed (make test installs it).
func Chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts a headless chromium for the test and returns a chromedp
// context for its first tab; chromedp.NewContext on it opens more tabs.
// The browser, its child processes and its profile are gone when the test
// ends. Without chromium the test is skipped, or fails when CI=true.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := Chromium()
	if path == "" {
		const msg = "chromium is not installed (apt-get install chromium, or make test)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		// Tests may run as root, where chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process
	})
	// Start it now: a broken install fails here, not in the middle of a
	// test's steps.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return ctx
}
