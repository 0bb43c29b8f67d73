package web

import (
	"fmt"
	"strings"
	"testing"
)

// brief writes items compactly: "1:text", "[2:name+header" (start, + when
// collapsed), "]name 5s" (end with its duration).
func brief(items []logItem) string {
	var out []string
	for _, it := range items {
		switch it.Kind {
		case itemLine:
			out = append(out, fmt.Sprintf("%d:%s", it.N, it.HTML))
		case itemSectionStart:
			c := ":"
			if it.Collapsed {
				c = "+"
			}
			s := fmt.Sprintf("[%d%s%s%s", it.N, c, it.Section, it.HTML)
			if it.Duration != "" {
				s += " " + it.Duration
			}
			out = append(out, s)
		case itemSectionEnd:
			out = append(out, strings.TrimSpace("]"+it.Section+" "+it.Duration))
		}
	}
	return strings.Join(out, " | ")
}

func TestRenderLog(t *testing.T) {
	const esc = "\x1b[0K"
	tests := []struct {
		name  string
		in    string
		ended bool
		want  string
	}{
		{"numbered lines", "a\nb\n", true, "1:a | 2:b"},
		{"empty lines keep their numbers", "a\n\nb\n", true, "1:a | 2: | 3:b"},
		{"CRLF", "a\r\nb\r\n", true, "1:a | 2:b"},
		{"partial last line waits while the job runs", "a\nb", false, "1:a"},
		{"partial last line shown once the job ended", "a\nb", true, "1:a | 2:b"},
		{
			"GitLab section",
			"section_start:100:build\r" + esc + "Building\nstep 1\nsection_end:103:build\r" + esc + "\nafter\n", true,
			"[1:buildBuilding 3s | 2:step 1 | ]build 3s | 3:after",
		},
		{
			"collapsed section with erase codes around markers",
			esc + "section_start:100:deps[collapsed=true]\r" + esc + "\x1b[36mInstalling\x1b[0m\nx\n" + esc + "section_end:100:deps\r" + esc + "\n", true,
			`[1+deps<span class="fg-6">Installing</span> <1s | 2:x | ]deps <1s`,
		},
		{
			"nested sections, outer end closes the inner",
			"section_start:1:outer\r" + esc + "O\nsection_start:2:inner\r" + esc + "I\nin\nsection_end:5:outer\r" + esc + "\n", true,
			"[1:outerO 4s | [2:innerI 3s | 3:in | ]inner 3s | ]outer 4s",
		},
		{
			"end of a section never opened is dropped",
			"a\nsection_end:5:nope\r" + esc + "\nb\n", true,
			"1:a | 2:b",
		},
		{
			"end and start on one line, text after an end",
			"section_start:1:a\r" + esc + "A\nsection_end:2:a\r" + esc + "section_start:2:b\r" + esc + "B\nsection_end:4:b\r" + esc + "tail\n", true,
			"[1:aA 1s | ]a 1s | [2:bB 2s | ]b 2s | 3:tail",
		},
		{"unclosed section stays open", "section_start:1:s\r" + esc + "S\nx\n", true, "[1:sS | 2:x"},
		{"marker without the erase code is text", "section_start:1:s\nx\n", true, "1:section_start:1:s | 2:x"},
		{"markup in a section name cannot match", "section_start:1:<b>\r" + esc + "\n", true, "1:section_start:1:&lt;b&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := renderLog([]byte(tt.in), tt.ended)
			fillDurations(items)
			if got := brief(items); got != tt.want {
				t.Errorf("renderLog(%q):\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// Fed in arbitrary chunks, the renderer gives the same items as fed at
// once: the live log and the page agree.
func TestLogRendererChunksAgree(t *testing.T) {
	log := "\x1b[32;1m$ echo hi\x1b[0;m\nhi\nsection_start:1:s[collapsed=true]\r\x1b[0K\x1b[1mS\x1b[0m\n\x1b[31mred\nstill red\x1b[0m\nsection_end:2:s\r\x1b[0K\n10%\r100%\nend"
	whole := brief(renderLog([]byte(log), true))
	for size := 1; size <= len(log); size++ {
		r := newLogRenderer()
		var items []logItem
		for i := 0; i < len(log); i += size {
			items = append(items, r.Write([]byte(log[i:min(i+size, len(log))]))...)
		}
		items = append(items, r.Flush()...)
		if got := brief(items); got != whole {
			t.Fatalf("chunks of %d:\n got %s\nwant %s", size, got, whole)
		}
	}
}

func TestLogRendererBreaksHugeLines(t *testing.T) {
	r := newLogRenderer()
	items := r.Write([]byte(strings.Repeat("x", maxLineBytes+10)))
	if len(items) != 1 || len(items[0].HTML) != maxLineBytes {
		t.Fatalf("got %d items", len(items))
	}
	if rest := r.Flush(); len(rest) != 1 || len(rest[0].HTML) != 10 {
		t.Fatalf("flush: %v", rest)
	}
}

func FuzzRenderLog(f *testing.F) {
	f.Add([]byte("section_start:1:a[collapsed=true]\r\x1b[0Kh\nx\nsection_end:2:a\r\x1b[0K\n"), 3)
	f.Add([]byte("\x1b[31mred\r\nplain\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		whole := renderLog(data, true)
		r := newLogRenderer()
		var items []logItem
		for i := 0; i < len(data); i += chunk {
			items = append(items, r.Write(data[i:min(i+chunk, len(data))])...)
		}
		items = append(items, r.Flush()...)
		if brief(items) != brief(whole) {
			t.Fatalf("chunked rendering differs")
		}
		depth, n := 0, 0
		for _, it := range items {
			switch it.Kind {
			case itemSectionStart:
				depth++
			case itemSectionEnd:
				depth--
			}
			if depth < 0 {
				t.Fatal("a section ended more often than it started")
			}
			if it.Kind != itemSectionEnd {
				n++
				if it.N != n {
					t.Fatalf("line numbers not consecutive: %d after %d", it.N, n-1)
				}
			}
		}
	})
}
