package mask

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// reference masks text in one pass, the slow obvious way: at each byte
// the longest pattern starting there, else the byte itself.
func reference(text []byte, secrets []string) []byte {
	pats := patterns(secrets)
	var out []byte
	for i := 0; i < len(text); {
		n := 0
		for _, p := range pats {
			if len(p) > n && bytes.HasPrefix(text[i:], []byte(p)) {
				n = len(p)
			}
		}
		if n == 0 {
			out = append(out, text[i])
			i++
			continue
		}
		out = append(out, Replacement...)
		i += n
	}
	return out
}

// maskChunks writes text in the given chunk sizes (the rest in one
// write), flushes, and returns the output.
func maskChunks(t testing.TB, secrets []string, text []byte, sizes ...int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := New(&out, secrets)
	write := func(p []byte) {
		n, err := w.Write(p)
		if err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	for _, n := range sizes {
		n = min(n, len(text))
		write(text[:n])
		text = text[n:]
	}
	if len(text) > 0 {
		write(text)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Pending() != 0 {
		t.Fatalf("Pending() = %d after Flush", w.Pending())
	}
	return out.Bytes()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var maskCases = []struct {
	name    string
	secrets []string
	in      string
	want    string
}{
	{name: "no secrets", in: "plain\nlog\n", want: "plain\nlog\n"},
	{name: "only empty secrets", secrets: []string{"", ""}, in: "plain\n", want: "plain\n"},
	{name: "middle", secrets: []string{"hunter2"}, in: "pw=hunter2;\n", want: "pw=[MASKED];\n"},
	{name: "start and end", secrets: []string{"tok"}, in: "tok and tok", want: "[MASKED] and [MASKED]"},
	{name: "whole input", secrets: []string{"tok"}, in: "tok", want: "[MASKED]"},
	{name: "adjacent", secrets: []string{"ab"}, in: "ababa", want: "[MASKED][MASKED]a"},
	{name: "duplicates", secrets: []string{"ab", "ab", ""}, in: "xaby", want: "x[MASKED]y"},
	{name: "overlap leftmost wins", secrets: []string{"abc", "bcd"}, in: "abcd", want: "[MASKED]d"},
	{name: "overlap later start", secrets: []string{"bcd", "abcx"}, in: "abcd", want: "a[MASKED]"},
	{name: "prefix longest wins", secrets: []string{"abc", "abcdef"}, in: "abcdefg", want: "[MASKED]g"},
	{name: "prefix longer one incomplete", secrets: []string{"abc", "abcdef"}, in: "abcdeX", want: "[MASKED]deX"},
	{name: "prefix at end", secrets: []string{"abc", "abcdef"}, in: "xabcde", want: "x[MASKED]de"},
	{name: "nested", secrets: []string{"b", "abc"}, in: "abd abc b", want: "a[MASKED]d [MASKED] [MASKED]"},
	{name: "near miss", secrets: []string{"secret"}, in: "secre secrex ssecret", want: "secre secrex s[MASKED]"},
	{name: "self overlapping", secrets: []string{"aab"}, in: "aaaab", want: "aa[MASKED]"},
	{name: "newline in secret", secrets: []string{"a\nb"}, in: "a\na\nb\n", want: "a\n[MASKED]\n"},
	{name: "binary", secrets: []string{"\x00\xff"}, in: "\x00\x00\xff\xff", want: "\x00[MASKED]\xff"},
	{name: "replacement creates text", secrets: []string{"ASK"}, in: "ASK", want: "[MASKED]"},
	{name: "base64 exact", secrets: []string{"hunter2!"}, in: "x " + b64("hunter2!") + "\n", want: "x [MASKED]\n"},
	// echo adds a newline, which changes the encoding's last character.
	{name: "base64 echo", secrets: []string{"hunter2!"}, in: b64("hunter2!\n") + "\n", want: "[MASKED]" + b64("hunter2!\n")[10:] + "\n"},
	{name: "base64 of aligned length", secrets: []string{"abcdef"}, in: b64("abcdef\n"), want: "[MASKED]" + b64("abcdef\n")[8:]},
	{name: "short secret no base64", secrets: []string{"abc"}, in: b64("abc"), want: b64("abc")},
}

func TestMask(t *testing.T) {
	for _, tc := range maskCases {
		t.Run(tc.name, func(t *testing.T) {
			got := maskChunks(t, tc.secrets, []byte(tc.in))
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if ref := reference([]byte(tc.in), tc.secrets); string(ref) != tc.want {
				t.Fatalf("reference got %q, want %q (bad test case)", ref, tc.want)
			}
		})
	}
}

// TestMaskEverySplit writes each case in two and three chunks at every
// split point, and byte by byte.
func TestMaskEverySplit(t *testing.T) {
	for _, tc := range maskCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			for i := 0; i <= len(in); i++ {
				if got := maskChunks(t, tc.secrets, in, i); string(got) != tc.want {
					t.Fatalf("split at %d: got %q, want %q", i, got, tc.want)
				}
				for j := i; j <= len(in); j++ {
					if got := maskChunks(t, tc.secrets, in, i, j-i); string(got) != tc.want {
						t.Fatalf("split at %d and %d: got %q, want %q", i, j, got, tc.want)
					}
				}
			}
			ones := make([]int, len(in))
			for i := range ones {
				ones[i] = 1
			}
			if got := maskChunks(t, tc.secrets, in, ones...); string(got) != tc.want {
				t.Fatalf("byte by byte: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNoSecretsIsPassthrough(t *testing.T) {
	in := make([]byte, 1<<16)
	for i := range in {
		in[i] = byte(i * 7)
	}
	var out bytes.Buffer
	w := New(&out, nil)
	for p := in; len(p) > 0; p = p[min(len(p), 1000):] {
		if _, err := w.Write(p[:min(len(p), 1000)]); err != nil {
			t.Fatal(err)
		}
		if w.Pending() != 0 {
			t.Fatalf("Pending() = %d with no secrets", w.Pending())
		}
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatal("output differs from input")
	}
}

// TestHoldsBackOnlySecretPrefixes checks what a live log follower sees
// after each write.
func TestHoldsBackOnlySecretPrefixes(t *testing.T) {
	secrets := []string{"hunter2", "hunter2-long", "\nEND"}
	steps := []struct {
		write   string
		out     string // all output so far
		pending int
	}{
		{"a line\n", "a line", 1},                                // "\n" starts the secret "\nEND"
		{"x", "a line\nx", 0},                                    // no longer
		{" hun", "a line\nx ", 3},                                // could be hunter2
		{"ter", "a line\nx ", 6},                                 //
		{"2", "a line\nx ", 7},                                   // hunter2, but hunter2-long may follow
		{"-lo", "a line\nx ", 10},                                //
		{"st\n", "a line\nx [MASKED]-lost", 1},                   // hunter2 it was
		{"next line\n", "a line\nx [MASKED]-lost\nnext line", 1}, //
		{"EN", "a line\nx [MASKED]-lost\nnext line", 3},
		{"D", "a line\nx [MASKED]-lost\nnext line[MASKED]", 0},
		{"hunter", "a line\nx [MASKED]-lost\nnext line[MASKED]", 6},
	}
	var out bytes.Buffer
	w := New(&out, secrets)
	for _, st := range steps {
		if _, err := w.Write([]byte(st.write)); err != nil {
			t.Fatal(err)
		}
		if out.String() != st.out || w.Pending() != st.pending {
			t.Fatalf("after writing %q: output %q, Pending %d; want %q, %d", st.write, out.String(), w.Pending(), st.out, st.pending)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "a line\nx [MASKED]-lost\nnext line[MASKED]hunter"; out.String() != want {
		t.Fatalf("after Flush: %q, want %q", out.String(), want)
	}
}

func TestSecretAtStreamEndIsFlushed(t *testing.T) {
	var out bytes.Buffer
	w := New(&out, []string{"tok", "token"})
	_, _ = w.Write([]byte("last: t"))
	_, _ = w.Write([]byte("ok"))
	if out.String() != "last: " || w.Pending() != 3 {
		t.Fatalf("before Flush: %q, Pending %d", out.String(), w.Pending())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "last: [MASKED]" {
		t.Fatalf("after Flush: %q", out.String())
	}
	// The stream may go on after a Flush.
	_, _ = w.Write([]byte(" token\n"))
	_ = w.Flush()
	if out.String() != "last: [MASKED] [MASKED]\n" {
		t.Fatalf("after more: %q", out.String())
	}
}

type failWriter struct{ n int }

var errDisk = errors.New("disk gone")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errDisk
	}
	f.n--
	return len(p), nil
}

func TestUnderlyingErrorIsSticky(t *testing.T) {
	for _, secrets := range [][]string{nil, {"tok"}} {
		w := New(&failWriter{n: 1}, secrets)
		if n, err := w.Write([]byte("ok\n")); n != 3 || err != nil {
			t.Fatalf("first Write = %d, %v", n, err)
		}
		if n, err := w.Write([]byte("a tok\n")); n != 0 || !errors.Is(err, errDisk) {
			t.Fatalf("failing Write = %d, %v; want 0, %v", n, err, errDisk)
		}
		if _, err := w.Write([]byte("more")); !errors.Is(err, errDisk) {
			t.Fatalf("later Write: %v", err)
		}
		if err := w.Flush(); !errors.Is(err, errDisk) {
			t.Fatalf("Flush: %v", err)
		}
	}
}

// unmaskedSecret returns a pattern that occurs in out without touching
// a Replacement, or "".
func unmaskedSecret(out []byte, secrets []string) string {
	var covered []bool
	for _, p := range patterns(secrets) {
		for i := 0; ; {
			k := bytes.Index(out[i:], []byte(p))
			if k < 0 {
				break
			}
			k += i
			if covered == nil {
				covered = make([]bool, len(out)+1)
				for j := 0; ; {
					r := bytes.Index(out[j:], []byte(Replacement))
					if r < 0 {
						break
					}
					for x := j + r; x < j+r+len(Replacement); x++ {
						covered[x] = true
					}
					j += r + 1
				}
			}
			touches := false
			for x := k; x < k+len(p); x++ {
				touches = touches || covered[x]
			}
			if !touches {
				return p
			}
			i = k + 1
		}
	}
	return ""
}

func FuzzMask(f *testing.F) {
	f.Add([]byte("pw=hunter2 hunter2-long aHVudGVyMi1sb25n\n"), "hunter2", "hunter2-long", uint64(1))
	f.Add([]byte("abcdabcabcd"), "abc", "bcd", uint64(2))
	f.Add([]byte("aaaaaaaab"), "aab", "aaaaaaaa", uint64(3))
	f.Add([]byte("[MASKED]ASK"), "ASK", "", uint64(4))
	f.Fuzz(func(t *testing.T, in []byte, s1, s2 string, seed uint64) {
		secrets := []string{s1, s2, s1 + s2}
		rnd := rand.New(rand.NewPCG(seed, 0))
		var sizes []int
		for left := len(in); left > 0; {
			n := rnd.IntN(min(left, 16) + 1)
			sizes = append(sizes, n)
			left -= n
		}
		oneShot := maskChunks(t, secrets, in)
		chunked := maskChunks(t, secrets, in, sizes...)
		if !bytes.Equal(chunked, oneShot) {
			t.Fatalf("chunks %v: got %q, one-shot %q", sizes, chunked, oneShot)
		}
		if ref := reference(in, secrets); !bytes.Equal(oneShot, ref) {
			t.Fatalf("one-shot %q, reference %q", oneShot, ref)
		}
		if p := unmaskedSecret(oneShot, secrets); p != "" {
			t.Fatalf("%q survives in %q", p, oneShot)
		}
	})
}

func TestRandomAgainstReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab\nc"
	word := func(max int) string {
		b := make([]byte, 1+rnd.IntN(max))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 2000 {
		var secrets []string
		for range rnd.IntN(5) {
			secrets = append(secrets, word(8))
		}
		in := []byte(word(80))
		want := reference(in, secrets)
		var sizes []int
		for left := len(in); left > 0; {
			n := 1 + rnd.IntN(min(left, 10))
			sizes = append(sizes, n)
			left -= n
		}
		if got := maskChunks(t, secrets, in, sizes...); !bytes.Equal(got, want) {
			t.Fatalf("secrets %q, input %q, chunks %v: got %q, want %q", secrets, in, sizes, got, want)
		}
	}
}

func TestManySecretsAgainstReference(t *testing.T) {
	log, secrets := benchLog(64<<10, 50)
	want := reference(log, secrets)
	if bytes.Equal(want, log) {
		t.Fatal("the log has no secrets (bad test)")
	}
	for _, chunk := range []int{1, 7, 4096, len(log)} {
		var sizes []int
		for n := 0; n < len(log); n += chunk {
			sizes = append(sizes, chunk)
		}
		if got := maskChunks(t, secrets, log, sizes...); !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: output differs from the reference", chunk)
		}
	}
}

// benchLog returns about size bytes of log lines with a secret now and
// then, and the secrets.
func benchLog(size, nsecrets int) ([]byte, []string) {
	rnd := rand.New(rand.NewPCG(7, 7))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secrets := make([]string, nsecrets)
	for i := range secrets {
		b := make([]byte, 20+rnd.IntN(21))
		for j := range b {
			b[j] = alnum[rnd.IntN(len(alnum))]
		}
		secrets[i] = string(b)
	}
	words := strings.Fields("Step 1/12 : RUN go build ./... ok github.com/gantry-ci/gantry/runner 0.412s --- PASS: TestShipper (0.01s) Downloading sha256:4f4fb700ef54 100% |==========| Compiling serde v1.0.210 warning: unused variable `x` npm WARN deprecated")
	var buf bytes.Buffer
	for line := 0; buf.Len() < size; line++ {
		fmt.Fprintf(&buf, "%05d ", line)
		for range 3 + rnd.IntN(10) {
			buf.WriteString(words[rnd.IntN(len(words))])
			buf.WriteByte(' ')
		}
		if line%50 == 0 {
			buf.WriteString(secrets[rnd.IntN(len(secrets))])
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes(), secrets
}

func BenchmarkMask(b *testing.B) {
	log, secrets := benchLog(8<<20, 50)
	for _, bc := range []struct {
		name    string
		secrets []string
		chunk   int
	}{
		{"no-secrets/32KiB", nil, 32 << 10},
		{"50-secrets/32KiB", secrets, 32 << 10},
		{"50-secrets/4KiB", secrets, 4 << 10},
		{"50-secrets/100B", secrets, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(log)))
			b.ReportAllocs()
			for b.Loop() {
				w := New(io.Discard, bc.secrets)
				for p := log; len(p) > 0; {
					n := min(len(p), bc.chunk)
					_, _ = w.Write(p[:n])
					p = p[n:]
				}
				_ = w.Flush()
			}
		})
	}
}

// BenchmarkMaskAdversarial feeds text that keeps the automaton deep: a
// long secret of one repeated byte and a log of that byte.
func BenchmarkMaskAdversarial(b *testing.B) {
	secret := strings.Repeat("a", 60) + "b"
	log := bytes.Repeat([]byte("a"), 8<<20)
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		w := New(io.Discard, []string{secret, "aab", "a"})
		for p := log; len(p) > 0; {
			n := min(len(p), 32<<10)
			_, _ = w.Write(p[:n])
			p = p[n:]
		}
		_ = w.Flush()
	}
}
