package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/gantry-ci/gantry/pkg/source"
	"github.com/gantry-ci/gantry/runner/executor"
)

// maxTrailer bounds what is read after an archive's tar end marker to
// verify its gzip checksum, as pkg/source's Unpack does.
const maxTrailer = 1 << 20

// errCopyEnded is what the workspace writer gets once the copy into the
// container returned: the copy's own error is the one to report.
var errCopyEnded = errors.New("copy into the container ended")

// prepareWorkspace creates the workspace directory in the volume, unpacks
// the job's source into it, then its dependencies' artifacts, before the
// job container starts, in a single copy: every copy makes the daemon
// mount the container's filesystem, which costs more than the bytes. A
// dependency that cannot be downloaded or is refused fails with a
// *executor.DependencyError.
func (a *attempt) prepareWorkspace(ctx context.Context, id string) error {
	if a.job.Source == nil && len(a.job.Dependencies) == 0 && !pullsCache(a.job) {
		dirs, err := dirTar(a.project)
		if err != nil {
			return err
		}
		// CopyToContainer mounts the container's volumes, so this writes
		// into the workspace volume even though the container is not running.
		if err := a.cli.CopyToContainer(context.WithoutCancel(ctx), id, a.e.cfg.BuildsDir, dirs, container.CopyToContainerOptions{}); err != nil {
			return fmt.Errorf("creating workspace %s: %w", a.workspace(), err)
		}
		return nil
	}
	var src io.ReadCloser
	if a.job.Source != nil {
		var err error
		if src, err = a.job.Source(ctx); err != nil {
			return fmt.Errorf("fetching job source: %w", err)
		}
		defer src.Close()
	}
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := a.writeWorkspace(ctx, pw, src)
		pw.CloseWithError(err)
		written <- err
	}()
	// Hiding Close keeps the HTTP client from closing the pipe: only the
	// line below does, so the writer's error says who stopped first.
	copyErr := a.cli.CopyToContainer(ctx, id, a.e.cfg.BuildsDir, struct{ io.Reader }{pr}, container.CopyToContainerOptions{})
	pr.CloseWithError(errCopyEnded)
	writeErr := <-written
	switch {
	case writeErr != nil && !errors.Is(writeErr, errCopyEnded):
		return writeErr
	case copyErr != nil:
		return fmt.Errorf("copying the workspace into %s: %w", a.workspace(), copyErr)
	}
	return writeErr
}

// pullsCache reports whether the job restores a cache.
func pullsCache(j *executor.Job) bool {
	for _, c := range j.Caches {
		if c.Policy != "push" {
			return true
		}
	}
	return false
}

// writeWorkspace writes the tar prepareWorkspace copies: the workspace
// directories, the source, then each dependency's artifacts.
func (a *attempt) writeWorkspace(ctx context.Context, w io.Writer, src io.Reader) error {
	t, err := newWorkspaceTar(w, a.project)
	if err != nil {
		return err
	}
	if src != nil {
		if err := t.addSource(src); err != nil {
			return fmt.Errorf("copying job source into %s: %w", a.workspace(), err)
		}
		// What the source held is tracked; the rest is `untracked:`.
		a.tracked = make(map[string]bool, len(t.kinds))
		for name := range t.kinds {
			a.tracked[name] = true
		}
	}
	err = executor.DownloadDependencies(ctx, a.job.Dependencies, a.log, func(_ context.Context, archive io.Reader) error {
		return t.addArtifacts(archive)
	})
	if err != nil {
		return err
	}
	// A cache is checked whole before addArtifacts sees it, so a refusal
	// comes before an entry is written and the tar stays sound.
	err = executor.RestoreCaches(ctx, a.job, a.log, func(_ context.Context, archive io.Reader) error {
		return t.addArtifacts(archive)
	})
	if err != nil {
		return err
	}
	return t.close()
}

// entryKind is what a workspace path is, as the workspace tar made it.
type entryKind uint8

const (
	kindNone entryKind = iota
	kindDir
	kindFile
	kindSymlink
	kindOther
)

func kindOf(typeflag byte) entryKind {
	switch typeflag {
	case tar.TypeDir:
		return kindDir
	case tar.TypeReg, tar.TypeLink, tar.TypeGNUSparse:
		return kindFile
	case tar.TypeSymlink:
		return kindSymlink
	default:
		return kindOther
	}
}

// workspaceTar writes the one tar a new workspace volume is filled from,
// every entry moved under the project directory rel.
//
// The volume is new, so the tar alone decides what the workspace holds:
// workspaceTar records it, and checks each dependency entry against it
// with the rules pkg/source's Unpack applies on the shell executor. A
// dependency is another job's output, so hostile: nothing it holds may
// create, modify or point at a file outside the workspace.
type workspaceTar struct {
	tw  *tar.Writer
	rel string
	// kinds holds what each path (relative to rel) is, so far.
	kinds map[string]entryKind
}

// newWorkspaceTar starts the tar with the directory rel and its parents.
func newWorkspaceTar(w io.Writer, rel string) (*workspaceTar, error) {
	t := &workspaceTar{tw: tar.NewWriter(w), rel: rel, kinds: make(map[string]entryKind)}
	for _, hdr := range dirHeaders(rel) {
		if err := t.tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *workspaceTar) close() error { return t.tw.Close() }

// record notes what name now is, and that its parents are directories.
func (t *workspaceTar) record(name string, kind entryKind) {
	if name == "." {
		return
	}
	t.kinds[name] = kind
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if t.kinds[dir] != kindNone {
			break
		}
		t.kinds[dir] = kindDir
	}
}

// addSource adds the job's source archive (tar or tar.gz). Its entries
// must stay under rel by name; the source is the user's own tree, so its
// links are taken as they are, as they always were on this executor.
func (t *workspaceTar) addSource(src io.Reader) error {
	tr, _, err := openArchive(src)
	if err != nil {
		return fmt.Errorf("source archive: %w", err)
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("source archive: %w", err)
		}
		name, ok := inside(t.rel, hdr.Name)
		if !ok {
			return fmt.Errorf("source archive entry %q leaves the workspace", hdr.Name)
		}
		if clean, ok := localName(hdr.Name); ok {
			t.record(clean, kindOf(hdr.Typeflag))
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeLink {
			if hdr.Linkname, ok = inside(t.rel, hdr.Linkname); !ok {
				return fmt.Errorf("source archive hard link %q leaves the workspace", hdr.Name)
			}
		}
		if err := t.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(t.tw, tr); err != nil {
			return fmt.Errorf("source archive: %w", err)
		}
	}
}

// addArtifacts adds a dependency's artifact archive (tar or tar.gz),
// refusing, before anything of it is written, each entry check refuses.
// Owners, extended attributes and setuid, setgid and sticky bits are
// dropped, as Unpack drops them.
func (t *workspaceTar) addArtifacts(archive io.Reader) error {
	tr, finish, err := openArchive(archive)
	if err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		name, err := t.check(hdr)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		out := &tar.Header{
			Typeflag: hdr.Typeflag,
			Name:     path.Join(t.rel, name),
			Mode:     hdr.Mode & 0o777,
			ModTime:  hdr.ModTime,
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			out.Name += "/"
			out.Mode |= 0o700
		case tar.TypeReg, tar.TypeGNUSparse:
			out.Typeflag, out.Size = tar.TypeReg, hdr.Size
		case tar.TypeSymlink:
			out.Linkname = hdr.Linkname
		case tar.TypeLink:
			target, _ := localName(hdr.Linkname) // checked
			out.Linkname = path.Join(t.rel, target)
		}
		if err := t.tw.WriteHeader(out); err != nil {
			return err
		}
		if out.Typeflag == tar.TypeReg {
			if _, err := io.Copy(t.tw, tr); err != nil {
				return fmt.Errorf("reading the archive: %w", err)
			}
		}
		t.record(name, kindOf(hdr.Typeflag))
	}
	return finish()
}

func unsafeEntry(name, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", source.ErrUnsafePath, name, fmt.Sprintf(format, args...))
}

// check returns the clean name of a dependency entry relative to the
// workspace, "" for an entry to skip, or why it is refused: a name or
// symbolic link leading out of the workspace, an entry beneath a link or
// replacing a directory, a hard link to anything but a regular file of the
// workspace, a device or fifo.
func (t *workspaceTar) check(hdr *tar.Header) (string, error) {
	name, ok := localName(hdr.Name)
	if !ok {
		return "", unsafeEntry(hdr.Name, "path leaves the workspace")
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return "", nil // PAX defaults for later entries; the reader applies what matters.
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink:
	default:
		return "", unsafeEntry(hdr.Name, "entry type %q is not allowed", hdr.Typeflag)
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return "", nil // the workspace itself
		}
		return "", unsafeEntry(hdr.Name, "entry names the workspace itself")
	}
	if err := t.checkParents(hdr.Name, name); err != nil {
		return "", err
	}
	if t.kinds[name] == kindDir && hdr.Typeflag != tar.TypeDir {
		return "", unsafeEntry(hdr.Name, "would replace a directory")
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if !executor.LinkStaysInside(name, hdr.Linkname) {
			return "", unsafeEntry(hdr.Name, "symlink target %q leaves the workspace", hdr.Linkname)
		}
	case tar.TypeLink:
		target, ok := localName(hdr.Linkname)
		if !ok || target == "." {
			return "", unsafeEntry(hdr.Name, "hard link target %q leaves the workspace", hdr.Linkname)
		}
		if err := t.checkParents(hdr.Name, target); err != nil {
			return "", err
		}
		if t.kinds[target] != kindFile {
			return "", unsafeEntry(hdr.Name, "hard link target %q is not a regular file of the workspace", hdr.Linkname)
		}
	}
	return name, nil
}

// checkParents refuses name when one of its parents is not a directory:
// nothing is written through a link.
func (t *workspaceTar) checkParents(entry, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		switch t.kinds[name[:i]] {
		case kindNone, kindDir:
		case kindSymlink:
			return unsafeEntry(entry, "parent %q is a symbolic link", name[:i])
		default:
			return unsafeEntry(entry, "parent %q is not a directory", name[:i])
		}
	}
	return nil
}

// localName cleans a relative entry name; ok is false for absolute names
// and names climbing out with "..". "." is the workspace itself.
func localName(name string) (string, bool) {
	if name == "" || path.IsAbs(name) {
		return "", false
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

// inside joins name under rel, refusing absolute names and ones climbing
// out with "..".
func inside(rel, name string) (string, bool) {
	clean, ok := localName(name)
	if !ok {
		return "", false
	}
	joined := path.Join(rel, clean)
	if strings.HasSuffix(name, "/") {
		joined += "/"
	}
	return joined, true
}

// openArchive reads a tar, gzip-compressed or not (it sniffs the gzip
// magic). finish reads what follows the tar's end marker so that gzip
// verifies its checksum, catching corruption that happened to parse.
func openArchive(r io.Reader) (tr *tar.Reader, finish func() error, err error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return tar.NewReader(br), func() error { return nil }, nil
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, err
	}
	finish = func() error {
		n, err := io.Copy(io.Discard, io.LimitReader(gz, maxTrailer+1))
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if n > maxTrailer {
			return fmt.Errorf("more than %d bytes after the end of the archive", maxTrailer)
		}
		return nil
	}
	return tar.NewReader(gz), finish, nil
}

// dirHeaders are the directory rel and its parents. They are
// world-writable, as GitLab Runner makes its checkouts (umask 0000), so
// images running as a non-root user can write to their workspace.
func dirHeaders(rel string) []*tar.Header {
	var hdrs []*tar.Header
	parts := strings.Split(rel, "/")
	for i := range parts {
		hdrs = append(hdrs, &tar.Header{
			Typeflag: tar.TypeDir,
			Name:     path.Join(parts[:i+1]...) + "/",
			Mode:     0o777,
			ModTime:  time.Now(),
		})
	}
	return hdrs
}

// dirTar returns a tar holding the directory rel and its parents.
func dirTar(rel string) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, hdr := range dirHeaders(rel) {
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("building workspace tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("building workspace tar: %w", err)
	}
	return &buf, nil
}
