package agentbuild

import (
	"context"
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
