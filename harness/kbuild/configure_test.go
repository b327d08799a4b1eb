package kbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/arches"
	"dirtygate/kernels"
)

// fakeTree is a source tree whose Makefile and merge_config.sh note each
// step in DIR/calls (DIR is the working tree's directory, O=DIR/out).
func fakeTree(t *testing.T) string {
	src := t.TempDir()
	files := map[string]string{
		"Makefile": "tinyconfig:\n\tmkdir -p $(O) && echo CONFIG_TINY=y > $(O)/.config && echo tinyconfig >> $(O)/../calls\n" +
			"olddefconfig:\n\techo olddefconfig >> $(O)/../calls\n" +
			"bzImage:\n\tmkdir -p $(O)/arch/x86/boot && cat drivers/x.c Kconfig > $(O)/arch/x86/boot/bzImage && echo bzImage >> $(O)/../calls\n",
		"scripts/kconfig/merge_config.sh": "#!/bin/sh\ncat \"$5\" >> \"$4\"\n",
		"drivers/x.c":                     "int x;\n",
		"Kconfig":                         "config TINY\n",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// fakeArch builds fakeTree's bzImage.
func fakeArch() *arches.Arch {
	return &arches.Arch{Name: "fake", Mode: arches.GoAgent,
		Build: arches.Build{KernelArch: "x86", MakeTarget: "bzImage", Image: "arch/x86/boot/bzImage"}}
}

// fakeTreeMaking is fakeTree with its own Makefile: config targets that
// write a .config, then rules (bzImage's among them).
func fakeTreeMaking(t *testing.T, rules string) string {
	src := fakeTree(t)
	mk := "tinyconfig:\n\tmkdir -p $(O) && echo CONFIG_TINY=y > $(O)/.config\n" +
		"olddefconfig:\n\ttrue\n" + rules
	if err := os.WriteFile(filepath.Join(src, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

func patchOf(name, file, line string) kernels.Patch {
	data := "--- a/" + file + "\n+++ b/" + file + "\n@@ -1 +1,2 @@\n" + map[string]string{
		"drivers/x.c": " int x;\n", "Kconfig": " config TINY\n"}[file] + "+" + line + "\n"
	sum := sha256.Sum256([]byte(data))
	return kernels.Patch{Name: name, Data: []byte(data), Hash: hex.EncodeToString(sum[:])}
}

// TestOlddefconfigOnlyWhenKconfigMoves: a patch swap that touches no
// Kconfig input skips olddefconfig; one that does, or undoes one that did,
// runs it; so does the first build.
func TestOlddefconfigOnlyWhenKconfigMoves(t *testing.T) {
	a := fakeArch()
	req := Request{Arch: a, Source: kernels.Source{Dir: fakeTree(t), ID: "fake:1", Version: "6.1.0"},
		CacheDir: t.TempDir(), Jobs: 1}
	if err := CheckToolchain(a); err != nil {
		t.Fatal(err) // make test installs the kernel build tools (ci/install-deps)
	}
	calls := filepath.Join(req.CacheDir, "build", "fake-"+req.treeKey()[:12], "calls")
	steps := []struct {
		patches []kernels.Patch
		want    string
	}{
		{nil, "tinyconfig olddefconfig bzImage"},
		{[]kernels.Patch{patchOf("c1", "drivers/x.c", "int y;")}, "bzImage"},
		{[]kernels.Patch{patchOf("c2", "drivers/x.c", "int z;")}, "bzImage"},
		{[]kernels.Patch{patchOf("k", "Kconfig", "config NEW")}, "olddefconfig bzImage"},
		{[]kernels.Patch{patchOf("c3", "drivers/x.c", "int w;")}, "olddefconfig bzImage"}, // Kconfig restored
		{[]kernels.Patch{patchOf("c4", "drivers/x.c", "int v;")}, "bzImage"},
	}
	for i, s := range steps {
		os.Remove(calls)
		r := req
		r.Patches = s.patches
		if _, err := Build(context.Background(), r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		b, _ := os.ReadFile(calls)
		if got := strings.Join(strings.Fields(string(b)), " "); got != s.want {
			t.Errorf("step %d (%v): make ran %q; want %q", i, s.patches, got, s.want)
		}
	}
	// A .config that is gone is made again, whatever the state says (here
	// from nothing, so the check of the fragment then fails the build).
	os.Remove(calls)
	os.Remove(filepath.Join(filepath.Dir(calls), "out", ".config"))
	r := req
	r.Patches = []kernels.Patch{patchOf("c5", "drivers/x.c", "int u;")}
	_, err := Build(context.Background(), r)
	if b, _ := os.ReadFile(calls); !strings.HasPrefix(string(b), "olddefconfig") || err == nil {
		t.Errorf("without .config: make ran %q, error %v; want olddefconfig run and its result checked", b, err)
	}
}
