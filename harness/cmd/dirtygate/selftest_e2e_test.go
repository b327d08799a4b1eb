package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Two mutants through `dirtygate selftest` on x86_64 (each a patch swap
// on the tree the end-to-end test builds, ~20 s, and one agent run): each
// must be rejected, and by the scenario written for its bug class. The
// whole matrix is `make selftest`.
func TestSelftestSubsetX86(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and boots real kernels")
	}
	bin := filepath.Join(t.TempDir(), "dirtygate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "selftest", "--arch", "x86_64", "--out", t.TempDir(),
		"--mutant", "log-last-page,log-eventfd-silent")
	cmd.Stderr = testWriter{t}
	out, err := cmd.Output()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("dirtygate selftest: exit %d\n%s", code, out)
	if code != 0 {
		t.Fatalf("selftest exit %d, want 0 (every mutant rejected, the base clean but for known failures)", code)
	}
	for _, want := range []string{
		"log-last-page", "page-cross",
		"log-eventfd-silent", "log-eventfd",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the matrix does not mention %s", want)
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		for m, s := range map[string]string{"log-last-page": "page-cross", "log-eventfd-silent": "log-eventfd"} {
			if strings.Contains(line, " "+m+" ") && !strings.Contains(line, s) {
				t.Errorf("%s was not killed by %s: %s", m, s, line)
			}
		}
	}
}
