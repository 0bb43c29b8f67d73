package source

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// UnpackOptions tunes Unpack.
type UnpackOptions struct {
	// MaxBytes, if > 0, bounds the total size of the regular files extracted.
	// Unpack fails with an error wrapping ErrTooLarge before writing the first
	// file that would exceed it.
	MaxBytes int64
}

// maxTrailer bounds the data read after the tar end marker to verify the
// gzip checksum. Real tools pad with at most a few KiB.
const maxTrailer = 1 << 20

// Unpack extracts a tar archive, gzip-compressed or not (it sniffs the gzip
// magic), into dir, creating dir if it is missing.
//
// Entries are refused with an error that names the entry and wraps
// ErrUnsafePath when they are:
//   - absolute, or named with ".." elements that leave dir;
//   - symbolic links with an absolute target, or with a relative target that
//     climbs out of dir. A ".." is only accepted before the first normal
//     element of a target ("../lib/x", not "lib/../x"): behind an element
//     that is itself a symlink, ".." would not mean what it says lexically;
//   - hard links to anything but a regular file already inside dir;
//   - beneath a symbolic link: no entry is written through a link, whether
//     the archive made it or it was already in dir;
//   - replacing a directory with a file or link;
//   - character or block devices, fifos, or of a type Unpack does not know.
//
// Together these keep every symlink Unpack creates pointing inside dir. They
// assume symlinks already present in dir are trusted: Unpack never writes
// through them, but a link it creates may name a path that goes through one.
// Unpack into an empty directory to avoid the question.
//
// Regular files keep their permission bits without setuid, setgid and
// sticky, and their modification time (best effort). Directories keep their
// permission bits plus owner read, write and search, so the tree can always
// be filled and removed. An existing file, or link, is replaced, never
// written into. Owners recorded in the archive are ignored.
//
// Unpack checks ctx between entries and between reads of r; a Read blocked
// in r is not interrupted, so a caller whose r may block forever should close
// it on cancellation.
//
// On error, entries extracted before the failing one stay in dir, but a file
// cut short by the error is removed, so every file left in dir is complete.
// Callers should discard dir when Unpack fails.
func Unpack(ctx context.Context, r io.Reader, dir string, opts UnpackOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br := bufio.NewReader(ctxReader{ctx, r})
	magic, err := br.Peek(2)
	switch {
	case len(magic) == 0 && errors.Is(err, io.EOF):
		return errors.New("source: unpack: empty archive")
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("source: unpack: %w", err)
	}
	var gz *gzip.Reader
	var tr *tar.Reader
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if gz, err = gzip.NewReader(br); err != nil {
			return fmt.Errorf("source: unpack: %w", err)
		}
		tr = tar.NewReader(gz)
	} else {
		tr = tar.NewReader(br)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("source: unpack: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("source: unpack: %w", err)
	}
	defer root.Close()

	u := &unpacker{root: root, max: opts.MaxBytes, dirs: make(map[string]bool)}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("source: unpack: read archive: %w", err)
		}
		if err := u.extract(hdr, tr); err != nil {
			return err
		}
	}
	if gz != nil {
		// Reading the compressed stream to its end makes gzip verify its
		// checksum, catching corruption that happened to parse as tar.
		n, err := io.Copy(io.Discard, io.LimitReader(gz, maxTrailer+1))
		if err != nil {
			return fmt.Errorf("source: unpack: read archive: %w", err)
		}
		if n > maxTrailer {
			return fmt.Errorf("source: unpack: more than %d bytes after the end of the archive", maxTrailer)
		}
	}
	return nil
}

type unpacker struct {
	root  *os.Root
	max   int64
	total int64
	// dirs holds directories known to be real directories, not links. It
	// stays true because Unpack never replaces a directory.
	dirs map[string]bool
}

func unsafeEntry(name, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrUnsafePath, name, fmt.Sprintf(format, args...))
}

func (u *unpacker) extract(hdr *tar.Header, r io.Reader) error {
	name, err := localName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX defaults for later entries; the reader applies what matters.
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return unsafeEntry(hdr.Name, "device or fifo entries are not allowed")
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink:
	default:
		return unsafeEntry(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil // "./": the destination itself, which Unpack does not chmod.
		}
		return unsafeEntry(hdr.Name, "entry names the destination directory itself")
	}
	if err := u.walkParents(hdr.Name, name, true); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.makeDir(hdr, name)
	case tar.TypeSymlink:
		return u.makeSymlink(hdr, name)
	case tar.TypeLink:
		return u.makeHardLink(hdr, name)
	default:
		return u.writeFile(hdr, name, r)
	}
}

// localName cleans an entry name and refuses names that are absolute or climb
// out of the destination. The result is slash-separated; "." is the
// destination itself.
func localName(name string) (string, error) {
	if name == "" {
		return "", unsafeEntry(name, "empty name")
	}
	if path.IsAbs(name) || filepath.IsAbs(filepath.FromSlash(name)) {
		return "", unsafeEntry(name, "absolute path")
	}
	clean := path.Clean(name)
	if clean == "." {
		return clean, nil
	}
	// IsLocal also refuses what only another OS would treat as escaping
	// (volume names, reserved names on Windows).
	if clean == ".." || strings.HasPrefix(clean, "../") || !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", unsafeEntry(name, "path leaves the destination")
	}
	return clean, nil
}

// walkParents checks that every parent of name is a real directory, never a
// symlink, creating missing ones when create is set. entry is the raw entry
// name, for errors.
func (u *unpacker) walkParents(entry, name string, create bool) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		dir := name[:i]
		if u.dirs[dir] {
			continue
		}
		// dir's own parents were checked by earlier iterations, so the
		// lookup cannot go through a link.
		fi, err := u.root.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := u.root.Mkdir(dir, 0o755); err != nil {
				return fmt.Errorf("source: unpack %q: %w", entry, err)
			}
		case err != nil:
			return fmt.Errorf("source: unpack %q: %w", entry, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return unsafeEntry(entry, "parent %q is a symbolic link", dir)
		case !fi.IsDir():
			return fmt.Errorf("source: unpack %q: parent %q is not a directory", entry, dir)
		}
		u.dirs[dir] = true
	}
	return nil
}

// clear removes whatever non-directory is at name so a new file or link can
// take its place without writing through an existing link or hard link.
func (u *unpacker) clear(entry, name string) error {
	fi, err := u.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("source: unpack %q: %w", entry, err)
	case fi.IsDir():
		return unsafeEntry(entry, "would replace a directory")
	}
	if err := u.root.Remove(name); err != nil {
		return fmt.Errorf("source: unpack %q: %w", entry, err)
	}
	return nil
}

func (u *unpacker) makeDir(hdr *tar.Header, name string) error {
	if fi, err := u.root.Lstat(name); err != nil || !fi.IsDir() {
		// A file or link in the way is replaced, as tar does.
		if err := u.clear(hdr.Name, name); err != nil {
			return err
		}
		if err := u.root.Mkdir(name, 0o700); err != nil {
			return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
		}
	}
	// Owner rwx always: a 0555 directory could not be filled by later
	// entries nor removed by the runner's cleanup.
	mode := fs.FileMode(hdr.Mode).Perm() | 0o700
	if err := u.root.Chmod(name, mode); err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	u.dirs[name] = true
	return nil
}

func (u *unpacker) makeSymlink(hdr *tar.Header, name string) error {
	if err := checkLinkTarget(hdr.Name, name, hdr.Linkname); err != nil {
		return err
	}
	if err := u.clear(hdr.Name, name); err != nil {
		return err
	}
	if err := u.root.Symlink(hdr.Linkname, name); err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	return nil
}

// checkLinkTarget refuses a symlink target that could resolve outside the
// destination. Leading ".." elements may climb no higher than the
// destination, and none may follow a normal element: after a normal element,
// which may itself be a link, ".." would be resolved from wherever that link
// points, not lexically. With every link so checked and no link ever replacing
// a directory, each link resolves to a parent of its own real directory and
// then descends, so links made by Unpack cannot lead out of it.
func checkLinkTarget(entry, name, target string) error {
	if target == "" {
		return unsafeEntry(entry, "empty symlink target")
	}
	if path.IsAbs(target) || filepath.IsAbs(filepath.FromSlash(target)) || filepath.VolumeName(filepath.FromSlash(target)) != "" {
		return unsafeEntry(entry, "symlink target %q is absolute", target)
	}
	depth := strings.Count(name, "/") // name is clean: its parent's depth.
	climbing := true
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "", ".":
		case "..":
			if !climbing {
				return unsafeEntry(entry, "symlink target %q has \"..\" after a path element", target)
			}
			depth--
			if depth < 0 {
				return unsafeEntry(entry, "symlink target %q leaves the destination", target)
			}
		default:
			climbing = false
		}
	}
	return nil
}

func (u *unpacker) makeHardLink(hdr *tar.Header, name string) error {
	old, err := localName(hdr.Linkname)
	if err != nil {
		return unsafeEntry(hdr.Name, "hard link target %q leaves the destination", hdr.Linkname)
	}
	if old == "." {
		return unsafeEntry(hdr.Name, "hard link to the destination directory")
	}
	if err := u.walkParents(hdr.Name, old, false); err != nil {
		return err
	}
	fi, err := u.root.Lstat(old)
	if err != nil {
		return fmt.Errorf("source: unpack %q: hard link target: %w", hdr.Name, err)
	}
	if !fi.Mode().IsRegular() {
		return unsafeEntry(hdr.Name, "hard link target %q is not a regular file", hdr.Linkname)
	}
	if old == name {
		return nil // A link to itself: the file is already there.
	}
	if err := u.clear(hdr.Name, name); err != nil {
		return err
	}
	if err := u.root.Link(old, name); err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	return nil
}

func (u *unpacker) writeFile(hdr *tar.Header, name string, r io.Reader) (err error) {
	if hdr.Size < 0 {
		return fmt.Errorf("source: unpack %q: negative size", hdr.Name)
	}
	if u.max > 0 && hdr.Size > u.max-u.total {
		return fmt.Errorf("%w: %q brings the extracted size to %d bytes, over the limit of %d bytes",
			ErrTooLarge, hdr.Name, u.total+hdr.Size, u.max)
	}
	if err := u.clear(hdr.Name, name); err != nil {
		return err
	}
	// O_EXCL: name was just cleared, so this creates a new file and cannot
	// open one a link points to.
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			u.root.Remove(name) // Best effort: the error being returned matters more.
		}
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("source: unpack %q: wrote %d bytes, header says %d", hdr.Name, n, hdr.Size)
	}
	// Chmod, not the create mode: the umask must not change the archive's bits.
	if err := f.Chmod(fs.FileMode(hdr.Mode).Perm()); err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("source: unpack %q: %w", hdr.Name, err)
	}
	u.total += n
	if !hdr.ModTime.IsZero() {
		// Best effort: a time the file system cannot store is no reason to
		// fail the job. A zero access time leaves it unchanged.
		_ = u.root.Chtimes(name, hdr.AccessTime, hdr.ModTime)
	}
	return nil
}
