package kunitpeer

import (
	"bytes"
	"os"
	"testing"

	"dirtygate/arches"
)

// testdata/exec-6.1-x86_64.out is `kunit.py exec` on 6.1.192 x86_64 with
// ExampleConfig, captured here.
func TestSummary(t *testing.T) {
	out, err := os.ReadFile("testdata/exec-6.1-x86_64.out")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(out), "Ran 4 tests: passed: 2, skipped: 2"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if !ranTests.MatchString(summary(out)) {
		t.Errorf("%q: not a run of tests", summary(out))
	}
	// The same run cut off before kunit_tool's closing line (a kernel that
	// never finished): no summary, so no time is taken from it.
	cut := out[:bytes.Index(out, []byte("=== example"))]
	if s := summary(cut); s != "" || ranTests.MatchString(s) {
		t.Errorf("cut output: summary %q", s)
	}
	if ranTests.MatchString("Ran 0 tests: passed: 0") {
		t.Error("a run of no test counted")
	}
}

// The cache directory depends on everything that decides the kunit kernel.
func TestBuildDirKey(t *testing.T) {
	var o Options
	o.Source.ID, o.CacheDir = "debian:linux-source-6.1:6.1.192-3", "/c"
	o.Arch, _ = arches.Lookup("x86_64")
	a := buildDir(o, ExampleConfig)
	if b := buildDir(o, ExampleConfig+"CONFIG_LIST_KUNIT_TEST=y\n"); a == b {
		t.Error("kunitconfig not in the key")
	}
	o2 := o
	o2.Source.ID = "debian:linux-source-6.12:6.12.117-1~deb12u1"
	if buildDir(o2, ExampleConfig) == a {
		t.Error("source not in the key")
	}
}
