// Package mask hides secrets in a job log before it leaves the runner:
// every occurrence of a masked CI variable's value is replaced by
// [MASKED], as GitLab does.
//
// The log is a byte stream written in arbitrary chunks, so a Writer holds
// back the few trailing bytes of a chunk that could be the start of a
// secret until the next chunk (or Flush) decides; all other bytes are
// passed on at once, so live log followers are not delayed.
//
// Where matches overlap, the leftmost wins, and of those starting at the
// same byte the longest; the bytes a replacement covers are not searched
// again.
//
// Besides the literal values, a Writer masks each secret's standard
// base64 encoding (RFC 4648, with padding), because `echo $TOKEN | base64`
// is a common way secrets leak. That command encodes the value followed
// by a newline, which changes the last characters of the encoding, so the
// prefix of the encoding that depends only on the secret is masked too;
// at most the last character before the padding then stays visible, and
// it holds fewer than 6 bits of the secret. Secrets shorter than 6 bytes
// get no base64 forms: theirs would be short enough to mask ordinary
// text. Not covered: a secret encoded somewhere other than at the start
// of the encoded data (such as the password in base64("user:password")),
// encodings split across lines (base64 wraps at 76 characters), and
// other encodings (URL-escaping, hex).
package mask

import (
	"fmt"
	"io"
)

// Replacement is what each occurrence of a secret becomes.
const Replacement = "[MASKED]"

// maxRetained is the largest buffer a Writer keeps between writes; larger
// ones, grown for one big write, are released.
const maxRetained = 64 << 10

// Writer masks secrets in the bytes written to it before passing them on.
// A Writer is not safe for concurrent use; Flush must be called when the
// output ends.
type Writer struct {
	w io.Writer
	m *matcher // nil: no secrets, bytes pass through

	// held are the bytes not yet decided; held[0] is at stream position
	// pos. state is the automaton state after reading held, and best
	// (indexed by stream position modulo len(best)) holds the longest
	// match found so far that starts at each held byte; nbest counts the
	// non-zero entries.
	held  []byte
	pos   int64
	state int32
	best  []int32
	nbest int

	out []byte // the output of one Write when it has replacements
	err error  // the first error of the underlying writer
}

// New returns a Writer that writes to w what is written to it, with
// every occurrence of each secret (and its base64 forms, see the package
// doc) replaced by Replacement. Empty secrets are ignored.
func New(w io.Writer, secrets []string) *Writer {
	mw := &Writer{w: w, m: newMatcher(patterns(secrets))}
	if mw.m != nil {
		ring := 1
		for ring <= mw.m.maxLen {
			ring <<= 1
		}
		mw.best = make([]int32, ring)
	}
	return mw
}

// Write masks p and writes it on, except for trailing bytes that may be
// the start of a secret, which wait for the next Write or Flush. It
// returns len(p) unless the underlying writer fails; after such a
// failure every call returns the same error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.m == nil {
		if err := w.emit(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	text, from := p, 0
	if len(w.held) > 0 {
		from = len(w.held)
		w.held = append(w.held, p...)
		text = w.held
	}
	if err := w.process(text, from, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes the held-back bytes, masked. Call it when the output ends:
// a secret split across a Flush is not recognised.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.held) == 0 {
		return nil
	}
	return w.process(w.held, len(w.held), true)
}

// Pending returns how many bytes are held back.
func (w *Writer) Pending() int { return len(w.held) }

// process scans text[from:] (text[:from] was scanned before and is held),
// writes what is decided and holds the rest. final decides everything:
// the stream ends.
//
// Positions are indexes into text. Everything before cur is decided; the
// bytes text[lit:cur] are decided to be literal but not yet copied to the
// output. The automaton state s always reflects only text[cur:end], so a
// suffix it tracks never starts inside a replaced match.
func (w *Writer) process(text []byte, from int, final bool) error {
	m := w.m
	base := w.pos
	ringMask := int64(len(w.best) - 1)
	s := w.state
	cur, lit := 0, 0
	out := w.out[:0]
	replaced := false

	// resolve decides every byte before limit, where no match can still
	// grow, and after each replacement moves limit as far as the
	// rescanned state allows. end is the scanned length of text.
	resolve := func(end, limit int) {
		for cur < limit {
			if w.nbest == 0 {
				cur = limit
				return
			}
			for cur < limit && w.best[(base+int64(cur))&ringMask] == 0 {
				cur++
			}
			if cur == limit {
				return
			}
			n := int(w.best[(base+int64(cur))&ringMask])
			out = append(out, text[lit:cur]...)
			out = append(out, Replacement...)
			replaced = true
			for k := cur; k < cur+n; k++ {
				if i := (base + int64(k)) & ringMask; w.best[i] != 0 {
					w.best[i] = 0
					w.nbest--
				}
			}
			cur += n
			lit = cur
			// Forget the suffixes that started inside the replacement:
			// the suffix states of s are all the pattern prefixes that
			// end here, longest first.
			for int(m.depth[s]) > end-cur {
				s = m.fail[s]
			}
			if final {
				limit = end
			} else {
				limit = end - int(m.hold[s])
			}
		}
	}

	for i := from; i < len(text); {
		if s == 0 {
			// Nothing is pending: skip to the next byte that can start
			// a pattern.
			for i < len(text) && m.root[text[i]] == 0 {
				i++
			}
			cur = i
			if i == len(text) {
				break
			}
			s = m.root[text[i]]
		} else {
			s = m.step(s, text[i])
		}
		i++
		if m.firstOut[s] == 0 && w.nbest == 0 {
			cur = i - int(m.hold[s]) // what resolve would do
			continue
		}
		for o := m.firstOut[s]; o != 0; o = m.nextOut[o] {
			n := m.depth[o]
			if start := i - int(n); start >= cur {
				k := (base + int64(start)) & ringMask
				if w.best[k] == 0 {
					w.nbest++
				}
				w.best[k] = max(w.best[k], n)
			}
		}
		resolve(i, i-int(m.hold[s]))
	}
	if final {
		resolve(len(text), len(text))
		s = 0
	}

	var err error
	switch {
	case replaced:
		out = append(out, text[lit:cur]...)
		err = w.emit(out)
	case cur > 0:
		err = w.emit(text[:cur])
	}
	if cap(out) <= maxRetained {
		w.out = out[:0]
	} else {
		w.out = nil
	}
	w.pos = base + int64(cur)
	w.state = s
	w.held = append(w.held[:0], text[cur:]...) // may overlap text: copy moves
	if cap(w.held) > maxRetained {
		w.held = append([]byte(nil), w.held...)
	}
	return err
}

// emit writes p to the underlying writer, remembering a failure.
func (w *Writer) emit(p []byte) error {
	n, err := w.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("mask: %w", err)
	}
	return w.err
}
