package source

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// PackOptions tunes Pack.
type PackOptions struct {
	// Exclude holds slash-separated glob patterns in path.Match syntax. A
	// pattern is matched against the path relative to the root and against
	// each path element; a matching file is skipped, a matching directory is
	// skipped with everything below it. A trailing "/" and a leading "./" are
	// ignored, so "node_modules/" and "./build" work as expected.
	Exclude []string
	// MaxBytes, if > 0, bounds the total size of the regular files packed.
	// Pack fails with an error wrapping ErrTooLarge once it is exceeded.
	MaxBytes int64
}

// Pack writes the tree rooted at dir to w as a gzip-compressed tar and
// reports what it packed.
//
// The archive is deterministic for a given tree: entries come in lexical walk
// order (each directory before its contents, siblings sorted by name), names
// are relative and slash-separated without a leading "./" (directories end in
// "/"), owners are uid/gid 0 with no user or group names, modification times
// are kept to the second, and the gzip header carries no name or time.
//
// Regular files keep their permission bits, directories are included (so
// empty ones survive), and symbolic links are stored as links with their
// target unchanged, never followed. Sockets, devices and fifos are skipped.
// The root itself has no entry.
//
// Pack reads dir through an os.Root, so a file swapped for a symlink while
// packing cannot make it read outside dir. On error the data already written
// to w is not a valid archive.
func Pack(ctx context.Context, dir string, w io.Writer, opts PackOptions) (Stats, error) {
	var st Stats
	if err := ctx.Err(); err != nil {
		return st, err
	}
	excl, err := compileExcludes(opts.Exclude)
	if err != nil {
		return st, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, fmt.Errorf("source: pack: %w", err)
	}
	defer root.Close()

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	p := &packer{ctx: ctx, root: root, tw: tw, exclude: excl, max: opts.MaxBytes, st: &st}
	if err := fs.WalkDir(root.FS(), ".", p.visit); err != nil {
		return st, err
	}
	if err := tw.Close(); err != nil {
		return st, fmt.Errorf("source: pack: %w", err)
	}
	if err := gz.Close(); err != nil {
		return st, fmt.Errorf("source: pack: %w", err)
	}
	return st, nil
}

type packer struct {
	ctx     context.Context
	root    *os.Root
	tw      *tar.Writer
	exclude []string
	max     int64
	st      *Stats
}

func (p *packer) visit(name string, d fs.DirEntry, err error) error {
	if err != nil {
		return fmt.Errorf("source: pack %q: %w", name, err)
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if excluded(p.exclude, name) {
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	}
	info, err := d.Info() // Lstat: links are not followed.
	if err != nil {
		return fmt.Errorf("source: pack %q: %w", name, err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(info.Mode().Perm()),
		ModTime: info.ModTime().Truncate(time.Second),
	}
	switch info.Mode().Type() {
	case 0:
		return p.packFile(hdr, info.Size())
	case fs.ModeDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := p.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("source: pack %q: %w", name, err)
		}
		p.st.Dirs++
	case fs.ModeSymlink:
		target, err := p.root.Readlink(name)
		if err != nil {
			return fmt.Errorf("source: pack %q: %w", name, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode = 0o777
		if err := p.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("source: pack %q: %w", name, err)
		}
		p.st.Symlinks++
	default:
		// Sockets, devices, fifos: nothing a build can use from an archive.
	}
	return nil
}

func (p *packer) packFile(hdr *tar.Header, size int64) error {
	if p.max > 0 && size > p.max-p.st.Bytes {
		return fmt.Errorf("%w: %q brings the packed size to %d bytes, over the limit of %d bytes",
			ErrTooLarge, hdr.Name, p.st.Bytes+size, p.max)
	}
	f, err := p.root.Open(hdr.Name)
	if err != nil {
		return fmt.Errorf("source: pack %q: %w", hdr.Name, err)
	}
	defer f.Close()
	// The tar header must announce the exact size, so a file that changed
	// since the walk saw it is an error rather than a silently cut copy.
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("source: pack %q: %w", hdr.Name, err)
	}
	if !info.Mode().IsRegular() || info.Size() != size {
		return fmt.Errorf("source: pack %q: file changed while packing", hdr.Name)
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = size
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("source: pack %q: %w", hdr.Name, err)
	}
	if _, err := io.CopyN(p.tw, ctxReader{p.ctx, f}, size); err != nil {
		if ctxErr := p.ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("source: pack %q: %w", hdr.Name, err)
	}
	p.st.Files++
	p.st.Bytes += size
	return nil
}

func compileExcludes(patterns []string) ([]string, error) {
	out := make([]string, 0, len(patterns))
	for _, pat := range patterns {
		clean := strings.TrimSuffix(strings.TrimPrefix(pat, "./"), "/")
		if clean == "" {
			return nil, fmt.Errorf("source: empty exclude pattern %q", pat)
		}
		if _, err := path.Match(clean, ""); err != nil {
			return nil, fmt.Errorf("source: exclude pattern %q: %w", pat, err)
		}
		out = append(out, clean)
	}
	return out, nil
}

// excluded reports whether name matches a pattern as a whole or by its last
// element. Earlier elements need no check: a matching parent directory was
// skipped before the walk got here.
func excluded(patterns []string, name string) bool {
	base := path.Base(name)
	for _, pat := range patterns {
		// Patterns were validated by compileExcludes, so Match cannot fail.
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
		if ok, _ := path.Match(pat, base); ok {
			return true
		}
	}
	return false
}
