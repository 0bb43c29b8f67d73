package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Live updates are Server-Sent Events. Each stream runs in its request's
// goroutine and starts none of its own: it ends when the browser leaves
// (the request's context, which also ends the gRPC stream it reads), when
// what it follows ends, or when the HTTP server shuts down. Events:
//
//	update  HTML to put in place of the page's live region
//	log     JSON list of log items to append
//	end     nothing more will change; the page stops listening
//
// A stream cut short by an error just ends: EventSource reconnects after
// the retry delay and the first event brings the page up to date again.

// sseRetry is the reconnection delay the browser is told.
const sseRetry = 3 * time.Second

// sse writes one event stream.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) (*sse, error) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // no buffering in a reverse proxy
	s := &sse{w: w, rc: http.NewResponseController(w)}
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", sseRetry.Milliseconds()); err != nil {
		return nil, err
	}
	return s, s.rc.Flush()
}

// send writes one event; data may hold newlines. id, when not "", is what
// the browser sends back as Last-Event-ID after a reconnection.
func (s *sse) send(event, id, data string) error {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + event + "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// poll serves a live region the API cannot watch (lists of runs, pending
// jobs, runners): it renders it every PollInterval and sends it when it
// changed.
func (h *Handler) poll(w http.ResponseWriter, r *http.Request, render func() (string, error)) {
	s, err := startSSE(w)
	if err != nil {
		return
	}
	t := time.NewTicker(h.opts.PollInterval)
	defer t.Stop()
	last := ""
	for {
		html, err := render()
		switch {
		case r.Context().Err() != nil:
			return
		case err != nil:
			h.log.Debug("live update failed", zap.String("path", r.URL.Path), zap.Error(err))
		case html != last:
			if s.send("update", "", html) != nil {
				return
			}
			last = html
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// watch serves a live region of a run with WatchRun: render turns each
// snapshot into the region's HTML and says whether it is final.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, runID int64, render func(*gantryv1.WatchRunResponse) (html string, final bool, err error)) {
	stream, err := h.pipeline.WatchRun(r.Context(), &gantryv1.WatchRunRequest{RunId: runID})
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	s, err := startSSE(w)
	if err != nil {
		return
	}
	last := ""
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			_ = s.send("end", "", "") // the run ended
			return
		}
		if err != nil {
			h.streamEnded(r, s, err)
			return
		}
		html, final, err := render(m)
		if err != nil {
			h.log.Error("render live update", zap.String("path", r.URL.Path), zap.Error(err))
			return
		}
		if html != last && html != "" {
			if s.send("update", "", html) != nil {
				return
			}
			last = html
		}
		if final {
			_ = s.send("end", "", "")
			return
		}
	}
}

// streamEnded handles a gRPC stream's error: a run or job that does not
// exist will not start to, so the page stops listening; anything else
// (a coordinator restarting) lets the browser reconnect.
func (h *Handler) streamEnded(r *http.Request, s *sse, err error) {
	if r.Context().Err() != nil {
		return
	}
	switch status.Code(err) {
	case codes.NotFound, codes.InvalidArgument:
		_ = s.send("end", "", "")
	default:
		h.log.Debug("live stream interrupted", zap.String("path", r.URL.Path), zap.Error(err))
	}
}

// logEvent is one log item as the script appends it.
type logEvent struct {
	// Kind is "line", "start" or "end".
	Kind string `json:"k"`
	// HTML is a line's or an opening section's element.
	HTML string `json:"h,omitempty"`
	// Duration is an ending section's duration.
	Duration string `json:"d,omitempty"`
}

// logEvents follows a job's log. The page holds the first `from` items
// (or, after a reconnection, as many as the last event's id says); the
// log is rendered from its start, so styles and sections carry over, and
// only the items after those are sent.
func (h *Handler) logEvents(w http.ResponseWriter, r *http.Request) {
	jobID, ok := pathID(r, "job")
	if !ok {
		http.NotFound(w, r)
		return
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	if id, err := strconv.Atoi(r.Header.Get("Last-Event-ID")); err == nil {
		from = id
	}
	stream, err := h.pipeline.FollowLog(r.Context(), &gantryv1.FollowLogRequest{JobId: jobID, Follow: true})
	if err != nil {
		h.failAPI(w, r, err)
		return
	}
	s, err := startSSE(w)
	if err != nil {
		return
	}
	rend := newLogRenderer()
	seen := 0
	send := func(items []logItem) error {
		var out []logEvent
		for _, it := range items {
			seen++
			if seen <= from {
				continue
			}
			ev, err := h.logEvent(it)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		if len(out) == 0 {
			return nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return s.send("log", strconv.Itoa(seen), string(b))
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			h.streamEnded(r, s, err)
			return
		}
		if send(rend.Write(m.GetData())) != nil {
			return
		}
	}
	// The attempt ended: its last line is complete.
	if send(rend.Flush()) == nil {
		_ = s.send("end", "", "")
	}
}

// logEvent renders an item with the page's own templates.
func (h *Handler) logEvent(it logItem) (logEvent, error) {
	switch it.Kind {
	case itemSectionEnd:
		return logEvent{Kind: string(it.Kind), Duration: it.Duration}, nil
	case itemSectionStart:
		it.Open = true
		html, err := h.fragment("job", "logsection", it)
		return logEvent{Kind: string(it.Kind), HTML: html + sectionClose}, err
	}
	html, err := h.fragment("job", "logline", it)
	return logEvent{Kind: string(it.Kind), HTML: html}, err
}

// sectionClose closes the elements "logsection" opens.
const sectionClose = "</div></details>"
