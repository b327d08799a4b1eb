package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"dirtygate/arches"
)

// warmGuest leaves the agent in the cache, where buildGuest copies it
// from; stopped before it ends, it leaves nothing there.
func TestWarmGuestFillsTheCache(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	cached := func(cache string) []string {
		m, _ := filepath.Glob(filepath.Join(cache, "agent", "amd64-*"))
		return m
	}

	o := Options{Arch: a, CacheDir: t.TempDir(), Only: []string{"rx-spread"}} // no compat: one agent
	warmGuest(context.Background(), o)()
	if got := cached(o.CacheDir); len(got) != 1 {
		t.Fatalf("after warmGuest the cache holds %v, want the amd64 agent", got)
	}
	before, _ := os.Stat(cached(o.CacheDir)[0])
	if _, _, err := guestPrograms(context.Background(), a, t.TempDir(), o.CacheDir, o.Only); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(cached(o.CacheDir)[0]); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the build after warmGuest wrote the cached agent again")
	}

	stopped := Options{Arch: a, CacheDir: t.TempDir(), Only: o.Only}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	warmGuest(ctx, stopped)()
	if got := cached(stopped.CacheDir); len(got) != 0 {
		t.Errorf("a stopped warmGuest cached %v", got)
	}
}
