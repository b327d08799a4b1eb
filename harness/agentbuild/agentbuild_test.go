package agentbuild

import (
	"context"
	"os"
	"testing"

	"dirtygate/arches"
)

// The agent is shared by every Go arch, 32-bit ones included: a constant
// that overflows int on 386, arm or mips breaks only those builds, which
// no x86_64 test would notice until a matrix job.
func TestAgentBuildsForEveryGoArch(t *testing.T) {
	ctx := context.Background()
	for _, name := range arches.Names() {
		a, err := arches.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if a.UsesExecutor() {
			continue
		}
		if _, err := Build(ctx, a, t.TempDir()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if a.Go.CompatGOARCH != "" {
			if _, err := BuildCompat(ctx, a, t.TempDir()); err != nil {
				t.Errorf("%s compat: %v", name, err)
			}
		}
	}
}

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
	bin, err := Build(context.Background(), a, "out")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the agent: %v", err)
	}
}
