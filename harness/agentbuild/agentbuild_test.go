package agentbuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"dirtygate"
	"dirtygate/arches"
)

// Outside a checkout (go install, a CI image) the agent is built from the
// copy of its source inside the binary.
func TestAgentBuildsOutsideTheCheckout(t *testing.T) {
	t.Setenv("DIRTYGATE_ROOT", "")
	t.Chdir(t.TempDir())
	if _, err := Root(); err == nil {
		t.Fatal("a checkout found from a temporary directory")
	}
	a, _ := arches.Lookup("x86_64")
	if err := os.Mkdir("out", 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := Build(context.Background(), a, "out", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the agent: %v", err)
	}
}

// The executor is compiled once per source, compiler and flags: a second
// build copies the cached binary (shown by planting a marker in the
// cache), another arch's flags get their own, and a cache entry is never
// half-written.
func TestExecutorCached(t *testing.T) {
	a, err := arches.Lookup("hppa")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	first, err := BuildExecutor(context.Background(), a, t.TempDir(), cache)
	if err != nil {
		t.Fatal(err)
	}
	kept := copiedFromCache(t, filepath.Join(cache, "executor", "hppa-*"), func() (string, error) {
		return BuildExecutor(context.Background(), a, t.TempDir(), cache)
	})
	if built, _ := os.ReadFile(first); !bytes.Equal(built, kept) {
		t.Fatal("the cached executor differs from the one built")
	}
	other := *a
	other.Executor.CFlags = append(append([]string(nil), a.Executor.CFlags...), "-DDIRTYGATE_TEST_FLAG")
	if _, err := BuildExecutor(context.Background(), &other, t.TempDir(), cache); err != nil {
		t.Fatal(err)
	}
	if all, _ := filepath.Glob(filepath.Join(cache, "executor", "*")); len(all) != 2 {
		t.Fatalf("cache holds %v: other flags must get their own entry", all)
	}
}

// The agent is built once per source, toolchain and target: a second build
// copies the cached binary (a planted marker shows it), and a change to
// any file of the agent's packages builds anew.
func TestAgentCached(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, dirtygate.AgentSource); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DIRTYGATE_ROOT", root)
	a, _ := arches.Lookup("x86_64")
	cache := t.TempDir()
	if _, err := Build(context.Background(), a, t.TempDir(), cache); err != nil {
		t.Fatal(err)
	}
	copiedFromCache(t, filepath.Join(cache, "agent", "amd64-*"), func() (string, error) {
		return Build(context.Background(), a, t.TempDir(), cache)
	})
	f := filepath.Join(root, "vmm", "record", "types.go")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(b, "\n// changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := Build(context.Background(), a, t.TempDir(), cache)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(changed); string(b) == "marker" {
		t.Fatal("a changed source file was built from the cache")
	}
}

// copiedFromCache checks the cache holds one entry matching glob, plants a
// marker there and builds again: the build must hand back the marker (it
// copied, it did not build). It returns what the entry held.
func copiedFromCache(t *testing.T, glob string, build func() (string, error)) []byte {
	t.Helper()
	kept, _ := filepath.Glob(glob)
	if len(kept) != 1 {
		t.Fatalf("cache holds %v after the first build, want one entry", kept)
	}
	held, _ := os.ReadFile(kept[0])
	if err := os.WriteFile(kept[0], []byte("marker"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(again); string(b) != "marker" {
		t.Fatal("the second build built again instead of copying the cached binary")
	}
	return held
}
