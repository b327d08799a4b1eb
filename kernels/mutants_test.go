package kernels

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dirtygate/vmm/scenario"
)

// Every mutant says what it models, applies on a base that exists, and
// names scenarios that exist; at least one per scenario the README lists
// (the self-test prints which actually kill it).
func TestMutantHeaders(t *testing.T) {
	ms, err := Mutants()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 10 {
		t.Fatalf("%d mutants", len(ms))
	}
	names := []string{"kernel-health"} // the host's console scan, a scenario of every report
	for _, s := range scenario.All() {
		names = append(names, s.Name)
	}
	for _, m := range ms {
		if m.Base != "" && !slices.Contains(Builtin(), m.Base) {
			t.Errorf("%s: base %q is not a built-in patch", m.Name, m.Base)
		}
		for _, s := range m.KilledBy {
			if !slices.Contains(names, s) {
				t.Errorf("%s: killed-by names %q, not a scenario", m.Name, s)
			}
		}
	}
}

func TestParseMutantRejectsBareDiff(t *testing.T) {
	if _, err := parseMutant("x", []byte("--- a/f\n+++ b/f\n")); err == nil {
		t.Fatal("a mutant without a header parsed")
	}
}

// Each mutant applies on its base in Debian's 6.1 source, when the cache
// holds it (make run and the end-to-end tests unpack it).
func TestMutantsApply(t *testing.T) {
	trees, _ := filepath.Glob(filepath.Join(cacheSrcDir(), "linux-source-6.1_*/linux-source-6.1"))
	if len(trees) == 0 {
		t.Skip("no unpacked linux-source-6.1 in the cache")
	}
	ms, err := Mutants()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "drivers"), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-r", filepath.Join(trees[0], "drivers/vhost"), filepath.Join(dir, "drivers")).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var series [][]byte
		if m.Base != "" {
			b, _ := ResolvePatch(m.Base)
			series = append(series, b[0].Data)
		}
		for _, p := range append(series, m.Patch) {
			cmd := exec.Command("patch", "-p1", "-s", "-f")
			cmd.Dir, cmd.Stdin = dir, bytes.NewReader(p)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s does not apply: %v\n%s", m.Name, err, out)
			}
		}
	}
}

// The README's mutant table lists exactly the mutants kernels/mutants holds.
func TestREADMEListsEveryMutant(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, "|"); len(f) > 3 && (strings.TrimSpace(f[2]) == "6.1" || strings.TrimSpace(f[2]) == "futex-fixed") {
			listed = append(listed, strings.Trim(strings.TrimSpace(f[1]), "`"))
		}
	}
	ms, err := Mutants()
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, m := range ms {
		have = append(have, m.Name)
	}
	slices.Sort(listed)
	slices.Sort(have)
	if !slices.Equal(listed, have) {
		t.Errorf("README's mutant table %v, kernels/mutants %v", listed, have)
	}
}
