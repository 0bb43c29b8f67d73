package ghworkflow

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
)

// checkout checks what actions/checkout is asked for: this repository.
func (b *builder) checkout(s *step, sc *scope) bool {
	t := s.act.input("repository")
	if t == nil {
		return true
	}
	repo, ok := b.pl.text(s.path+".with.repository", t, sc)
	if !ok {
		return false
	}
	own, _ := b.pl.github["repository"].(string)
	if repo != "" && !strings.EqualFold(repo, own) {
		b.pl.d.Errorf(t.n.Pos, "%s.with.repository: checking out another repository (%s) is not supported: Gantry runs the job on the submitted source only", s.path, repo)
		return false
	}
	return true
}

// upload records the artifact an upload-artifact step makes and writes
// the commands that copy its files into the artifact's directory.
func (b *builder) upload(body *strings.Builder, s *step, sc *scope) bool {
	pl, a := b.pl, s.act
	in := func(name, def string) (string, bool) {
		t := a.input(name)
		if t == nil {
			return def, true
		}
		return pl.text(s.path+".with."+name, t, sc)
	}
	name, ok1 := in("name", "artifact")
	paths, ok2 := in("path", "")
	mode, ok3 := in("if-no-files-found", "warn")
	hidden, ok4 := in("include-hidden-files", "false")
	days, ok5 := in("retention-days", "")
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return false
	}
	pos := s.pos
	if t := a.input("name"); t != nil {
		pos = t.n.Pos
	}
	if err := validArtifactName(name); err != nil {
		pl.d.Errorf(pos, "%s.with.name: %v", s.path, err)
		return false
	}
	if slices.Contains(b.uploads, name) {
		pl.d.Errorf(pos, "%s.with.name: the job already uploads an artifact named %q; GitHub refuses to upload the same name twice", s.path, name)
		return false
	}
	if !slices.Contains([]string{"warn", "error", "ignore"}, mode) {
		pl.d.Errorf(s.pos, "%s.with.if-no-files-found must be warn, error or ignore, got %q", s.path, mode)
		return false
	}
	up, err := planUpload(strings.Split(paths, "\n"), hidden == "true")
	if err != nil {
		pl.d.Errorf(a.input("path").n.Pos, "%s.with.path: %v", s.path, err)
		return false
	}
	if days != "" {
		var d int
		if _, err := fmt.Sscan(days, &d); err != nil || d < 1 {
			pl.d.Errorf(s.pos, "%s.with.retention-days must be a number of days, got %q", s.path, days)
			return false
		}
		b.retention = max(b.retention, d)
	}
	b.uploads = append(b.uploads, name)
	body.WriteString("{ : > \"$gh_dir/files\"\n")
	for _, sr := range up.searches {
		fmt.Fprintf(body, "gh_find %s %s %s >> \"$gh_dir/files\"\n", sq(sr.dir), sq(sr.re), sq(up.exclude))
	}
	fmt.Fprintf(body, "gh_stage %s %s %s %s; }", sq(name), sq(mode), sq(up.root), fmtBool(up.single))
	return true
}

// download records what a download-artifact step takes and writes the
// commands that copy it where the step puts it.
func (b *builder) download(body *strings.Builder, s *step, sc *scope) bool {
	pl, a := b.pl, s.act
	in := func(name, def string) (string, bool) {
		t := a.input(name)
		if t == nil {
			return def, true
		}
		return pl.text(s.path+".with."+name, t, sc)
	}
	name, ok1 := in("name", "")
	dest, ok2 := in("path", "")
	pattern, ok3 := in("pattern", "")
	merge, ok4 := in("merge-multiple", "false")
	if !(ok1 && ok2 && ok3 && ok4) {
		return false
	}
	d := download{name: name}
	if name == "" && pattern != "" {
		fp, err := compileFilter(pattern)
		if err != nil {
			pl.d.Errorf(a.input("pattern").n.Pos, "%s.with.pattern: invalid pattern %q: %v", s.path, pattern, err)
			return false
		}
		d.pattern = fp
	}
	b.downloads = append(b.downloads, d)
	if name != "" {
		fmt.Fprintf(body, "gh_fetch %s %s", sq(name), pathWord(dest))
		return true
	}
	// Every artifact of the jobs this one needs, each in a directory of
	// its own name unless merge-multiple.
	var names []string
	for _, inst := range pl.ancestors(b.j) {
		for _, u := range inst.uploads {
			if (d.pattern == nil || d.pattern.re.MatchString(u)) && !slices.Contains(names, u) {
				names = append(names, u)
			}
		}
	}
	if len(names) == 0 {
		body.WriteString("echo 'gantry: no job this one needs uploads artifacts: nothing to download'")
		return true
	}
	cmds := make([]string, len(names))
	for i, u := range names {
		target := pathWord(dest)
		if merge != "true" {
			target = pathWord(path.Join(cmp.Or(dest, "."), u))
		}
		cmds[i] = fmt.Sprintf("gh_fetch %s %s optional", sq(u), target)
	}
	body.WriteString(strings.Join(cmds, " &&\n"))
	return true
}
