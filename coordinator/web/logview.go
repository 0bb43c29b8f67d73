package web

import (
	"bytes"
	"html/template"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// logItemKind says what a logItem is.
type logItemKind string

const (
	itemLine         logItemKind = "line"
	itemSectionStart logItemKind = "start"
	itemSectionEnd   logItemKind = "end"
)

// logItem is one element of a rendered log: a numbered line, the
// numbered header line that opens a collapsible section, or the end of a
// section.
type logItem struct {
	Kind logItemKind
	// N is the line number of a line or a section header.
	N int
	// HTML is the line's or header's text, escaped, with colour spans.
	HTML template.HTML
	// Section is the section's name (start and end).
	Section string
	// Collapsed is a start's [collapsed=true] option.
	Collapsed bool
	// Duration is how long the section took (end, and start when its end
	// is known); "" when unknown.
	Duration string
	// Open marks a start whose end has not come yet: new lines go inside
	// it.
	Open bool
	// startedAt is a start's timestamp, kept to time its end.
	startedAt int64
}

// sectionMarker matches GitLab's collapsible section markers:
// section_start:<unix time>:<name>[options]\r\e[0K and
// section_end:<unix time>:<name>\r\e[0K.
var sectionMarker = regexp.MustCompile(`section_(start|end):(\d+):([A-Za-z0-9_.\-]+)(\[[^\]\r\n]*\])?\r\x1b\[0?K`)

// maxLineBytes bounds a line held while waiting for its newline; longer
// ones are broken, so a log without newlines cannot grow memory unbounded.
const maxLineBytes = 256 << 10

// logRenderer turns a job log, fed in chunks as it arrives, into
// logItems. It carries what lasts across chunks and lines: the partial
// last line, the SGR style, the line count and the open sections.
type logRenderer struct {
	partial []byte
	st      style
	n       int
	open    []*logItem
}

func newLogRenderer() *logRenderer { return &logRenderer{st: plain} }

// Write renders the complete lines of data (with what earlier chunks left
// unfinished); a trailing partial line waits for the next Write or Flush.
func (r *logRenderer) Write(data []byte) []logItem {
	r.partial = append(r.partial, data...)
	var items []logItem
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			if len(r.partial) < maxLineBytes {
				break
			}
			i = maxLineBytes
			items = r.line(string(r.partial[:i]), items)
			r.partial = r.partial[i:]
			continue
		}
		items = r.line(string(bytes.TrimSuffix(r.partial[:i], []byte{'\r'})), items)
		r.partial = r.partial[i+1:]
	}
	if len(r.partial) == 0 {
		r.partial = nil // let the chunks go
	}
	return items
}

// Flush renders the unfinished last line, once the log has ended.
func (r *logRenderer) Flush() []logItem {
	if len(r.partial) == 0 {
		return nil
	}
	line := string(r.partial)
	r.partial = nil
	return r.line(line, nil)
}

// line renders one line, splitting it at section markers.
func (r *logRenderer) line(line string, items []logItem) []logItem {
	var start *logItem // the start whose header is the text after it
	marked := false
	for {
		loc := sectionMarker.FindStringSubmatchIndex(line)
		if loc == nil {
			break
		}
		items = r.segment(line[:loc[0]], start, true, items)
		start, marked = nil, true
		name := line[loc[6]:loc[7]]
		ts, _ := strconv.ParseInt(line[loc[4]:loc[5]], 10, 64)
		if line[loc[2]:loc[3]] == "start" {
			opts := ""
			if loc[8] >= 0 {
				opts = line[loc[8]:loc[9]]
			}
			r.n++
			start = &logItem{Kind: itemSectionStart, N: r.n, Section: name, Collapsed: collapsed(opts), startedAt: ts}
			r.open = append(r.open, start)
		} else {
			items = r.end(name, ts, items)
		}
		line = line[loc[1]:]
	}
	return r.segment(line, start, marked, items)
}

// segment renders text: the header of start when there is one, else a
// numbered line. Next to a section marker (marked), text that shows
// nothing (the erase codes around markers) is no line of its own.
func (r *logRenderer) segment(text string, start *logItem, marked bool, items []logItem) []logItem {
	h, visible := lineHTML(text, &r.st)
	if start != nil {
		start.HTML = template.HTML(h) // escaped by lineHTML
		return append(items, *start)
	}
	if marked && !visible {
		return items
	}
	r.n++
	return append(items, logItem{Kind: itemLine, N: r.n, HTML: template.HTML(h)})
}

// end closes the named section and any opened inside it; an end for a
// section that is not open is dropped.
func (r *logRenderer) end(name string, ts int64, items []logItem) []logItem {
	i := len(r.open) - 1
	for i >= 0 && r.open[i].Section != name {
		i--
	}
	if i < 0 {
		return items
	}
	for j := len(r.open) - 1; j >= i; j-- {
		s := r.open[j]
		items = append(items, logItem{Kind: itemSectionEnd, Section: s.Section, Duration: sectionDuration(s.startedAt, ts)})
	}
	r.open = r.open[:i]
	return items
}

func sectionDuration(start, end int64) string {
	if start <= 0 || end < start {
		return ""
	}
	return formatDuration(time.Duration(end-start) * time.Second)
}

// collapsed reads [collapsed=true] from a start marker's options.
func collapsed(opts string) bool {
	for o := range strings.SplitSeq(strings.Trim(opts, "[]"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
		if k == "collapsed" && v == "true" {
			return true
		}
	}
	return false
}

// fillDurations copies each end's duration onto its start, for a page
// that renders the whole log at once, marks the starts never ended as
// Open, and returns how many those are.
func fillDurations(items []logItem) int {
	var stack []int
	for i := range items {
		switch items[i].Kind {
		case itemSectionStart:
			items[i].Open = true
			stack = append(stack, i)
		case itemSectionEnd:
			if len(stack) > 0 {
				start := &items[stack[len(stack)-1]]
				start.Duration, start.Open = items[i].Duration, false
				stack = stack[:len(stack)-1]
			}
		}
	}
	return len(stack)
}

// renderLog renders a whole log; ended says whether its last line is
// complete (the job ended), else it waits for more.
func renderLog(data []byte, ended bool) []logItem {
	r := newLogRenderer()
	items := r.Write(data)
	if ended {
		items = append(items, r.Flush()...)
	}
	return items
}
