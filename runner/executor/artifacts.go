package executor

import (
	"archive/tar"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/gantry-ci/gantry/pkg/pipeline"
)

// The pieces below move job artifacts, shared by every executor: the
// dependencies' archives a job downloads before its script, and the
// archive of its own artifacts it uploads after after_script. Each
// executor supplies only what differs: how to read its workspace and how
// to unpack into it.

// ErrArtifactsTooLarge is returned (wrapped) when an artifact archive
// outgrows Job.MaxArtifactBytes.
var ErrArtifactsTooLarge = errors.New("artifacts are too large")

// ArtifactsWanted reports whether a job keeps the artifacts spec selects
// after ending with outcome o: on success by default, on a failure
// (script failure, timeout, system failure) with `when: on_failure`, on
// either with `when: always`. A canceled job keeps none: canceling stops
// the job, uploading included, as in GitLab.
func ArtifactsWanted(spec *Artifacts, o Outcome) bool {
	if spec == nil || o == OutcomeCanceled {
		return false
	}
	switch spec.When {
	case "always":
		return true
	case "on_failure":
		return o != OutcomeSuccess
	default: // "" and "on_success"; pipelines with other values are refused upstream.
		return o == OutcomeSuccess
	}
}

// LinkStaysInside reports whether a symbolic link named name (clean,
// slash-separated, relative to a directory) with target stays inside that
// directory, by the rule pkg/source's Unpack applies: the target is
// relative, and its leading ".." elements climb no higher than the
// directory, with no ".." after a normal element (which may itself be a
// link, so ".." would not mean what it says). Artifacts hold only such
// links, so that every archive a job uploads can be unpacked.
func LinkStaysInside(name, target string) bool {
	if target == "" || path.IsAbs(target) {
		return false
	}
	depth := strings.Count(name, "/") // the depth of name's directory
	climbing := true
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "", ".":
		case "..":
			depth--
			if !climbing || depth < 0 {
				return false
			}
		default:
			climbing = false
		}
	}
	return true
}

// artifactPattern is one glob of artifacts:paths or artifacts:exclude.
type artifactPattern struct {
	raw  string // as the job wrote it, for log lines
	glob string // clean and relative to the workspace; "." is all of it
	// untracked, when set, makes this the `untracked: true` pattern: it
	// matches what the job's source did not hold (see UseTracked).
	untracked *trackedSet
}

// trackedSet says which workspace names came from the job's source.
type trackedSet struct {
	tracked func(name string) bool // nil: the executor cannot tell
}

// matches reports whether name matches the glob as pipeline.MatchGlob
// matches it, except that a trailing `**` matches everything beneath the
// directory before it, and that directory, as GitLab Runner's artifact
// globs (doublestar) do: `exclude: [node_modules/**]` drops all of it.
func (p artifactPattern) matches(name string) bool {
	if p.untracked != nil {
		return p.untracked.tracked != nil && !p.untracked.tracked(name)
	}
	switch {
	case p.glob == "." || p.glob == "**":
		return true
	case strings.HasSuffix(p.glob, "/**"):
		dir := strings.TrimSuffix(p.glob, "/**")
		return pipeline.MatchGlob(dir, name) || pipeline.MatchGlob(dir+"/**/*", name)
	default:
		return pipeline.MatchGlob(p.glob, name)
	}
}

// ArtifactCollector selects the artifacts of a job's workspace and writes
// them to a gzip-compressed tar, names relative to the workspace. An
// executor feeds it the workspace with FilterArtifacts or CollectDir.
//
// A path selects the entries it matches (pipeline.MatchGlob, a trailing
// `**` taking everything beneath) and, when it matches a directory,
// everything under it. An exclude pattern drops the
// entries it matches itself; as in GitLab it is not recursive:
// `binaries/**/*` excludes what `binaries/` holds. Symbolic links that
// lead out of the workspace are skipped with a warning, as are hard links
// to files that are not archived; devices, fifos and sockets are skipped.
type ArtifactCollector struct {
	log      io.Writer
	workdir  string
	paths    []artifactPattern
	exclude  []artifactPattern
	found    []int // entries archived per path
	excluded []int // entries dropped per exclude pattern
	none     []bool
	// dirHits memoises which paths select a directory, and so all it holds.
	dirHits map[string][]bool
	// files are the regular files archived, targets for hard links.
	files   map[string]bool
	entries int
	gz      *gzip.Writer
	tw      *tar.Writer
	// untracked is shared by the `untracked: true` pattern, if any.
	untracked *trackedSet
	// rename, when set, archives only regular files, under the name it
	// returns for an entry's workspace name and the paths it matched
	// (reports: see UploadJobReports).
	rename func(name string, hits []bool) string
}

func newArtifactCollector(spec *Artifacts, workdir string, w io.Writer, log io.Writer) *ArtifactCollector {
	c := &ArtifactCollector{
		log:     log,
		workdir: workdir,
		dirHits: make(map[string][]bool),
		files:   make(map[string]bool),
	}
	for _, raw := range spec.Paths {
		if glob, ok := c.relative(raw); ok {
			c.paths = append(c.paths, artifactPattern{raw: raw, glob: glob})
		} else if raw != "" {
			fmt.Fprintf(log, "WARNING: %s: artifact path is not a subpath of project directory: %s\n", raw, workdir)
		}
	}
	if spec.Untracked {
		c.untracked = &trackedSet{}
		c.paths = append(c.paths, artifactPattern{raw: "untracked", glob: ".", untracked: c.untracked})
	}
	for _, raw := range spec.Exclude {
		if glob, ok := c.relative(raw); ok {
			c.exclude = append(c.exclude, artifactPattern{raw: raw, glob: glob})
		}
	}
	c.found = make([]int, len(c.paths))
	c.excluded = make([]int, len(c.exclude))
	c.none = make([]bool, len(c.paths))
	// klauspost/compress's gzip rather than compress/gzip's: at its
	// default level it compresses about as well, faster, and it stores
	// incompressible data (archives, media, binaries already packed) at
	// memory speed instead of searching it for matches; compress/gzip ran
	// at ~35 MB/s on random bytes here, the whole upload's limit
	// (docs/BENCHMARKS.md, artifact throughput).
	c.gz = gzip.NewWriter(w)
	c.tw = tar.NewWriter(c.gz)
	return c
}

// relative cleans a pattern into one relative to the workspace: "./out/"
// is "out"; an absolute pattern must lie in the workspace. It refuses
// patterns leaving the workspace.
func (c *ArtifactCollector) relative(pattern string) (string, bool) {
	if pattern == "" {
		return "", false
	}
	clean := path.Clean(pattern)
	if path.IsAbs(clean) {
		rest, ok := strings.CutPrefix(clean, c.workdir)
		switch {
		case c.workdir == "" || !ok:
			return "", false
		case rest == "":
			return ".", true
		case rest[0] != '/':
			return "", false // /builds/project2 is not in /builds/project
		}
		clean = rest[1:]
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

// UseTracked tells the collector which workspace names (clean, relative)
// came from the job's source, for `untracked: true`: GitLab keeps the
// files git does not track, and the source Gantry checks out is what the
// submitter's tree held, so everything else in the workspace (build
// output, files restored from caches or dependencies) is untracked. An
// executor that never calls it keeps no untracked files, with a warning.
func (c *ArtifactCollector) UseTracked(tracked func(name string) bool) {
	if c.untracked != nil {
		c.untracked.tracked = tracked
	}
}

// TopLevel returns the names directly in the workspace under which every
// selected entry lies, sorted, or all=true when a path's first element is
// a glob and so any entry may be selected. The docker executor copies only
// those out of its container.
func (c *ArtifactCollector) TopLevel() (names []string, all bool) {
	for _, p := range c.paths {
		first, _, _ := strings.Cut(p.glob, "/")
		if first == "." || hasGlobMeta(first) {
			return nil, true
		}
		names = append(names, first)
	}
	slices.Sort(names)
	return slices.Compact(names), false
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, `*?[{\`) }

// mayHold reports whether directory dir may be or hold a selected entry:
// false only when every path's literal leading elements rule it out, so a
// walk can skip it.
func (c *ArtifactCollector) mayHold(dir string) bool {
	ds := strings.Split(dir, "/")
	for _, p := range c.paths {
		if p.glob == "." {
			return true
		}
		ps := strings.Split(p.glob, "/")
		possible := true
		for i, d := range ds {
			if i >= len(ps) || hasGlobMeta(ps[i]) {
				break // the path selects an ancestor of dir, or may match under it
			}
			if ps[i] != d {
				possible = false
				break
			}
		}
		if possible {
			return true
		}
	}
	return false
}

// dirSelection returns which paths select directory dir, itself or
// through a parent.
func (c *ArtifactCollector) dirSelection(dir string) []bool {
	if dir == "." {
		return c.none
	}
	if s, ok := c.dirHits[dir]; ok {
		return s
	}
	parent := c.dirSelection(path.Dir(dir))
	s := parent // shared while dir adds nothing to its parent's
	var own []bool
	for i, p := range c.paths {
		if !parent[i] && p.matches(dir) {
			if own == nil {
				own = slices.Clone(parent)
			}
			own[i] = true
		}
	}
	if own != nil {
		s = own
	}
	c.dirHits[dir] = s
	return s
}

// match returns which paths select the entry name (clean, relative), or
// nil when none does or an exclude pattern drops it.
func (c *ArtifactCollector) match(name string) []bool {
	if len(c.paths) == 0 {
		return nil
	}
	inherited := c.dirSelection(path.Dir(name))
	var hits []bool
	for i, p := range c.paths {
		if inherited[i] || p.matches(name) {
			if hits == nil {
				hits = make([]bool, len(c.paths))
			}
			hits[i] = true
		}
	}
	if hits == nil {
		return nil
	}
	for i, x := range c.exclude {
		if x.matches(name) {
			c.excluded[i]++
			return nil
		}
	}
	return hits
}

// archive writes the selected entry hdr, named relative to the workspace,
// with the regular file's content from body.
func (c *ArtifactCollector) archive(hdr *tar.Header, body io.Reader, hits []bool) error {
	out := &tar.Header{Name: hdr.Name, Mode: hdr.Mode & 0o777, ModTime: hdr.ModTime}
	if c.rename != nil {
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse {
			return nil
		}
		out.Name = c.rename(hdr.Name, hits)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		out.Typeflag = tar.TypeDir
		out.Name += "/"
	case tar.TypeReg, tar.TypeGNUSparse:
		out.Typeflag = tar.TypeReg
		out.Size = hdr.Size
	case tar.TypeSymlink:
		if !LinkStaysInside(hdr.Name, hdr.Linkname) {
			fmt.Fprintf(c.log, "WARNING: %s: symbolic link to %s leads out of the working directory; not archived\n",
				hdr.Name, hdr.Linkname)
			return nil
		}
		out.Typeflag, out.Linkname, out.Mode = tar.TypeSymlink, hdr.Linkname, 0o777
	case tar.TypeLink:
		if !c.files[hdr.Linkname] {
			fmt.Fprintf(c.log, "WARNING: %s: hard link to %s, which is not archived; not archived\n",
				hdr.Name, cmp.Or(hdr.Linkname, "a file outside the copied tree"))
			return nil
		}
		out.Typeflag, out.Linkname = tar.TypeLink, hdr.Linkname
	default:
		return nil // devices, fifos, sockets: nothing to keep
	}
	if err := c.tw.WriteHeader(out); err != nil {
		return fmt.Errorf("archiving %s: %w", hdr.Name, err)
	}
	if out.Typeflag == tar.TypeReg {
		n, err := io.CopyN(c.tw, body, out.Size)
		if err != nil {
			return fmt.Errorf("archiving %s (%d of %d bytes): %w", hdr.Name, n, out.Size, err)
		}
		c.files[out.Name] = true
	}
	c.entries++
	for i, hit := range hits {
		if hit {
			c.found[i]++
		}
	}
	return nil
}

// close ends the archive. It is only called when it holds an entry: an
// empty archive is not uploaded.
func (c *ArtifactCollector) close() error {
	if err := c.tw.Close(); err != nil {
		return err
	}
	return c.gz.Close()
}

// report logs what each path and exclude pattern matched, as GitLab does.
func (c *ArtifactCollector) report() {
	for i, p := range c.paths {
		if p.untracked != nil && p.untracked.tracked == nil {
			fmt.Fprintln(c.log, "WARNING: untracked: this executor cannot tell untracked files; none kept")
			continue
		}
		if c.found[i] == 0 {
			fmt.Fprintf(c.log, "WARNING: %s: no matching files. Ensure that the artifact path is relative to the working directory (%s)\n",
				p.raw, c.workdir)
			continue
		}
		fmt.Fprintf(c.log, "%s: found %d matching artifact files and directories\n", p.raw, c.found[i])
	}
	for i, x := range c.exclude {
		if c.excluded[i] > 0 {
			fmt.Fprintf(c.log, "%s: excluded %d files\n", x.raw, c.excluded[i])
		}
	}
}

// FilterArtifacts reads a tar of the workspace, or of part of it, and
// passes c the entries it selects. Entry names are relative to the
// workspace once strip, a leading element, is removed: Docker's
// CopyFromContainer of /builds/project names its entries project/...
// (strip "project"), and of /builds/project/out names them out/... (strip
// ""). Names that would leave the workspace are refused.
func FilterArtifacts(ctx context.Context, workspaceTar io.Reader, strip string, c *ArtifactCollector) error {
	tr := tar.NewReader(workspaceTar)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the workspace: %w", err)
		}
		name, ok := stripName(hdr.Name, strip)
		if !ok {
			return fmt.Errorf("workspace entry %q leaves the workspace", hdr.Name)
		}
		if name == "." {
			continue
		}
		hits := c.match(name)
		if hits == nil {
			continue
		}
		h := *hdr
		h.Name = name
		if h.Typeflag == tar.TypeLink {
			// A target outside the copied tree was not archived: ""
			// makes archive skip the link.
			h.Linkname, _ = stripName(hdr.Linkname, strip)
		}
		if err := c.archive(&h, tr, hits); err != nil {
			return err
		}
	}
}

// stripName removes the leading element strip from a tar entry name and
// cleans it; ok is false when the name is not under strip or climbs out.
func stripName(name, strip string) (string, bool) {
	if path.IsAbs(name) {
		return "", false
	}
	clean := path.Clean(name)
	if strip != "" {
		rest, ok := strings.CutPrefix(clean, strip)
		switch {
		case !ok:
			return "", false
		case rest == "":
			return ".", true
		case rest[0] != '/':
			return "", false
		}
		clean = rest[1:]
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

// CollectDir walks the workspace dir and passes c the entries it selects,
// skipping directories that cannot hold any. It reads dir through an
// os.Root and never follows symbolic links.
func CollectDir(ctx context.Context, dir string, c *ArtifactCollector) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if d.IsDir() && !c.mayHold(name) {
			return fs.SkipDir
		}
		hits := c.match(name)
		if hits == nil {
			return nil
		}
		info, err := d.Info() // Lstat
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
		switch info.Mode().Type() {
		case 0:
			return collectFile(ctx, root, hdr, c, hits)
		case fs.ModeDir:
			hdr.Typeflag = tar.TypeDir
		case fs.ModeSymlink:
			if hdr.Linkname, err = root.Readlink(name); err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			hdr.Typeflag = tar.TypeSymlink
		default:
			return nil
		}
		return c.archive(hdr, nil, hits)
	})
}

func collectFile(ctx context.Context, root *os.Root, hdr *tar.Header, c *ArtifactCollector, hits []bool) error {
	f, err := root.Open(hdr.Name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", hdr.Name, err)
	}
	defer f.Close()
	// The size in the header must be the file's: take it from the file
	// opened, in case it changed since the walk saw it.
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", hdr.Name, err)
	}
	if !info.Mode().IsRegular() {
		return nil // replaced since the walk saw it
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	return c.archive(hdr, ctxReader{ctx, f}, hits)
}

// ctxReader stops a long copy soon after ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// limitError is ErrArtifactsTooLarge with the numbers.
type limitError struct {
	max, reached int64
}

func (e *limitError) Error() string {
	return fmt.Sprintf("artifacts are larger than the %s limit (--max-artifact-size): the compressed archive reached %s",
		formatBytes(e.max), formatBytes(e.reached))
}

func (e *limitError) Is(target error) bool { return target == ErrArtifactsTooLarge }

// limitWriter passes at most max bytes to w (no limit when max <= 0); the
// write that would exceed it fails, whole, with a *limitError.
type limitWriter struct {
	w   io.Writer
	max int64
	n   int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.max > 0 && int64(len(p)) > l.max-l.n {
		return 0, &limitError{max: l.max, reached: l.n + int64(len(p))}
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// errUploadEnded is what writes get once the upload returned without error
// before the archive ended.
var errUploadEnded = errors.New("the upload ended before the archive did")

// uploadPipe starts the upload on its first Write, so that an archive
// with nothing in it is never uploaded, and streams the writes to it.
type uploadPipe struct {
	ctx    context.Context
	upload func(context.Context, io.Reader) error
	pw     *io.PipeWriter
	done   chan error
	// broken is set once a write failed because the upload stopped reading.
	broken bool
}

func (u *uploadPipe) Write(p []byte) (int, error) {
	if u.pw == nil {
		pr, pw := io.Pipe()
		u.pw, u.done = pw, make(chan error, 1)
		go func() {
			err := u.upload(u.ctx, pr)
			// An upload that stops reading early must not block the writer.
			pr.CloseWithError(cmp.Or(err, errUploadEnded))
			u.done <- err
		}()
	}
	n, err := u.pw.Write(p)
	if err != nil {
		u.broken = true
	}
	return n, err
}

// finish ends the stream, with cause as the upload's read error when it is
// not nil, and waits for the upload. started is false when nothing was
// written, and so nothing uploaded.
func (u *uploadPipe) finish(cause error) (started bool, err error) {
	if u.pw == nil {
		return false, nil
	}
	u.pw.CloseWithError(cause) // nil: the upload reads EOF
	return true, <-u.done
}

// streamed is what streamCollection did.
type streamed struct {
	started bool  // an entry was selected, so the upload ran
	bytes   int64 // compressed bytes streamed
	// collectErr failed the collection (or the size limit, a
	// *limitError); uploadErr the upload. broken is set when a write
	// failed because the upload stopped reading.
	collectErr, uploadErr error
	broken                bool
}

// streamCollection collects what spec selects into a gzip-compressed tar
// streamed to upload as it is written (never held whole; the upload
// starts with the first entry, so nothing selected uploads nothing),
// bounded by max compressed bytes (0: no limit), and logs what each path
// matched. prepare, if set, tunes the collector first. Artifacts, reports
// and caches all go this way.
func streamCollection(ctx context.Context, spec *Artifacts, workdir string, log io.Writer, max int64,
	upload func(context.Context, io.Reader) error,
	collect func(ctx context.Context, c *ArtifactCollector) error, prepare func(*ArtifactCollector)) streamed {
	up := &uploadPipe{ctx: ctx, upload: upload}
	limited := &limitWriter{w: up, max: max}
	c := newArtifactCollector(spec, workdir, limited, log)
	if prepare != nil {
		prepare(c)
	}
	err := collect(ctx, c)
	if err == nil && c.entries > 0 {
		err = c.close()
	}
	started, uploadErr := up.finish(err)
	if err == nil {
		c.report()
	}
	return streamed{started: started, bytes: limited.n, collectErr: err, uploadErr: uploadErr, broken: up.broken}
}

// UploadJobArtifacts uploads the artifacts of a job that ended with res,
// if its Artifacts want them for that outcome, and returns the job's
// result: res, or a failure when the artifacts could not be collected or
// uploaded (a job that had succeeded becomes a system failure; a failed
// one keeps its outcome, the reason added to its message). workdir is the
// workspace as the script saw it, for log lines and absolute paths.
//
// collect feeds the workspace to the collector (FilterArtifacts,
// CollectDir). The archive is streamed to job.UploadArtifacts as it is
// written, never held whole; the upload starts with the first entry
// selected, so a job whose paths match nothing uploads nothing, as in
// GitLab. Job.MaxArtifactBytes bounds the compressed stream.
func UploadJobArtifacts(ctx context.Context, job *Job, res Result, workdir string, log io.Writer,
	collect func(ctx context.Context, c *ArtifactCollector) error) Result {
	if !ArtifactsWanted(job.Artifacts, res.Outcome) {
		return res
	}
	if res.Outcome == OutcomeSuccess {
		fmt.Fprintln(log, "Uploading artifacts for successful job")
	} else {
		fmt.Fprintln(log, "Uploading artifacts for failed job")
	}
	if ctx.Err() != nil {
		fmt.Fprintln(log, "WARNING: Job canceled, artifacts are not uploaded")
		return Result{Outcome: OutcomeCanceled, ExitCode: res.ExitCode, Message: "job canceled before its artifacts were uploaded"}
	}
	fmt.Fprintln(log, "Uploading artifacts...")
	if job.UploadArtifacts == nil {
		return artifactFailure(log, res, "uploading artifacts: this runner has no way to upload them")
	}

	st := streamCollection(ctx, job.Artifacts, workdir, log, job.MaxArtifactBytes, job.UploadArtifacts, collect, nil)
	var limit *limitError
	var msg string
	switch {
	case errors.As(st.collectErr, &limit):
		msg = "uploading artifacts: " + limit.Error()
	case st.collectErr != nil && !st.broken:
		msg = fmt.Sprintf("collecting artifacts: %v", st.collectErr)
	case st.uploadErr != nil:
		msg = fmt.Sprintf("uploading artifacts: %v", st.uploadErr)
	case st.collectErr != nil:
		msg = fmt.Sprintf("uploading artifacts: %v", st.collectErr)
	case !st.started:
		fmt.Fprintln(log, "ERROR: No files to upload")
		return res
	default:
		fmt.Fprintf(log, "Uploading artifacts as \"archive\" to coordinator... %s OK\n", formatBytes(st.bytes))
		return res
	}
	if ctx.Err() != nil {
		fmt.Fprintln(log, "WARNING: Job canceled while its artifacts were uploaded")
		return Result{Outcome: OutcomeCanceled, ExitCode: res.ExitCode, Message: "job canceled while its artifacts were uploaded"}
	}
	return artifactFailure(log, res, msg)
}

// artifactFailure logs why the artifacts were lost and fails the job.
func artifactFailure(log io.Writer, res Result, msg string) Result {
	if res.Outcome != OutcomeSuccess {
		fmt.Fprintf(log, "ERROR: %s\n", msg)
		if res.Message != "" {
			res.Message += "; "
		}
		res.Message += msg
		return res
	}
	fmt.Fprintf(log, "ERROR: Job failed (system failure): %s\n", msg)
	failed := SystemFailure(msg)
	failed.ExitCode = res.ExitCode
	return failed
}

// DependencyError is the failure to download or unpack the artifacts of
// one of a job's dependencies.
type DependencyError struct {
	JobName string
	Err     error
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("failed to download artifacts for %s: %v", e.JobName, e.Err)
}

func (e *DependencyError) Unwrap() error { return e.Err }

// DownloadDependencies opens each dependency's archive in order and hands
// it to unpack, logging each as GitLab does. unpack must treat the archive
// as hostile (pkg/source's Unpack does). The first failure ends the
// download with a *DependencyError; executors fail the job with it as a
// system failure. A dependency's reader is closed when ctx is done, so a
// blocked read does not outlive a cancellation.
func DownloadDependencies(ctx context.Context, deps []Dependency, log io.Writer,
	unpack func(ctx context.Context, archive io.Reader) error) error {
	for i, d := range deps {
		name := cmp.Or(d.JobName, "dependency "+strconv.Itoa(i+1))
		fmt.Fprintf(log, "Downloading artifacts for %s ...\n", name)
		n, err := downloadDependency(ctx, d, unpack)
		if err != nil {
			fmt.Fprintf(log, "ERROR: Downloading artifacts for %s failed: %v\n", name, err)
			return &DependencyError{JobName: name, Err: err}
		}
		fmt.Fprintf(log, "Downloading artifacts for %s (%s) ... OK\n", name, formatBytes(n))
	}
	return nil
}

func downloadDependency(ctx context.Context, d Dependency, unpack func(context.Context, io.Reader) error) (int64, error) {
	if d.Open == nil {
		return 0, errors.New("no archive to download")
	}
	rc, err := d.Open(ctx)
	if err != nil {
		return 0, err
	}
	closeOnce := sync.OnceValue(rc.Close)
	defer closeOnce()
	stop := context.AfterFunc(ctx, func() { closeOnce() })
	defer stop()
	counted := &countingReader{r: rc}
	if err := unpack(ctx, counted); err != nil {
		if ctx.Err() != nil {
			return counted.n, ctx.Err() // the read error is its consequence
		}
		return counted.n, err
	}
	return counted.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// formatBytes renders a size for humans: "512 B", "1.5 KiB", "100 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	s := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + "KMGTPE"[exp:exp+1] + "iB"
}

// ListTree returns the names (clean, relative, slash-separated) of
// everything under dir, for UseTracked.
func ListTree(ctx context.Context, dir string) (map[string]bool, error) {
	names := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		names[filepath.ToSlash(rel)] = true
		return nil
	})
	return names, err
}
