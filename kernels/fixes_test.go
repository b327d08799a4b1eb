package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every build fix is a patch with a header that says what it fixes, and
// applies to the tree it is for when that tree is unpacked here.
func TestBuildFixes(t *testing.T) {
	p, ok := BuildFix("6.12", "alpha")
	if !ok {
		t.Fatal("no 6.12 alpha build fix")
	}
	if !strings.HasPrefix(string(p.Data), "Build fix") || !strings.Contains(string(p.Data), "\n--- a/arch/alpha/mm/fault.c\n") {
		t.Fatalf("the fix has no header or no diff:\n%s", p.Data)
	}
	if _, ok := BuildFix("6.1", "alpha"); ok {
		t.Fatal("6.1 builds for alpha as it is: no fix wanted")
	}
	trees, _ := filepath.Glob(filepath.Join(cacheSrcDir(), "linux-source-6.12_*", "linux-source-6.12"))
	if len(trees) == 0 {
		t.Skip("linux-source-6.12 not unpacked in the cache: applying the fix not checked")
	}
	cmd := exec.Command("patch", "-p1", "--dry-run", "-d", trees[0])
	cmd.Stdin = strings.NewReader(string(p.Data))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the fix does not apply to %s: %v\n%s", trees[0], err, out)
	}
}

// cacheSrcDir is where dirtygate's cache unpacks kernel sources.
func cacheSrcDir() string {
	if c := os.Getenv("DIRTYGATE_CACHE"); c != "" {
		return filepath.Join(c, "src")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache/dirtygate/src")
}
