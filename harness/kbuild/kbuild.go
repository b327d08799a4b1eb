// Package kbuild builds kernels for dirtygate and caches them.
//
// Two levels of reuse. A finished kernel is cached by (source identity,
// arch, config fragments, patches): asking again returns it without running
// make. And each (source, arch, config) has one working tree and one O=
// build directory, reused across patch sets: switching patches restores
// the files the previous set touched (with a fresh mtime) and applies the
// new set, so only what the patches touch recompiles. Cache entries are
// written to a temporary directory and renamed into place after the build
// succeeded, so a failed or interrupted build never leaves one that looks
// good.
//
// Runs on the host.
package kbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"dirtygate/arches"
	"dirtygate/kernels"
)

// Request is one kernel to build.
type Request struct {
	Arch     *arches.Arch
	Source   kernels.Source
	Patches  []kernels.Patch // applied in order; none = baseline
	Extra    string          // extra Kconfig lines, may be ""
	CacheDir string
	Jobs     int
	Progress io.Writer // human progress lines; io.Discard for none
}

// Kernel is a built (or cached) kernel.
type Kernel struct {
	Image      string        `json:"image"`
	DTB        string        `json:"dtb,omitempty"`
	Config     string        `json:"config"`
	ConfigHash string        `json:"config_hash"`
	Version    string        `json:"version"`
	Source     string        `json:"source"`
	Patches    []string      `json:"patches"`
	Patchfile  string        `json:"patchfile,omitempty"`
	Cached     bool          `json:"-"`
	BuildTime  time.Duration `json:"build_time"`
}

// Error is a build that failed, with the stage, the cause and the fix,
// and the full log.
type Error struct {
	Stage string // toolchain, source, patch, config, compile
	Msg   string
	Log   string
}

func (e *Error) Error() string {
	s := e.Stage + ": " + e.Msg
	if e.Log != "" {
		s += "\n(full log: " + e.Log + ")"
	}
	return s
}

// Fragment is the whole Kconfig fragment a request builds with.
func (r Request) Fragment() string {
	f := kernels.CommonFragment() + "\n# arch " + r.Arch.Name + "\n" + r.Arch.Build.Fragment + "\n# extra\n" + r.Extra
	return kernels.RenameSymbols(f, r.Source.Dir, r.Arch.Build.KernelArch)
}

// settings is what of a fragment decides the kernel: its option lines,
// "# CONFIG_X is not set" included; other comments and blank lines are
// left out of the keys, so rewording a comment keeps every cached kernel.
func settings(fragment string) string {
	var b strings.Builder
	for _, l := range strings.Split(fragment, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") && !(strings.HasPrefix(l, "# CONFIG_") && strings.HasSuffix(l, " is not set")) {
			continue
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// Key identifies the finished kernel.
func (r Request) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "source %s\narch %s\nfragment %s\n", r.Source.ID, r.Arch.Name, settings(r.Fragment()))
	for _, p := range r.Patches {
		fmt.Fprintf(h, "patch %s\n", p.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// treeKey identifies the working tree: everything but the patches.
func (r Request) treeKey() string {
	h := sha256.Sum256([]byte("source " + r.Source.ID + "\narch " + r.Arch.Name + "\nfragment " + settings(r.Fragment())))
	return hex.EncodeToString(h[:])
}

func (r Request) label() string {
	arch := r.Arch.Name
	if r.Source.Name != "" {
		arch += " " + r.Source.Name
	}
	if r.Source.Rev != "" {
		arch += "@" + r.Source.Rev[:12]
	}
	if len(r.Patches) == 0 {
		return arch + " baseline"
	}
	var n []string
	for _, p := range r.Patches {
		n = append(n, p.Name)
	}
	return arch + " " + strings.Join(n, "+")
}

// EntryDir is where the finished kernel is cached.
func (r Request) EntryDir() string {
	return filepath.Join(r.CacheDir, "kernels", r.Arch.Name, r.Key()[:16])
}

// Build returns the kernel, from the cache when it is there.
func Build(ctx context.Context, r Request) (*Kernel, error) {
	if r.Progress == nil {
		r.Progress = io.Discard
	}
	if r.Jobs <= 0 {
		r.Jobs = 1
	}
	entry := r.EntryDir()
	if k, err := readEntry(entry); err == nil {
		k.Cached = true
		return k, nil
	}
	if err := CheckToolchain(r.Arch); err != nil {
		return nil, err
	}
	start := time.Now()
	w := &workTree{req: r, dir: filepath.Join(r.CacheDir, "build", r.Arch.Name+"-"+r.treeKey()[:12])}
	unlock, err := w.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have finished the same kernel while we waited.
	if k, err := readEntry(entry); err == nil {
		k.Cached = true
		return k, nil
	}
	fmt.Fprintf(r.Progress, "[%s] kernel %s: preparing tree %s\n", r.label(), r.Source.Version, w.dir)
	if err := w.prepare(ctx); err != nil {
		return nil, err
	}
	if err := w.applyPatches(ctx); err != nil {
		return nil, err
	}
	if err := w.configure(ctx); err != nil {
		return nil, err
	}
	if err := w.compile(ctx); err != nil {
		return nil, err
	}
	k, err := w.store(entry, time.Since(start))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.Progress, "[%s] kernel built in %.0fs\n", r.label(), k.BuildTime.Seconds())
	return k, nil
}

func readEntry(dir string) (*Kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	var k Kernel
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	k.Image = filepath.Join(dir, filepath.Base(k.Image))
	if k.DTB != "" {
		k.DTB = filepath.Join(dir, filepath.Base(k.DTB))
	}
	k.Config = filepath.Join(dir, "config")
	if k.Patchfile != "" {
		k.Patchfile = filepath.Join(dir, "patches")
	}
	if _, err := os.Stat(k.Image); err != nil {
		return nil, err
	}
	return &k, nil
}

// CheckToolchain reports a missing compiler or build tool with the Debian
// package that provides it.
func CheckToolchain(a *arches.Arch) error {
	gcc := a.Build.CrossCompile + "gcc"
	pkg := a.Build.CrossPackage
	if a.Build.CrossCompile == "" {
		pkg = "gcc"
	}
	if _, err := exec.LookPath(gcc); err != nil {
		return &Error{Stage: "toolchain", Msg: fmt.Sprintf("%s not found: install the cross compiler with `apt-get install %s`", gcc, pkg)}
	}
	var missing []string
	tools := map[string]string{"make": "make", "flex": "flex", "bison": "bison", "bc": "bc", "patch": "patch", "perl": "perl"}
	if strings.Contains(a.Build.Fragment, "CONFIG_KERNEL_LZ4=y") {
		tools["lz4"] = "lz4" // the image is packed with it (x86_64, s390x)
	}
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		return &Error{Stage: "toolchain", Msg: "kernel build tools missing: install them with `apt-get install " + strings.Join(missing, " ") + " libelf-dev libssl-dev`"}
	}
	return nil
}

// run executes a command in the tree, its output appended to the log,
// killing its whole process group on cancellation.
func (w *workTree) run(ctx context.Context, log io.Writer, name string, args ...string) error {
	return w.runEnv(ctx, log, nil, name, args...)
}

// runEnv is run with extra environment variables.
func (w *workTree) runEnv(ctx context.Context, log io.Writer, extra []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = w.src()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(buildEnv(), extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// buildEnv is the environment of every build step: ccache in front of
// the compilers where it is installed, in its default (direct) mode and
// never in depend mode, whatever ccache.conf says. Depend mode hashes only
// what the compiler's dependency file lists, and a file pulled in by an
// assembler .incbin is not listed: kbuild's
// arch/x86/boot/compressed/piggy.S embeds the compressed vmlinux that way,
// so a patch whose compressed kernel had the same size as an earlier
// one's got the earlier kernel (seen: a mutant booted another mutant's
// image, and the kill matrix changed). Direct mode preprocesses a missed
// file to hash it, sees the .incbin and does not cache it
// (TestCcacheNeverCachesIncbin). On a miss direct mode preprocesses twice
// (x86_64's kernel/, net/ and mm/ from nothing: 226 s, against 160 s in
// depend mode and about that without ccache), so a tree's first build
// goes around it (workTree.compile).
func buildEnv() []string {
	env := append(os.Environ(), "LC_ALL=C")
	if _, err := os.Stat("/usr/lib/ccache"); err == nil {
		env = append(env, "PATH=/usr/lib/ccache:"+os.Getenv("PATH"), "CCACHE_NODEPEND=1")
	}
	return env
}

// jobs is make's -j for this request.
func (w *workTree) jobs() string { return fmt.Sprintf("-j%d", w.req.Jobs) }

func (w *workTree) makeArgs(target ...string) []string {
	a := []string{"O=" + w.out(), "ARCH=" + w.req.Arch.Build.KernelArch}
	if w.req.Arch.Build.CrossCompile != "" {
		a = append(a, "CROSS_COMPILE="+w.req.Arch.Build.CrossCompile)
	}
	return append(a, target...)
}
