package kbuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// workTree is one (source, arch, config) working copy and build directory.
type workTree struct {
	req Request
	dir string
}

func (w *workTree) src() string   { return filepath.Join(w.dir, "src") }
func (w *workTree) out() string   { return filepath.Join(w.dir, "out") }
func (w *workTree) state() string { return filepath.Join(w.dir, "state.json") }

// treeState says which patches the working copy carries. Dirty is written
// before the tree is touched and cleared after, so an interrupted patch
// step is noticed and the copy rebuilt from pristine.
type treeState struct {
	Dirty   bool     `json:"dirty"`
	Applied []string `json:"applied"` // patch hashes
	Touched []string `json:"touched"` // files the applied patches touch
	// Configured: olddefconfig made .config from these Kconfig files, and
	// no patch step has touched one since (kconfigInput), so the next
	// build need not run it again (~2.5 s of a patch swap on x86_64).
	Configured bool `json:"configured,omitempty"`
}

func (w *workTree) readState() (treeState, bool) {
	var s treeState
	b, err := os.ReadFile(w.state())
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

func (w *workTree) writeState(s treeState) error {
	b, _ := json.Marshal(s)
	tmp := w.state() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, w.state())
}

// lock takes an exclusive flock on the tree: two dirtygate processes never
// build in the same tree at once; the second waits, then finds the cache.
func (w *workTree) lock() (func(), error) {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, err
	}
	return Lock(filepath.Join(w.dir, ".lock"), func() {
		fmt.Fprintf(w.req.Progress, "[%s] waiting for another build in %s\n", w.req.label(), w.dir)
	})
}

// Lock takes an exclusive flock on path (created if missing), calling
// waiting first when another process holds it. It returns the unlock.
func Lock(path string, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		waiting()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// prepare makes sure the working copy exists and is in a known state.
func (w *workTree) prepare(ctx context.Context) error {
	st, ok := w.readState()
	if _, err := os.Stat(filepath.Join(w.src(), "Makefile")); err == nil && ok && !st.Dirty {
		return nil
	}
	fmt.Fprintf(w.req.Progress, "[%s] copying source into the working tree\n", w.req.label())
	os.RemoveAll(w.src())
	// The output goes too, configured anew: the copy carries the source's
	// old mtimes, so an object compiled from a file some earlier patch
	// changed would look newer than the file and never be rebuilt.
	if err := os.RemoveAll(w.out()); err != nil {
		return err
	}
	os.Remove(filepath.Join(w.dir, "config.merged"))
	tmp := w.src() + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := copySource(ctx, w.req.Source, tmp); err != nil {
		return &Error{Stage: "source", Msg: fmt.Sprintf("copying %s: %v", w.req.Source.Dir, err)}
	}
	if err := os.Rename(tmp, w.src()); err != nil {
		return err
	}
	return w.writeState(treeState{})
}

// applyPatches restores what the previous patch set touched and applies
// this request's patches. On failure the tree is restored to pristine.
func (w *workTree) applyPatches(ctx context.Context) error {
	st, _ := w.readState()
	var want []string
	for _, p := range w.req.Patches {
		want = append(want, p.Hash)
	}
	if strings.Join(st.Applied, ",") == strings.Join(want, ",") {
		return nil
	}
	configured := st.Configured && !slices.ContainsFunc(st.Touched, kconfigInput)
	st.Dirty, st.Configured = true, false
	if err := w.writeState(st); err != nil {
		return err
	}
	if err := w.restore(st.Touched); err != nil {
		return err
	}
	st = treeState{Dirty: true}
	for i, p := range w.req.Patches {
		st.Touched = append(st.Touched, touchedFiles(p.Data)...)
		pf := filepath.Join(w.dir, fmt.Sprintf("patch-%d.patch", i))
		if err := os.WriteFile(pf, p.Data, 0o644); err != nil {
			return err
		}
		var log bytes.Buffer
		err := w.run(ctx, &log, "patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-r", "-", "-i", pf)
		if err != nil {
			w.restore(st.Touched)
			w.writeState(treeState{})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := fmt.Sprintf("patch %s does not apply to %s: %s", p.Name, w.req.Source.ID, PatchFailure(log.String()))
			if p.File != "" {
				msg += fmt.Sprintf(" (built-in %s, chosen for kernel series %s; its ports: %s; a port for another series is kernels/patches/SERIES/%s.patch)",
					p.File, w.req.Source.Series(), strings.Join(p.Ports, ", "), p.Name)
			}
			return &Error{Stage: "patch", Msg: msg}
		}
		st.Applied = append(st.Applied, p.Hash)
	}
	st.Dirty = false
	st.Configured = configured && !slices.ContainsFunc(st.Touched, kconfigInput)
	return w.writeState(st)
}

// kconfigInput says whether a file (a path in the tree) is read by
// olddefconfig: a Kconfig file, the kconfig tool, or the Makefile that
// runs it.
func kconfigInput(f string) bool {
	return strings.HasPrefix(filepath.Base(f), "Kconfig") || strings.HasPrefix(f, "scripts/kconfig/") || f == "Makefile"
}

// touchedFiles lists the paths (-p1) a patch creates, changes or deletes.
func touchedFiles(patch []byte) []string {
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(patch))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "+++ ") && !strings.HasPrefix(l, "--- ") {
			continue
		}
		p := strings.Fields(l[4:])
		if len(p) == 0 || p[0] == "/dev/null" {
			continue
		}
		if _, rest, ok := strings.Cut(p[0], "/"); ok && rest != "" {
			seen[rest] = true
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

var (
	patchingRE = regexp.MustCompile(`(?m)^(?:patching|checking) file '?([^'\n]+)'?$`)
	hunkRE     = regexp.MustCompile(`(?m)^Hunk #(\d+) FAILED at (\d+)`)
)

// PatchFailure turns patch(1)'s output into "hunk #2 of drivers/vhost/vhost.c
// (at line 1653)" phrases, or the raw output when it says something else.
func PatchFailure(out string) string {
	var fails []string
	file := ""
	for _, l := range strings.Split(out, "\n") {
		if m := patchingRE.FindStringSubmatch(l); m != nil {
			file = m[1]
		}
		if m := hunkRE.FindStringSubmatch(l); m != nil {
			fails = append(fails, fmt.Sprintf("hunk #%s of %s (at line %s) FAILED", m[1], file, m[2]))
		}
	}
	if len(fails) > 0 {
		return strings.Join(fails, "; ")
	}
	return strings.TrimSpace(out)
}

// configure creates the .config once per tree, refreshes it when a patch
// step touched what olddefconfig reads, and checks it on every build.
func (w *workTree) configure(ctx context.Context) error {
	// Not configured until this succeeds: a merge or olddefconfig that
	// fails or is interrupted leaves a .config nobody may skip past.
	st, _ := w.readState()
	configured := st.Configured
	st.Configured = false
	if err := w.writeState(st); err != nil {
		return err
	}
	logPath := filepath.Join(w.dir, "config.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	frag := filepath.Join(w.dir, "fragment.config")
	if err := os.WriteFile(frag, []byte(w.req.Fragment()), 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(w.out(), ".config")
	// The marker is written after the merge: a .config left by an
	// interrupted merge is regenerated, never trusted.
	merged := filepath.Join(w.dir, "config.merged")
	if _, err := os.Stat(merged); err != nil {
		configured = false
		os.Remove(cfg)
		fmt.Fprintf(w.req.Progress, "[%s] configuring: tinyconfig + fragments\n", w.req.label())
		os.MkdirAll(w.out(), 0o755)
		// -j: tinyconfig first compiles the kconfig tool (9.4 s -> 7.0 s
		// for x86_64 with -j2).
		if err := w.run(ctx, log, "make", w.makeArgs(w.jobs(), "tinyconfig")...); err != nil {
			return &Error{Stage: "config", Log: logPath, Msg: "make tinyconfig failed" +
				" (a source tree that was built in place must be cleaned with `make mrproper` before out-of-tree builds)"}
		}
		if err := w.run(ctx, log, "scripts/kconfig/merge_config.sh", "-m", "-O", w.out(), cfg, frag); err != nil {
			os.Remove(cfg)
			return &Error{Stage: "config", Msg: "merge_config.sh failed", Log: logPath}
		}
		if err := os.WriteFile(merged, nil, 0o644); err != nil {
			return err
		}
	}
	if _, err := os.Stat(cfg); err != nil || !configured {
		if err := w.run(ctx, log, "make", w.makeArgs(w.jobs(), "olddefconfig")...); err != nil {
			os.Remove(merged)
			return &Error{Stage: "config", Msg: "make olddefconfig failed", Log: logPath}
		}
	}
	got, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	if dropped := VerifyConfig(w.req.Fragment(), string(got)); len(dropped) > 0 {
		os.Remove(merged) // never keep a config that is not what was asked
		return &Error{Stage: "config", Log: cfg, Msg: fmt.Sprintf(
			"olddefconfig dropped %d requested option(s), probably a missing dependency (see `depends on` in Kconfig, or make menuconfig): %s",
			len(dropped), strings.Join(dropped, "; "))}
	}
	st.Configured = true
	return w.writeState(st)
}

// VerifyConfig returns every requested option the final .config lacks,
// as "CONFIG_X=y requested, got CONFIG_X=n".
func VerifyConfig(fragment, config string) []string {
	have := map[string]string{}
	for _, l := range strings.Split(config, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			have[k] = v
		} else if strings.HasPrefix(l, "# CONFIG_") && strings.HasSuffix(l, " is not set") {
			have[strings.TrimSuffix(strings.TrimPrefix(l, "# "), " is not set")] = "n"
		}
	}
	// Later lines override earlier ones, as merge_config.sh does: an arch
	// fragment may turn off what the common one turns on.
	want := map[string]string{}
	var order []string
	for _, l := range strings.Split(fragment, "\n") {
		l = strings.TrimSpace(l)
		var k, v string
		switch {
		case strings.HasPrefix(l, "CONFIG_"):
			k, v, _ = strings.Cut(l, "=")
		case strings.HasPrefix(l, "# CONFIG_") && strings.HasSuffix(l, " is not set"):
			k, v = strings.TrimSuffix(strings.TrimPrefix(l, "# "), " is not set"), "n"
		default:
			continue
		}
		if _, seen := want[k]; !seen {
			order = append(order, k)
		}
		want[k] = v
	}
	var bad []string
	for _, k := range order {
		v := want[k]
		got, ok := have[k]
		if !ok {
			got = "n"
		}
		if got != v {
			bad = append(bad, fmt.Sprintf("%s=%s requested, got %s", k, v, map[bool]string{true: k + "=" + got, false: "it unset"}[got != "n"]))
		}
	}
	sort.Strings(bad)
	return bad
}

// lastLine remembers the last line written, for progress.
type lastLine struct {
	mu   sync.Mutex
	line string
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimRight(string(p), "\n")
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	if s != "" {
		l.line = strings.TrimSpace(s)
	}
	return len(p), nil
}

func (l *lastLine) get() string { l.mu.Lock(); defer l.mu.Unlock(); return l.line }

// compile runs make for the image target, reporting progress every 15 s.
func (w *workTree) compile(ctx context.Context) error {
	logPath := filepath.Join(w.dir, "build.log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	last := &lastLine{}
	b := treeLayout(w.src(), w.req.Arch.Build)
	// A first build goes around ccache: every file misses, and a miss
	// costs a second preprocessing (~40% more, kbuild.go's buildEnv),
	// while dirtygate's later builds of the tree are incremental and a
	// patch set built before is taken whole from the kernel cache.
	var env []string
	cold := ""
	if _, err := os.Stat(filepath.Join(w.out(), "vmlinux")); err != nil {
		env, cold = []string{"CCACHE_DISABLE=1"}, " (first build of this tree: ccache off)"
	}
	fmt.Fprintf(w.req.Progress, "[%s] compiling %s with %s%s\n", w.req.label(), b.MakeTarget, w.jobs(), cold)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w.req.Progress, "[%s] still compiling, %s, last: %s\n", w.req.label(), time.Since(start).Round(time.Second), last.get())
			}
		}
	}()
	targets := append([]string{w.jobs()}, strings.Fields(b.MakeTarget)...)
	err = w.runEnv(ctx, io.MultiWriter(f, last), env, "make", w.makeArgs(targets...)...)
	close(done)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return &Error{Stage: "compile", Log: logPath, Msg: "make " + b.MakeTarget + " failed:\n" + CompileErrors(string(log))}
	}
	return nil
}

// CompileErrors picks the lines of a make log that say what went wrong.
func CompileErrors(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "error") || strings.Contains(l, "Error") || strings.Contains(l, "undefined reference") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 40 {
		keep = keep[:40]
	}
	if len(keep) == 0 {
		ls := strings.Split(strings.TrimRight(log, "\n"), "\n")
		keep = ls[max(0, len(ls)-20):]
	}
	return strings.Join(keep, "\n")
}

// store copies the image, config and patches into a new cache entry.
func (w *workTree) store(entry string, took time.Duration) (*Kernel, error) {
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(entry), ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	img := filepath.Join(w.out(), w.req.Arch.Build.Image)
	imgName := filepath.Base(img)
	if err := CopyFile(img, filepath.Join(tmp, imgName)); err != nil {
		return nil, &Error{Stage: "compile", Msg: "no image at " + img + ": " + err.Error()}
	}
	var dtbName string
	if dtb := treeLayout(w.src(), w.req.Arch.Build).DTB; dtb != "" {
		dtbName = filepath.Base(dtb)
		if err := CopyFile(filepath.Join(w.out(), dtb), filepath.Join(tmp, dtbName)); err != nil {
			return nil, &Error{Stage: "compile", Msg: "no device tree at " + dtb + ": " + err.Error()}
		}
	}
	cfg, err := os.ReadFile(filepath.Join(w.out(), ".config"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "config"), cfg, 0o644); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(cfg)
	k := &Kernel{Image: imgName, DTB: dtbName, Config: "config", ConfigHash: hex.EncodeToString(sum[:]),
		Version: w.req.Source.Version, Source: w.req.Source.ID, BuildTime: took}
	var all bytes.Buffer
	for _, p := range w.req.Patches {
		k.Patches = append(k.Patches, p.Name)
		fmt.Fprintf(&all, "# dirtygate patch %s (sha256 %s)\n", p.Name, p.Hash)
		all.Write(p.Data)
	}
	if len(w.req.Patches) > 0 {
		k.Patchfile = "patches"
		if err := os.WriteFile(filepath.Join(tmp, "patches"), all.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	meta, _ := json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), meta, 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(entry)
	if err := os.Rename(tmp, entry); err != nil {
		return nil, err
	}
	return readEntry(entry)
}

// CopyFile copies a small file (a kernel image, a config) to dst, mode 0644.
func CopyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
