package kernels

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A two-patch mbox as `git format-patch --stdout` writes it.
const mbox = `From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
From: A <a@example.org>
Subject: [PATCH 1/2] one

---
 a.c | 1 +
--- a/a.c
+++ b/a.c
@@ -1 +1,2 @@
 x
+y
-- 
2.39.5

From 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001
From: A <a@example.org>
Subject: [PATCH 2/2] two

From the description: a line starting with From is fine in a body.
---
--- a/b.c
+++ b/b.c
@@ -1 +1 @@
-x
+z
`

func TestSplitMbox(t *testing.T) {
	parts := SplitMbox([]byte(mbox))
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	if !strings.Contains(string(parts[0]), "+y") || !strings.Contains(string(parts[1]), "+z") {
		t.Fatalf("parts: %q", parts)
	}
	f := filepath.Join(t.TempDir(), "series.mbox")
	os.WriteFile(f, []byte(mbox), 0o644)
	ps, err := ResolvePatch(f)
	if err != nil || len(ps) != 2 || ps[0].Name != "series.mbox#1" || ps[0].Hash == ps[1].Hash {
		t.Fatalf("%+v %v", ps, err)
	}
}

func TestResolveBuiltin(t *testing.T) {
	ps, err := ResolvePatch("rfc-v2")
	if err != nil || len(ps) != 1 || !strings.Contains(string(ps[0].Data), "FUTEX_OP_ADD") {
		t.Fatalf("%v %v", ps, err)
	}
	// The port keeps the seed's bugs: the -EINVAL check, u32 words, the TODO.
	for _, s := range []string{"+\t\tif (p & 0x3) {", "+\t\t\tr = -EINVAL;", "log_base + write_page / 32", "TODO: fallback to kmap() when -ENOSYS?", "pin_user_pages_fast", "unpin_user_pages_dirty_lock"} {
		if !strings.Contains(string(ps[0].Data), s) {
			t.Errorf("rfc-v2.patch lacks %q", s)
		}
	}
	if _, err := ResolvePatch("no-such"); err == nil || !strings.Contains(err.Error(), "rfc-v2") {
		t.Fatalf("unknown built-in: %v", err)
	}
	f := filepath.Join(t.TempDir(), "empty.patch")
	os.WriteFile(f, []byte("just words\n"), 0o644)
	if _, err := ResolvePatch(f); err == nil || !strings.Contains(err.Error(), "no diff") {
		t.Fatalf("err = %v", err)
	}
}

func TestTreeSourceRejectsNonKernel(t *testing.T) {
	if _, err := TreeSource(t.TempDir()); err == nil || !strings.Contains(err.Error(), "does not look like a kernel tree") {
		t.Fatalf("err = %v", err)
	}
}

func TestCommonFragment(t *testing.T) {
	for _, o := range []string{"CONFIG_VHOST_NET=y", "CONFIG_TUN=y", "CONFIG_DEVTMPFS=y", "CONFIG_PANIC_TIMEOUT=-1"} {
		if !strings.Contains(CommonFragment(), o) {
			t.Errorf("common fragment lacks %s", o)
		}
	}
}

func TestDebugFragment(t *testing.T) {
	all := DebugFragment(true, nil)
	for _, want := range []string{"CONFIG_PROVE_LOCKING=y", "CONFIG_DEBUG_ATOMIC_SLEEP=y", "CONFIG_KASAN=y"} {
		if !strings.Contains(all, want+"\n") {
			t.Errorf("debug fragment lacks %s", want)
		}
	}
	less := DebugFragment(false, []string{"CONFIG_PROVE_LOCKING"})
	if strings.Contains(less, "PROVE_LOCKING") || strings.Contains(less, "KASAN") || !strings.Contains(less, "CONFIG_DEBUG_VM=y\n") {
		t.Errorf("with PROVE_LOCKING excluded and no KASAN:\n%s", less)
	}
}

func TestResolveUnknownKernel(t *testing.T) {
	_, err := Resolve(t.Context(), "5.4", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "6.1, 6.12") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := LookupDebian(DefaultKernel); !ok {
		t.Fatalf("the default kernel %s is not a known source", DefaultKernel)
	}
}

func TestSeries(t *testing.T) {
	for v, want := range map[string]string{"6.12.117": "6.12", "6.1.192": "6.1", "6.13.0-rc1": "6.13"} {
		if got := (Source{Version: v}).Series(); got != want {
			t.Errorf("Series(%s) = %s, want %s", v, got, want)
		}
	}
}

// Every port overrides a base patch of the same name, in a directory named
// for a kernel series.
func TestPortsHaveABase(t *testing.T) {
	ents, err := builtin.ReadDir("patches")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if (Source{Version: e.Name() + ".0"}).Series() != e.Name() {
			t.Errorf("kernels/patches/%s is not named for a kernel series", e.Name())
		}
		files, _ := builtin.ReadDir("patches/" + e.Name())
		for _, f := range files {
			name := strings.TrimSuffix(f.Name(), ".patch")
			if _, err := builtin.ReadFile("patches/" + name + ".patch"); err != nil {
				t.Errorf("port %s/%s has no base patch kernels/patches/%s.patch", e.Name(), f.Name(), name)
			}
			p, _ := ResolvePatchFor(name, e.Name())
			if len(p) != 1 || p[0].File != "kernels/patches/"+e.Name()+"/"+f.Name() {
				t.Errorf("%s on %s resolves to %+v", name, e.Name(), p)
			}
		}
	}
	p, err := ResolvePatchFor("rfc-v2", "6.99")
	if err != nil || p[0].File != "kernels/patches/rfc-v2.patch" || len(p[0].Ports) == 0 {
		t.Fatalf("a series without a port gets the base patch: %+v %v", p, err)
	}
}

// The 6.12 port of the seed keeps its bugs, and wraps the helper in
// pagefault_disable()/pagefault_enable() as the 2019 helper did itself.
func TestRFCPort612(t *testing.T) {
	ps, err := ResolvePatchFor("rfc-v2", "6.12")
	if err != nil || ps[0].File != "kernels/patches/6.12/rfc-v2.patch" {
		t.Fatalf("%+v %v", ps, err)
	}
	d := string(ps[0].Data)
	for _, s := range []string{"FUTEX_OP_ADD", "+\t\tif (p & 0x3) {", "log_base + write_page / 32", "TODO: fallback to kmap() when -ENOSYS?",
		"+\tpagefault_disable();\n+\tr = arch_futex_atomic_op_inuser(FUTEX_OP_ADD, 1 << nr, &old, addr);\n+\tpagefault_enable();",
		"a08971e9488d", "Documentation/arch/x86/exception-tables.rst"} {
		if !strings.Contains(d, s) {
			t.Errorf("6.12 rfc-v2.patch lacks %q", s)
		}
	}
	if ps[0].Name != "rfc-v2" || len(ps[0].Ports) != 2 {
		t.Errorf("name %q, ports %v", ps[0].Name, ps[0].Ports)
	}
}
