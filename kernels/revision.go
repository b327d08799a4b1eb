package kernels

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A revision of a git kernel tree is named DIR@REV (`--kernel ~/linux@v6.12`,
// or what `gate --kernel DIR --base REV --candidate REV` makes of its
// arguments). It is exported with `git archive` into the cache, once per
// commit: the user's checkout, index and worktrees are never touched.

// SplitRevision splits "DIR@REV" when DIR is a directory and the whole is
// not one (a directory may contain '@').
func SplitRevision(spec string) (dir, rev string, ok bool) {
	i := strings.LastIndex(spec, "@")
	if i <= 0 || i == len(spec)-1 {
		return "", "", false
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		return "", "", false
	}
	dir, rev = spec[:i], spec[i+1:]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", "", false
	}
	return dir, rev, true
}

// Commit resolves rev to a full commit id in the git tree at dir.
func Commit(ctx context.Context, dir, rev string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}").Output()
	if err != nil {
		if _, gerr := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--git-dir").Output(); gerr != nil {
			return "", fmt.Errorf("%s is not a git repository, so it has no revision %q", dir, rev)
		}
		return "", fmt.Errorf("%s has no commit %q (git rev-parse --verify %q)", dir, rev, rev+"^{commit}")
	}
	return strings.TrimSpace(string(out)), nil
}

// IsRevision reports whether rev names a commit of the git tree at dir.
func IsRevision(ctx context.Context, dir, rev string) bool {
	_, err := Commit(ctx, dir, rev)
	return err == nil
}

// RevisionSource exports one commit of the git tree at dir under
// cacheDir/src and returns it as a source. Its identity is the commit, so
// the same commit reached through any name shares one build.
func RevisionSource(ctx context.Context, dir, rev, cacheDir string, log io.Writer) (Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Source{}, err
	}
	sha, err := Commit(ctx, abs, rev)
	if err != nil {
		return Source{}, err
	}
	tree := filepath.Join(cacheDir, "src", "git-"+sha, "linux")
	err = unpackOnce(tree, func(tmp string) error {
		fmt.Fprintf(log, "exporting %s (%s) from %s into %s\n", rev, sha[:12], abs, filepath.Dir(tree))
		dst := filepath.Join(tmp, filepath.Base(tree))
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", `git -C "$1" archive --format=tar "$2" | tar -C "$3" -xf -`, "export", abs, sha, dst)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("exporting %s of %s: %v\n%s", sha, abs, err, out)
		}
		return nil
	})
	if err != nil {
		return Source{}, err
	}
	for _, f := range []string{"Makefile", "drivers/vhost/vhost.c", "scripts/kconfig/merge_config.sh"} {
		if _, err := os.Stat(filepath.Join(tree, f)); err != nil {
			return Source{}, fmt.Errorf("%s of %s does not look like a kernel tree: no %s", rev, abs, f)
		}
	}
	v, err := makefileVersion(tree)
	if err != nil {
		return Source{}, err
	}
	return Source{Dir: tree, ID: "git:" + sha, Name: "tree", Version: v, Rev: sha, Origin: abs, Cached: true}, nil
}
