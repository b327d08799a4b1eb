// Package aliasmodel runs PA-RISC's virtually indexed data cache under
// emulation: a QEMU TCG plugin (csrc/plugin.c, the model in csrc/model.c)
// that sees every guest load and store, and a test-only kernel patch
// (kernels/patches/alias-marker.patch) that makes the kernel's cache flush
// and purge primitives announce what they act on. This package builds the
// plugin for the host, finds the marker among the kernel's symbols, checks
// that every flush or purge instruction in the kernel is announced, and
// reads what the plugin printed.
package aliasmodel

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Sources are the plugin's C files. csrc/qemu-plugin.h is QEMU 7.2's
// plugin API header (QEMU_PLUGIN_VERSION 1), carried here: see csrc/README.
//
//go:embed csrc/*.c csrc/*.h
var Sources embed.FS

// Line and Alias are the model's parameters for the hppa guest (B160L,
// a PA7300LC): PA 1.1 processors have 32-byte lines (the comment in the
// kernel's arch/parisc/include/asm/cache.h); the alias boundary is the one
// Linux assumes for every PA-RISC CPU it supports that allows equivalent
// aliasing, 4 MiB (SHM_COLOUR in arch/parisc/include/asm/shmparam.h,
// TMPALIAS_SIZE_BITS in asm/fixmap.h): 1024 colours of 4 KiB pages.
const (
	Line  = 32
	Alias = 0x400000
)

// MarkSymbol is the marker array alias-marker.patch defines, and MarkLen
// its size (14 slots of 256 bytes).
const (
	MarkSymbol = "dg_alias_mark"
	MarkLen    = 14 * 256
)

// BuildPlugin compiles the plugin with the host's gcc into
// cacheDir/alias-plugin/, keyed by the sources and the compiler.
func BuildPlugin(ctx context.Context, cacheDir string) (string, error) {
	return build(ctx, cacheDir, "plugin", []string{"plugin.c", "model.c"}, []string{"-shared", "-fPIC"}, ".so")
}

// BuildReplay compiles the trace replayer (csrc/replay.c) the same way.
func BuildReplay(ctx context.Context, cacheDir string) (string, error) {
	return build(ctx, cacheDir, "replay", []string{"replay.c", "model.c"}, nil, "")
}

func build(ctx context.Context, cacheDir, what string, files, flags []string, ext string) (string, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("the alias model's %s needs the host's gcc: `apt-get install gcc`", what)
	}
	ver, _ := exec.CommandContext(ctx, gcc, "--version").Output()
	h := sha256.New()
	h.Write(ver)
	fmt.Fprint(h, flags)
	names, _ := Sources.ReadDir("csrc")
	for _, n := range names {
		b, _ := Sources.ReadFile("csrc/" + n.Name())
		fmt.Fprintf(h, "%s %d\n", n.Name(), len(b))
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	dir := filepath.Join(cacheDir, "alias-plugin")
	out := filepath.Join(dir, what+"-"+key+ext)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, "alias-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, n := range names {
		b, _ := Sources.ReadFile("csrc/" + n.Name())
		if err := os.WriteFile(filepath.Join(tmp, n.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	args := append([]string{"-O2", "-Wall", "-Wextra", "-Werror", "-o", "out"}, flags...)
	args = append(append(args, files...), "-lpthread")
	cmd := exec.CommandContext(ctx, gcc, args...)
	cmd.Dir = tmp
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the alias model's %s: gcc %s: %v\n%s", what, strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(tmp, "out"), out); err != nil {
		return "", err
	}
	return out, nil
}

// PluginArg is QEMU's -plugin argument for the plugin at so, writing to
// outFile, with the marker at physical address markPA.
func PluginArg(so, outFile string, markPA uint64) string {
	return fmt.Sprintf("%s,out=%s,mark=0x%x,marklen=%d,line=%d,alias=0x%x", so, outFile, markPA, MarkLen, Line, Alias)
}

// Symbols are a kernel's sized symbols (nm -S), sorted by address.
type Symbols struct {
	addr []uint64
	name []string
}

// Name gives "function+0xoff" for a kernel address, or "" outside the map.
func (s *Symbols) Name(a uint64) string {
	i := sort.Search(len(s.addr), func(i int) bool { return s.addr[i] > a }) - 1
	if i < 0 || len(s.addr) == 0 || a-s.addr[i] > 1<<20 {
		return ""
	}
	return fmt.Sprintf("%s+0x%x", s.name[i], a-s.addr[i])
}

// PageOffset is parisc's __PAGE_OFFSET on a 32-bit kernel: the kernel's
// linear map starts there, so a kernel data symbol's physical address is
// its address minus PageOffset.
const PageOffset = 0x10000000
