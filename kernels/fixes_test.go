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
	trees, _ := filepath.Glob(filepath.Join(cacheSrcDir(), "linux-source-6.12_*", "linux-source-6.12"))
	for karch, file := range map[string]string{"alpha": "arch/alpha/mm/fault.c", "sparc": "include/linux/fs.h"} {
		p, ok := BuildFix("6.12", karch)
		if !ok {
			t.Fatalf("no 6.12 %s build fix", karch)
		}
		if !strings.HasPrefix(string(p.Data), "Build fix") || !strings.Contains(string(p.Data), "\n--- a/"+file+"\n") {
			t.Fatalf("the %s fix has no header or no diff of %s:\n%s", karch, file, p.Data)
		}
		if _, ok := BuildFix("6.1", karch); ok {
			t.Fatalf("6.1 builds for %s as it is: no fix wanted", karch)
		}
		if len(trees) == 0 {
			continue
		}
		cmd := exec.Command("patch", "-p1", "--dry-run", "-d", trees[0])
		cmd.Stdin = strings.NewReader(string(p.Data))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the %s fix does not apply to %s: %v\n%s", karch, trees[0], err, out)
		}
	}
	if len(trees) == 0 {
		t.Skip("linux-source-6.12 not unpacked in the cache: applying the fixes not checked")
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
