package kbuild

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/arches"
	"dirtygate/kernels"
)

func TestVerifyConfig(t *testing.T) {
	frag := "CONFIG_VHOST_NET=y\nCONFIG_PANIC_TIMEOUT=-1\n# CONFIG_MODULES is not set\nCONFIG_KPROBES=y\n# a comment\n"
	// Lines as olddefconfig writes them.
	cfg := "CONFIG_VHOST_NET=y\nCONFIG_PANIC_TIMEOUT=0\nCONFIG_MODULES=y\n# CONFIG_KPROBES is not set\n"
	got := VerifyConfig(frag, cfg)
	want := []string{
		"CONFIG_KPROBES=y requested, got it unset",
		"CONFIG_MODULES=n requested, got CONFIG_MODULES=y",
		"CONFIG_PANIC_TIMEOUT=-1 requested, got CONFIG_PANIC_TIMEOUT=0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An arch fragment may override the common one; the last line wins.
	if bad := VerifyConfig("CONFIG_SMP=y\n# CONFIG_SMP is not set\n", "# CONFIG_SMP is not set\n"); len(bad) != 0 {
		t.Fatalf("override not honoured: %v", bad)
	}
	if bad := VerifyConfig(frag, "CONFIG_VHOST_NET=y\nCONFIG_PANIC_TIMEOUT=-1\nCONFIG_KPROBES=y\n"); len(bad) != 0 {
		t.Fatalf("absent MODULES should satisfy 'is not set': %v", bad)
	}
}

// Real output of GNU patch 2.7.6 for a hunk that does not apply.
const patchOut = `patching file drivers/vhost/vhost.c
Hunk #1 succeeded at 31 (offset 1 line).
Hunk #2 FAILED at 1653.
Hunk #3 succeeded at 1886 with fuzz 2.
1 out of 3 hunks FAILED
`

func TestPatchFailure(t *testing.T) {
	got := PatchFailure(patchOut)
	if got != "hunk #2 of drivers/vhost/vhost.c (at line 1653) FAILED" {
		t.Fatalf("got %q", got)
	}
	if got := PatchFailure("patch: **** Only garbage was found in the patch input."); !strings.Contains(got, "garbage") {
		t.Fatalf("got %q", got)
	}
}

func TestTouchedFiles(t *testing.T) {
	p := "--- a/drivers/vhost/vhost.c\n+++ b/drivers/vhost/vhost.c\n@@ -1 +1 @@\n" +
		"--- /dev/null\n+++ b/drivers/vhost/new.h\n" +
		"--- a/old.c\n+++ /dev/null\n"
	got := strings.Join(touchedFiles([]byte(p)), " ")
	if got != "drivers/vhost/new.h drivers/vhost/vhost.c old.c" {
		t.Fatalf("got %q", got)
	}
}

func TestKeys(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	src := kernels.Source{ID: "debian:linux-source-6.1:6.1.192-1", Dir: "/x", Version: "6.1.192"}
	base := Request{Arch: a, Source: src}
	p1 := Request{Arch: a, Source: src, Patches: []kernels.Patch{{Name: "a", Hash: "1"}}}
	p2 := Request{Arch: a, Source: src, Patches: []kernels.Patch{{Name: "a", Hash: "2"}}}
	extra := Request{Arch: a, Source: src, Extra: "CONFIG_KASAN=y"}
	other := Request{Arch: a, Source: kernels.Source{ID: "tree:/l:git-abc"}}
	keys := map[string]string{}
	for name, r := range map[string]Request{"base": base, "p1": p1, "p2": p2, "extra": extra, "other": other} {
		k := r.Key()
		if prev, dup := keys[k]; dup {
			t.Fatalf("%s and %s share a cache key", name, prev)
		}
		keys[k] = name
	}
	if base.Key() != (Request{Arch: a, Source: src}).Key() {
		t.Fatal("key not stable")
	}
	// Patches share the working tree; config and source do not.
	if base.treeKey() != p1.treeKey() || base.treeKey() == extra.treeKey() || base.treeKey() == other.treeKey() {
		t.Fatal("tree keys wrong")
	}
}

func TestMissingCrossCompiler(t *testing.T) {
	a := &arches.Arch{Name: "nope", Build: arches.Build{CrossCompile: "nonexistent-linux-gnu-", CrossPackage: "gcc-nonexistent-linux-gnu"}}
	err := CheckToolchain(a)
	if err == nil || !strings.Contains(err.Error(), "apt-get install gcc-nonexistent-linux-gnu") {
		t.Fatalf("err = %v", err)
	}
}

// A built-in patch that does not apply names the hunk, the file chosen for
// the tree's series, and every port that exists.
func TestBuiltinPatchFailureNamesPorts(t *testing.T) {
	pristine := t.TempDir()
	os.MkdirAll(filepath.Join(pristine, "drivers/vhost"), 0o755)
	os.WriteFile(filepath.Join(pristine, "drivers/vhost/vhost.c"), []byte("nothing a patch expects\n"), 0o644)
	ps, err := kernels.ResolvePatchFor("rfc-v2", "6.13")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := arches.Lookup("x86_64")
	w := &workTree{dir: t.TempDir(), req: Request{Arch: a, Patches: ps, Progress: io.Discard,
		Source: kernels.Source{Dir: pristine, ID: "tree:x", Name: "tree", Version: "6.13.0"}}}
	os.MkdirAll(filepath.Join(w.src(), "drivers/vhost"), 0o755)
	os.WriteFile(filepath.Join(w.src(), "drivers/vhost/vhost.c"), []byte("nothing a patch expects\n"), 0o644)
	err = w.applyPatches(context.Background())
	for _, want := range []string{"patch rfc-v2 does not apply", "FAILED", "kernels/patches/rfc-v2.patch, chosen for kernel series 6.13",
		"6.1: kernels/patches/rfc-v2.patch", "6.12: kernels/patches/6.12/rfc-v2.patch"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// A comment in a fragment does not decide the kernel; an option, and a
// "# CONFIG_X is not set", do.
func TestKeyIgnoresComments(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	src := kernels.Source{ID: "debian:linux-source-6.1:6.1.192-3", Dir: "/x", Version: "6.1.192"}
	key := func(extra string) string { return Request{Arch: a, Source: src, Extra: extra}.Key() }
	base := key("CONFIG_A=y\n")
	if key("# why A\nCONFIG_A=y\n\n") != base {
		t.Error("a comment changed the key")
	}
	if key("CONFIG_A=y\n# CONFIG_B is not set\n") == base || key("CONFIG_A=m\n") == base {
		t.Error("an option did not change the key")
	}
}
