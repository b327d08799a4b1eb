package kbuild

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/kernels"
)

// ccacheDir gives the test a ccache of its own, on, in a temporary
// directory, and returns buildEnv's environment and that directory.
func ccacheDir(t *testing.T) ([]string, string) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/ccache/gcc"); err != nil {
		t.Fatalf("ccache is not installed (make test installs it: ci/install-deps): %v", err)
	}
	dir := t.TempDir()
	t.Setenv("CCACHE_DIR", filepath.Join(dir, "ccache"))
	t.Setenv("CCACHE_DISABLE", "") // restored after the test
	os.Unsetenv("CCACHE_DISABLE")  // set, even empty, it turns ccache off
	return buildEnv(), dir
}

// compileIn runs a compile as make does (through the shell, so gcc is
// looked up in env's PATH: ccache's) and returns ccache's hits/misses.
func compileIn(t *testing.T, dir string, env []string, cmdline string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir, cmd.Env = dir, env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	st := exec.Command("ccache", "--print-stats")
	st.Env = env
	b, err := st.Output()
	if err != nil {
		t.Fatalf("ccache --print-stats: %v", err)
	}
	var hits, misses string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			switch f[0] {
			case "direct_cache_hit":
				hits = f[1]
			case "cache_miss":
				misses = f[1]
			}
		}
	}
	return hits + "/" + misses
}

// A compile as kbuild issues it (its dependency file named by -Wp,-MMD)
// is cached: the second compile of the same source is a hit, a changed
// header a miss.
func TestCcacheCachesKbuildCompiles(t *testing.T) {
	env, dir := ccacheDir(t)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("h.h", "#define N 1\n")
	write("x.c", "#include \"h.h\"\nint x = N;\n")
	const cc = "gcc -Wp,-MMD,.x.o.d -nostdinc -O2 -c -o x.o x.c"
	if got := compileIn(t, dir, env, cc); got != "0/1" {
		t.Fatalf("first compile: hits/misses %s, want 0/1", got)
	}
	if got := compileIn(t, dir, env, cc); got != "1/1" {
		t.Fatalf("the same compile again: hits/misses %s, want 1/1 (a hit)", got)
	}
	write("h.h", "#define N 2\n")
	if got := compileIn(t, dir, env, cc); got != "1/2" {
		t.Fatalf("after the header changed: hits/misses %s, want 1/2 (a miss)", got)
	}
}

// An object that embeds a file with .incbin (as x86's piggy.S embeds the
// compressed vmlinux) is never taken from the cache: a new file of the
// same size gives a new object. In ccache's depend mode it did not: a
// ccache.conf asking for it is overridden.
func TestCcacheNeverCachesIncbin(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "ccache.conf")
	if err := os.WriteFile(conf, []byte("depend_mode = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCACHE_CONFIGPATH", conf)
	env, dir := ccacheDir(t)
	if err := os.WriteFile(filepath.Join(dir, "piggy.S"), []byte(".section .rodata\n.incbin \"payload\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const cc = "gcc -Wp,-MMD,.piggy.o.d -nostdinc -c -o piggy.o piggy.S"
	for _, payload := range []string{"first kernel", "other kernel"} {
		if err := os.WriteFile(filepath.Join(dir, "payload"), []byte(payload), 0o644); err != nil {
			t.Fatal(err)
		}
		compileIn(t, dir, env, cc)
		b, err := os.ReadFile(filepath.Join(dir, "piggy.o"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(payload)) {
			t.Fatalf("piggy.o does not embed %q: an object built from an earlier payload came from the cache", payload)
		}
	}
}

// The first build of a tree goes around ccache (every file would miss, at
// a second preprocessing each); later, incremental builds use it.
func TestFirstBuildBypassesCcache(t *testing.T) {
	a := fakeArch()
	src := fakeTreeMaking(t, "bzImage:\n\techo \"ccache-disable=$$CCACHE_DISABLE\" >> $(O)/../calls && touch $(O)/vmlinux && "+
		"mkdir -p $(O)/arch/x86/boot && cat drivers/x.c > $(O)/arch/x86/boot/bzImage\n")
	t.Setenv("CCACHE_DISABLE", "")
	os.Unsetenv("CCACHE_DISABLE")
	req := Request{Arch: a, Source: kernels.Source{Dir: src, ID: "fake:3", Version: "6.1.0"}, CacheDir: t.TempDir(), Jobs: 1}
	for i, p := range [][]kernels.Patch{nil, {patchOf("c1", "drivers/x.c", "int y;")}} {
		r := req
		r.Patches = p
		if _, err := Build(context.Background(), r); err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(req.CacheDir, "build", "fake-"+req.treeKey()[:12], "calls"))
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "ccache-disable=1 ccache-disable=" {
		t.Fatalf("make saw %q; want ccache off for the first build only", got)
	}
}
