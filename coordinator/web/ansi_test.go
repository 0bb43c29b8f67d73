package web

import (
	"strings"
	"testing"
)

func TestLineHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
		visible        bool
	}{
		{"plain text", "hello", "hello", true},
		{"escaped", `<b>&"x"</b>`, "&lt;b&gt;&amp;&#34;x&#34;&lt;/b&gt;", true},
		{"basic foreground then reset", "\x1b[31mred\x1b[0m plain", `<span class="fg-1">red</span> plain`, true},
		{"bright foreground", "\x1b[92mok", `<span class="fg-10">ok</span>`, true},
		{"background", "\x1b[41mbg\x1b[49mx", `<span class="bg-1">bg</span>x`, true},
		{"bright background", "\x1b[104mbg", `<span class="bg-12">bg</span>`, true},
		{"bold and colour in one sequence", "\x1b[32;1m$ make\x1b[0;m", `<span class="fg-2 bold">$ make</span>`, true},
		{"empty parameter is reset", "\x1b[1mA\x1b[mB", `<span class="bold">A</span>B`, true},
		{"default foreground keeps bold", "\x1b[1;33mA\x1b[39mB", `<span class="fg-3 bold">A</span><span class="bold">B</span>`, true},
		{"normal intensity", "\x1b[1;2mA\x1b[22mB", `<span class="bold faint">A</span>B`, true},
		{"italic and underline on and off", "\x1b[3;4mA\x1b[23;24mB", `<span class="italic uline">A</span>B`, true},
		{"256 colours", "\x1b[38;5;208mA\x1b[48;5;17mB", `<span class="fg-208">A</span><span class="fg-208 bg-17">B</span>`, true},
		{"256 colours with colons", "\x1b[38:5:9mA", `<span class="fg-9">A</span>`, true},
		{"truecolour maps to the nearest cube colour", "\x1b[38;2;255;0;0mA", `<span class="fg-196">A</span>`, true},
		{"truecolour grey maps to the grey ramp", "\x1b[48;2;128;128;128mA", `<span class="bg-244">A</span>`, true},
		{"malformed extended colour is ignored", "\x1b[38;5mA", "A", true},
		{"unchanged style opens no span", "\x1b[31mA\x1b[31mB", `<span class="fg-1">AB</span>`, true},
		{"unknown SGR ignored", "\x1b[5;31mA", `<span class="fg-1">A</span>`, true},
		{"other CSI sequences dropped", "\x1b[2K\x1b[1Gtext\x1b[?25l", "text", true},
		{"OSC hyperlink dropped", "\x1b]8;;https://x\x07link\x1b]8;;\x1b\\", "link", true},
		{"carriage return overwrites", "10%\r50%\r100%", "100%", true},
		{"carriage return then nothing keeps the text", "done\r\x1b[0K", "done", true},
		{"control characters dropped, tab kept", "a\bb\tc\x07", "ab\tc", true},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb", true},
		{"blank", "   ", "   ", false},
		{"only escapes", "\x1b[0K", "", false},
		{"truncated escape", "a\x1b[31", "a", true},
		{"escape at end", "a\x1b", "a", true},
		{"markup inside colour escaped", "\x1b[31m<script>", `<span class="fg-1">&lt;script&gt;</span>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := plain
			got, visible := lineHTML(tt.in, &st)
			if got != tt.want || visible != tt.visible {
				t.Errorf("lineHTML(%q) = %q, %v; want %q, %v", tt.in, got, visible, tt.want, tt.visible)
			}
		})
	}
}

func TestStyleLastsAcrossLines(t *testing.T) {
	st := plain
	first, _ := lineHTML("\x1b[33mwarning: one", &st)
	second, _ := lineHTML("two\x1b[0m three", &st)
	if first != `<span class="fg-3">warning: one</span>` || second != `<span class="fg-3">two</span> three` {
		t.Errorf("got %q and %q", first, second)
	}
	if st != plain {
		t.Errorf("style after reset = %+v, want plain", st)
	}
}

func TestNearest256(t *testing.T) {
	tests := []struct {
		r, g, b int
		want    int16
	}{
		{0, 0, 0, 16},
		{255, 255, 255, 231},
		{95, 135, 175, 67},
		{8, 8, 8, 232},
		{238, 238, 238, 255},
	}
	for _, tt := range tests {
		if got := nearest256(tt.r, tt.g, tt.b); got != tt.want {
			t.Errorf("nearest256(%d,%d,%d) = %d, want %d", tt.r, tt.g, tt.b, got, tt.want)
		}
	}
}

func TestANSICSSHasEveryClass(t *testing.T) {
	css := ansiCSS()
	for _, c := range []string{".fg-0{", ".fg-15{", ".fg-255{", ".bg-0{", ".bg-255{"} {
		if !strings.Contains(css, c) {
			t.Errorf("ansi.css lacks %s", c)
		}
	}
	if got := palette256(196); got != "#ff0000" {
		t.Errorf("palette256(196) = %s, want #ff0000", got)
	}
	if got := palette256(244); got != "#808080" {
		t.Errorf("palette256(244) = %s, want #808080", got)
	}
}

func FuzzLineHTML(f *testing.F) {
	for _, s := range []string{"\x1b[31;1mx\x1b[0m", "a\rb", "\x1b]8;;u\x07l", "\x1b[38;2;1;2;3m<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := plain
		out, _ := lineHTML(s, &st)
		// Whatever comes in, the only markup out is our spans.
		rest := strings.NewReplacer(`</span>`, "").Replace(out)
		for {
			i := strings.Index(rest, `<span class="`)
			if i < 0 {
				break
			}
			j := strings.Index(rest[i:], `">`)
			if j < 0 {
				t.Fatalf("unterminated span in %q", out)
			}
			rest = rest[:i] + rest[i+j+2:]
		}
		if strings.ContainsAny(rest, "<>\x1b") {
			t.Fatalf("lineHTML(%q) = %q: unescaped markup or escape left", s, out)
		}
		if strings.Count(out, "<span") != strings.Count(out, "</span>") {
			t.Fatalf("unbalanced spans in %q", out)
		}
	})
}
