// Package httpapi serves the coordinator's HTTP side: health endpoints,
// Go's profiler and whatever else is mounted (the web dashboard, the
// Prometheus metrics, the readiness check), on an address of its own so
// that operators can keep it off the network runners and users reach.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"
)

// Server is the coordinator's HTTP listener.
type Server struct {
	lis net.Listener
	srv *http.Server
	log *zap.Logger
}

// Mount is a handler served under a pattern of http.ServeMux; the
// built-in endpoints' patterns are more specific, so "/" gets the rest.
type Mount struct {
	Pattern string
	Handler http.Handler
}

// Listen binds addr and builds the handler, with mounts next to the
// built-in endpoints; Serve serves it.
func Listen(addr string, log *zap.Logger, mounts ...Mount) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--http-listen): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	for _, m := range mounts {
		mux.Handle(m.Pattern, m.Handler)
	}
	return &Server{
		lis: lis,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		log: log,
	}, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Serve serves until ctx ends, then shuts down within a few seconds.
func (s *Server) Serve(ctx context.Context) error {
	// Requests' contexts end when the shutdown starts, so long-lived
	// responses (the dashboard's event streams) end instead of holding it
	// up.
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	s.srv.BaseContext = func(net.Listener) context.Context { return base }
	s.srv.RegisterOnShutdown(cancel)
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.lis) }()
	s.log.Info("http listening", zap.String("addr", s.Addr()))
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", serr)
	}
	return err
}
