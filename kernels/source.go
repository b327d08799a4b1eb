package kernels

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Source is a kernel source tree and a stable identity for caching.
type Source struct {
	Dir string
	ID  string // "debian:linux-source-6.1:<package version>" or "tree:<path>:<state>"
	// Name is the short name reports and per-source data are keyed by:
	// a Debian source's name ("6.1", "6.12"), or "tree" for --kernel DIR.
	Name    string
	Version string // VERSION.PATCHLEVEL.SUBLEVEL+EXTRAVERSION
	// Rev and Origin are set for a git revision (DIR@REV): the commit and
	// the tree it was exported from.
	Rev, Origin string
	// Cached says Dir is dirtygate's own copy in its cache (an unpacked
	// package, an exported revision), which nothing else writes: a
	// build's working tree may hard-link its files (kbuild).
	Cached bool
}

// Series is VERSION.PATCHLEVEL ("6.12"): what the built-in patch ports
// are chosen by, for Debian's sources and plain trees alike.
func (s Source) Series() string {
	f := strings.SplitN(s.Version, ".", 3)
	if len(f) < 2 {
		return s.Version
	}
	return f[0] + "." + f[1]
}

// Debian is a Debian linux-source package dirtygate knows by name.
type Debian struct {
	Name    string // what --kernel takes
	Package string
}

// Tarball is where the package puts the source.
func (d Debian) Tarball() string { return "/usr/src/" + d.Package + ".tar.xz" }

// Debians are the kernels --kernel names: the two LTS series Debian
// bookworm ships as source packages.
var Debians = []Debian{
	{Name: "6.1", Package: "linux-source-6.1"},
	{Name: "6.12", Package: "linux-source-6.12"},
}

// DefaultKernel is the newest LTS: a vhost patch is written against
// mainline, and the newest stable tree is the nearest to it.
const DefaultKernel = "6.12"

// LookupDebian finds a Debian source by name.
func LookupDebian(name string) (Debian, bool) {
	for _, d := range Debians {
		if d.Name == name {
			return d, true
		}
	}
	return Debian{}, false
}

// Resolve turns a --kernel value into a source: a Debian source's name
// ("" is DefaultKernel) or a kernel tree's directory.
func Resolve(ctx context.Context, spec, cacheDir string, log io.Writer) (Source, error) {
	if log == nil {
		log = io.Discard
	}
	if spec == "" {
		spec = DefaultKernel
	}
	if err := CheckSpec(ctx, spec); err != nil {
		return Source{}, err
	}
	if d, ok := LookupDebian(spec); ok {
		return DebianSource(ctx, d, cacheDir, log)
	}
	if dir, rev, ok := SplitRevision(spec); ok {
		return RevisionSource(ctx, dir, rev, cacheDir, log)
	}
	return TreeSource(spec)
}

// CheckSpec says whether a --kernel value names a source, without
// installing, unpacking or exporting anything: a Debian source's name, a
// directory, or DIR@REV with REV a commit of DIR.
func CheckSpec(ctx context.Context, spec string) error {
	if _, ok := LookupDebian(spec); ok {
		return nil
	}
	if dir, rev, ok := SplitRevision(spec); ok {
		_, err := Commit(ctx, dir, rev)
		return err
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		return nil
	}
	var names []string
	for _, d := range Debians {
		names = append(names, d.Name)
	}
	return fmt.Errorf("unknown kernel %q: not a known source (%s), a kernel tree's directory or DIR@REV of a git tree", spec, strings.Join(names, ", "))
}

// InstalledVersion is the package version dpkg has installed, or "".
func (d Debian) InstalledVersion() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status} ${Version}", d.Package).Output()
	if err != nil || !strings.HasPrefix(string(out), "install ok installed ") {
		return ""
	}
	return strings.TrimPrefix(string(out), "install ok installed ")
}

// UnpackedDir is where the source for the installed version is (or would
// be) unpacked under cacheDir.
func (d Debian) UnpackedDir(cacheDir, version string) string {
	return filepath.Join(cacheDir, "src", d.Package+"_"+SafeName(version), d.Package)
}

// DebianSource returns a Debian linux-source package's tree, installing
// the package if needed and unpacking it once under cacheDir/src.
func DebianSource(ctx context.Context, d Debian, cacheDir string, log io.Writer) (Source, error) {
	if _, err := os.Stat(d.Tarball()); err != nil {
		if err := aptInstall(ctx, log, d.Package); err != nil {
			return Source{}, err
		}
	}
	ver, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", d.Package).Output()
	if err != nil {
		return Source{}, fmt.Errorf("dpkg-query %s: %w", d.Package, err)
	}
	v := strings.TrimSpace(string(ver))
	id := "debian:" + d.Package + ":" + v
	tree := d.UnpackedDir(cacheDir, v)
	dir := filepath.Dir(tree)
	err = unpackOnce(tree, func(tmp string) error {
		fmt.Fprintf(log, "unpacking %s into %s\n", d.Tarball(), dir)
		cmd := exec.CommandContext(ctx, "tar", "-xf", d.Tarball(), "-C", tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("unpacking %s: %v\n%s", d.Tarball(), err, out)
		}
		return nil
	})
	if err != nil {
		return Source{}, err
	}
	mv, err := makefileVersion(tree)
	if err != nil {
		return Source{}, err
	}
	return Source{Dir: tree, ID: id, Name: d.Name, Version: mv, Cached: true}, nil
}

// unpackOnce makes sure the kernel tree at tree exists: fill puts
// filepath.Base(tree) into a temporary directory beside tree's parent,
// which is then renamed into place, so an interrupted unpack never looks
// complete.
func unpackOnce(tree string, fill func(tmp string) error) error {
	if _, err := os.Stat(filepath.Join(tree, "Makefile")); err == nil {
		return nil
	}
	dir := filepath.Dir(tree)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	// One unpack at a time per tree: two runs starting together (make
	// test's x86_64 and hppa) would otherwise both unpack, one in vain.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(tree, "Makefile")); err == nil {
		return nil // the other one finished while we waited
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another dirtygate sharing the cache may have finished first:
		// use its tree. Only an incomplete leftover is replaced.
		if _, serr := os.Stat(filepath.Join(tree, "Makefile")); serr != nil {
			os.RemoveAll(dir)
			if err := os.Rename(tmp, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

func aptInstall(ctx context.Context, log io.Writer, pkg string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is not installed and installing needs root: run `sudo apt-get install %s`", pkg, pkg)
	}
	fmt.Fprintf(log, "installing %s with apt-get\n", pkg)
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out, 20))
		}
		return nil
	}
	if err := run("install", "-y", "-q", pkg); err != nil {
		// Stale package lists are the common cause on a fresh machine.
		if uerr := run("update", "-q"); uerr != nil {
			return uerr
		}
		return run("install", "-y", "-q", pkg)
	}
	return nil
}

// TreeSource uses a kernel tree the user points at. Its identity covers
// the git commit and any uncommitted change, so a cache entry never
// outlives an edit; outside git it hashes the files the build depends on
// most (Makefile, drivers/vhost, the vhost uapi headers) and says so.
func TreeSource(dir string) (Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Source{}, err
	}
	for _, f := range []string{"Makefile", "drivers/vhost/vhost.c", "scripts/kconfig/merge_config.sh"} {
		if _, err := os.Stat(filepath.Join(abs, f)); err != nil {
			return Source{}, fmt.Errorf("%s does not look like a kernel tree: no %s", abs, f)
		}
	}
	v, err := makefileVersion(abs)
	if err != nil {
		return Source{}, err
	}
	state, err := treeState(abs)
	if err != nil {
		return Source{}, err
	}
	return Source{Dir: abs, ID: "tree:" + abs + ":" + state, Name: "tree", Version: v}, nil
}

func treeState(dir string) (string, error) {
	if head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output(); err == nil {
		diff, err := exec.Command("git", "-C", dir, "diff", "HEAD").Output()
		if err != nil {
			return "", fmt.Errorf("git diff in %s: %w", dir, err)
		}
		untracked, _ := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
		h := sha256.Sum256(append(diff, untracked...))
		return "git-" + strings.TrimSpace(string(head)) + "-" + hex.EncodeToString(h[:6]), nil
	}
	h := sha256.New()
	for _, g := range []string{"Makefile", "drivers/vhost/*", "include/uapi/linux/vhost*.h", "arch/*/include/asm/futex.h"} {
		files, _ := filepath.Glob(filepath.Join(dir, g))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			fmt.Fprintf(h, "%s %d\n", f, len(b))
			h.Write(b)
		}
	}
	return "files-" + hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// makefileVersion reads VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION.
func makefileVersion(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "Makefile"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan() && i < 20; i++ {
		k, val, ok := strings.Cut(sc.Text(), "=")
		if ok {
			v[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
	}
	if v["VERSION"] == "" {
		return "", fmt.Errorf("%s/Makefile has no VERSION", dir)
	}
	return fmt.Sprintf("%s.%s.%s%s", v["VERSION"], v["PATCHLEVEL"], v["SUBLEVEL"], v["EXTRAVERSION"]), nil
}

// SafeName makes s one path element: '/', ' ', ':' and '#' become '_'
// (a Debian version's epoch, a patch's path, a revision).
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' || r == '#' {
			return '_'
		}
		return r
	}, s)
}

func tail(b []byte, n int) string {
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
