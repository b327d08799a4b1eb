package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// selftestSubset runs two mutants through `dirtygate selftest` on x86_64
// (each a patch swap on the tree the end-to-end test built, ~20 s, and one
// agent run): each must be rejected, and by the scenario written for its
// bug class. The whole matrix is `make selftest`. It is a step of
// TestEndToEndX86, not a parallel test of its own: it needs the same
// tree, and as a test it held one of go test's two parallel slots while it
// waited for that tree, so hppa's kernel build waited behind it.
func selftestSubset(t *testing.T, bin string) {
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
