// Package health is the readiness side both binaries share: the /readyz
// handler, and the healthcheck subcommand that probes it for container
// images without curl.
package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/pkg/config"
)

// Ready serves a readiness check (/readyz): 200 and "ok" when check
// passes, else 503 and what failed. check gets the request's context.
func Ready(check func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := check(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// ReadyURL is the /readyz URL of a server listening on listen
// (--http-listen): a wildcard host is reached on the loopback interface.
func ReadyURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--http-listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// Probe gets url (a /readyz) and returns nil when it answers 200 within
// timeout, else what went wrong.
func Probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Command is the healthcheck subcommand of a binary: exit 0 when its
// /readyz answers 200, 1 when not. what names the binary ("coordinator"),
// ready says what readiness means, port is its usual HTTP port for the
// examples. --http-listen takes GANTRY_HTTP_LISTEN like the server's flag.
func Command(what, ready, port string) *cobra.Command {
	var url, listen string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:           "healthcheck",
		Short:         fmt.Sprintf("Exit 0 when the %s is ready (%s), 1 when not", what, ready),
		Example:       fmt.Sprintf("  healthcheck --http-listen :%s\n  healthcheck --url http://127.0.0.1:%s/readyz --timeout 2s", port, port),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Apply(cmd.Flags(), ""); err != nil {
				return err
			}
			if url == "" {
				if listen == "" {
					return fmt.Errorf("give --url or --http-listen")
				}
				var err error
				if url, err = ReadyURL(listen); err != nil {
					return err
				}
			}
			return Probe(cmd.Context(), url, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", fmt.Sprintf("readiness URL to check, e.g. http://127.0.0.1:%s/readyz", port))
	f.StringVar(&listen, "http-listen", "", fmt.Sprintf("the %s's --http-listen address, to check its /readyz", what))
	f.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}
