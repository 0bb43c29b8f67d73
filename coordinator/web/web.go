package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Pipeline is the part of gantryv1.PipelineServiceClient the dashboard
// calls.
type Pipeline interface {
	ListRuns(ctx context.Context, in *gantryv1.ListRunsRequest, opts ...grpc.CallOption) (*gantryv1.ListRunsResponse, error)
	GetRun(ctx context.Context, in *gantryv1.GetRunRequest, opts ...grpc.CallOption) (*gantryv1.GetRunResponse, error)
	WatchRun(ctx context.Context, in *gantryv1.WatchRunRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[gantryv1.WatchRunResponse], error)
	FollowLog(ctx context.Context, in *gantryv1.FollowLogRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[gantryv1.FollowLogResponse], error)
}

// Admin is the part of gantryv1.AdminServiceClient the dashboard calls.
type Admin interface {
	ListRunners(ctx context.Context, in *gantryv1.ListRunnersRequest, opts ...grpc.CallOption) (*gantryv1.ListRunnersResponse, error)
	DrainRunner(ctx context.Context, in *gantryv1.DrainRunnerRequest, opts ...grpc.CallOption) (*gantryv1.DrainRunnerResponse, error)
	ListPendingJobs(ctx context.Context, in *gantryv1.ListPendingJobsRequest, opts ...grpc.CallOption) (*gantryv1.ListPendingJobsResponse, error)
}

// Options tunes the dashboard.
type Options struct {
	// AdminToken, when set, shows the runners' drain buttons; a drain must
	// carry it. Empty means no drain from the dashboard.
	AdminToken string
	// PollInterval is how often the live runs list, queue and runners
	// pages re-read the API, which has no watch for them (default 2s).
	PollInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler serves the dashboard. Mount it at "/".
type Handler struct {
	pipeline Pipeline
	admin    Admin
	opts     Options
	log      *zap.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	assets   assets

	statsMu sync.Mutex
	stats   *waitStatsView
}

var _ http.Handler = (*Handler)(nil)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// requestTimeout bounds the API calls of one page.
const requestTimeout = 15 * time.Second

// New returns the dashboard reading through pipeline and admin (in the
// coordinator, clients of its own gRPC listener).
func New(pipeline Pipeline, admin Admin, opts Options, log *zap.Logger) *Handler {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{pipeline: pipeline, admin: admin, opts: opts, log: log, assets: newAssets()}
	h.pages = parsePages()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.runsPage)
	mux.HandleFunc("GET /runs/events", h.runsEvents)
	mux.HandleFunc("GET /runs/{run}", h.runPage)
	mux.HandleFunc("GET /runs/{run}/events", h.runEvents)
	mux.HandleFunc("GET /runs/{run}/jobs/{job}", h.jobPage)
	mux.HandleFunc("GET /runs/{run}/jobs/{job}/events", h.jobEvents)
	mux.HandleFunc("GET /runs/{run}/jobs/{job}/log/events", h.logEvents)
	mux.HandleFunc("GET /runs/{run}/jobs/{job}/raw", h.rawLog)
	mux.HandleFunc("GET /jobs/{job}", h.findJob)
	mux.HandleFunc("GET /queue", h.queuePage)
	mux.HandleFunc("GET /queue/events", h.queueEvents)
	mux.HandleFunc("GET /runners", h.runnersPage)
	mux.HandleFunc("GET /runners/events", h.runnersEvents)
	// A drain is a POST: cross-origin ones (CSRF) are refused before the
	// admin token is even read.
	mux.Handle("POST /runners/{runner}/drain", http.NewCrossOriginProtection().Handler(http.HandlerFunc(h.drain)))
	mux.HandleFunc("GET /static/{file}", h.static)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "no such page")
	})
	h.mux = mux
	return h
}

// ServeHTTP serves the dashboard with headers that confine what a page
// may load: its own scripts and styles only, no inline ones, no framing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// page is what the layout template renders around a page's content.
type page struct {
	Title  string
	Nav    string
	Assets assets
	Data   any
}

// render writes a whole page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, "layout", page{Title: title, Nav: name, Assets: h.assets, Data: data}); err != nil {
		h.log.Error("render page", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = b.WriteTo(w)
}

// fragment renders one named template of a page, for live updates.
func (h *Handler) fragment(pageName, name string, data any) (string, error) {
	var b strings.Builder
	if err := h.pages[pageName].ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// fail writes an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.WriteHeader(code)
	var b bytes.Buffer
	if err := h.pages["error"].ExecuteTemplate(&b, "layout", page{Title: http.StatusText(code), Assets: h.assets, Data: errorView{Code: code, Status: http.StatusText(code), Message: msg}}); err != nil {
		h.log.Error("render error page", zap.Error(err))
		return
	}
	_, _ = b.WriteTo(w)
}

// failAPI writes the error page for a failed API call, with the HTTP
// status that matches its gRPC code.
func (h *Handler) failAPI(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the browser left
	}
	code := http.StatusInternalServerError
	switch status.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument:
		code = http.StatusBadRequest
	case codes.FailedPrecondition:
		code = http.StatusConflict
	case codes.Unavailable:
		code = http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		code = http.StatusGatewayTimeout
	}
	if code == http.StatusInternalServerError {
		h.log.Warn("dashboard API call failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
	msg := err.Error()
	if s, ok := status.FromError(err); ok {
		msg = s.Message()
	}
	h.fail(w, r, code, msg)
}

type errorView struct {
	Code            int
	Status, Message string
}

var funcs = template.FuncMap{
	"statusClass": statusClass,
}

// parsePages parses every page: the layout and shared fragments, plus the
// page's own file. The templates are embedded, so an error is a bug.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/log.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"runs", "run", "job", "queue", "runners", "error"} {
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	return pages
}

// assets are the static files' URLs, each with a hash of its content so
// that browsers may cache them for good.
type assets struct {
	CSS, ANSICSS, JS string
	files            map[string][]byte
}

func newAssets() assets {
	a := assets{files: map[string][]byte{"ansi.css": []byte(ansiCSS())}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err) // embedded
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		a.files[e.Name()] = b
	}
	url := func(name string) string {
		sum := sha256.Sum256(a.files[name])
		return "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
	}
	a.CSS, a.ANSICSS, a.JS = url("style.css"), url("ansi.css"), url("app.js")
	return a
}

func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, ok := h.assets.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(b)
}

// apiContext bounds the API calls of one page.
func apiContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}
