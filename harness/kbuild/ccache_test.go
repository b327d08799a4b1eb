package kbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A compile as kbuild issues it (gcc through /usr/lib/ccache, its
// dependency file named by -Wp,-MMD) is cached in the depend mode
// buildEnv asks for: the second compile of the same source is a hit, a
// changed header a miss. Were depend mode unable to cache kbuild's
// compiles, every patch swap would rebuild from nothing.
func TestCcacheDependModeCachesKbuildCompiles(t *testing.T) {
	if _, err := os.Stat("/usr/lib/ccache/gcc"); err != nil {
		t.Fatalf("ccache is not installed (make test installs it: ci/install-deps): %v", err)
	}
	dir := t.TempDir()
	t.Setenv("CCACHE_DIR", filepath.Join(dir, "ccache"))
	t.Setenv("CCACHE_DISABLE", "") // restored after the test
	os.Unsetenv("CCACHE_DISABLE")  // set, even empty, it turns ccache off
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("h.h", "#define N 1\n")
	write("x.c", "#include \"h.h\"\nint x = N;\n")
	env := buildEnv()
	if !strings.Contains(strings.Join(env, "\n"), "\nCCACHE_DEPEND=1") {
		t.Fatal("the build environment does not ask for ccache's depend mode")
	}
	compile := func() string {
		// Through the shell, as make runs it: gcc is looked up in env's PATH.
		cmd := exec.Command("sh", "-c", "gcc -Wp,-MMD,.x.o.d -nostdinc -O2 -c -o x.o x.c")
		cmd.Dir, cmd.Env = dir, env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, b)
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
	if got := compile(); got != "0/1" {
		t.Fatalf("first compile: hits/misses %s, want 0/1", got)
	}
	if got := compile(); got != "1/1" {
		t.Fatalf("the same compile again: hits/misses %s, want 1/1 (a hit)", got)
	}
	write("h.h", "#define N 2\n")
	if got := compile(); got != "1/2" {
		t.Fatalf("after the header changed: hits/misses %s, want 1/2 (a miss)", got)
	}
}
