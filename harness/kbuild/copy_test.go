package kbuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dirtygate/kernels"
)

// A source in dirtygate's cache is hard-linked into the working tree, and
// patching, swapping patches and restoring never write through a link:
// the pristine files stay as they were, each build sees its own patch.
func TestCachedSourceLinkedNeverWritten(t *testing.T) {
	a := fakeArch()
	pristine := fakeTree(t)
	req := Request{Arch: a, Source: kernels.Source{Dir: pristine, ID: "fake:1", Version: "6.1.0", Cached: true},
		CacheDir: t.TempDir(), Jobs: 1}
	if err := CheckToolchain(a); err != nil {
		t.Fatal(err) // make test installs the kernel build tools (ci/install-deps)
	}
	want := map[string]string{}
	for _, f := range []string{"drivers/x.c", "Kconfig", "Makefile"} {
		b, err := os.ReadFile(filepath.Join(pristine, f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = string(b)
	}
	work := filepath.Join(req.CacheDir, "build", "fake-"+req.treeKey()[:12], "src")
	steps := []struct {
		patches []kernels.Patch
		image   string // what the fake build copies out of the tree
	}{
		{nil, "int x;\nconfig TINY\n"},
		{[]kernels.Patch{patchOf("c1", "drivers/x.c", "int y;")}, "int x;\nint y;\nconfig TINY\n"},
		{[]kernels.Patch{patchOf("k", "Kconfig", "config NEW")}, "int x;\nconfig TINY\nconfig NEW\n"},
		{nil, "int x;\nconfig TINY\n"},
	}
	for i, s := range steps {
		r := req
		r.Patches = s.patches
		res, err := Build(context.Background(), r)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if b, _ := os.ReadFile(res.Image); string(b) != s.image {
			t.Errorf("step %d: the build saw %q, want %q", i, b, s.image)
		}
		for f, text := range want {
			if b, _ := os.ReadFile(filepath.Join(pristine, f)); string(b) != text {
				t.Fatalf("step %d: pristine %s now %q, was %q: written through a link", i, f, b, text)
			}
		}
	}
	pi, err := os.Stat(filepath.Join(pristine, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	wi, err := os.Stat(filepath.Join(work, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(pi, wi) {
		t.Error("the working tree's Makefile is a copy, not a link to the cached source's")
	}
}

// A working tree copied again (after an interrupted patch, here a state
// marked dirty) is built from nothing: its files carry the source's old
// mtimes, so an object compiled from a since-restored patched file would
// otherwise look up to date and stay in the kernel.
func TestRecopiedTreeRebuildsEverything(t *testing.T) {
	a := fakeArch()
	// bzImage from an object that make rebuilds only when drivers/x.c is
	// newer, as kbuild does.
	src := fakeTreeMaking(t, "$(O)/x.o: drivers/x.c\n\tcp drivers/x.c $(O)/x.o\n"+
		"bzImage: $(O)/x.o\n\tmkdir -p $(O)/arch/x86/boot && cp $(O)/x.o $(O)/arch/x86/boot/bzImage\n")
	old := time.Now().Add(-time.Hour) // an unpacked source's files are old
	for _, f := range []string{"Makefile", "drivers/x.c", "Kconfig", "scripts/kconfig/merge_config.sh"} {
		os.Chtimes(filepath.Join(src, f), old, old)
	}
	req := Request{Arch: a, Source: kernels.Source{Dir: src, ID: "fake:2", Version: "6.1.0", Cached: true},
		CacheDir: t.TempDir(), Jobs: 1}
	r := req
	r.Patches = []kernels.Patch{patchOf("c1", "drivers/x.c", "int y;")}
	if _, err := Build(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(req.CacheDir, "build", "fake-"+req.treeKey()[:12], "state.json")
	if err := os.WriteFile(state, []byte(`{"dirty":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(res.Image); string(b) != "int x;\n" {
		t.Fatalf("the unpatched build after a fresh copy holds %q, want the pristine file: a stale object was kept", b)
	}
}
