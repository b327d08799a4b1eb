package kernels

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitTree makes a git repository that looks like a kernel tree, with two
// commits (tags v1 and v2) that differ in SUBLEVEL and vhost.c.
func gitTree(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(f, s string) {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("Makefile", "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 1\nEXTRAVERSION =\n")
	write("drivers/vhost/vhost.c", "one\n")
	write("scripts/kconfig/merge_config.sh", "#!/bin/sh\n")
	git("add", "-A")
	git("commit", "-q", "-m", "one")
	git("tag", "v1")
	write("Makefile", "VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 0\nEXTRAVERSION = -rc1\n")
	write("drivers/vhost/vhost.c", "two\n")
	git("commit", "-q", "-am", "two")
	git("tag", "v2")
	// An uncommitted change in the user's checkout: a revision ignores it
	// and the export leaves it alone.
	write("drivers/vhost/vhost.c", "dirty\n")
	return dir
}

func TestRevisionSourceExportsTheCommitOnly(t *testing.T) {
	tree, cache := gitTree(t), t.TempDir()
	ctx := context.Background()
	s1, err := Resolve(ctx, tree+"@v1", cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Resolve(ctx, tree+"@v2", cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Version != "6.12.1" || s2.Version != "6.13.0-rc1" {
		t.Errorf("versions %q %q, want 6.12.1 6.13.0-rc1", s1.Version, s2.Version)
	}
	if s1.ID == s2.ID || !strings.HasPrefix(s1.ID, "git:") || s1.Name != "tree" || s1.Origin != tree {
		t.Errorf("sources %+v %+v", s1, s2)
	}
	for s, want := range map[Source]string{s1: "one\n", s2: "two\n"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, "drivers/vhost/vhost.c"))
		if err != nil || string(b) != want {
			t.Errorf("%s: vhost.c %q %v, want %q", s.ID, b, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "drivers/vhost/vhost.c")); string(b) != "dirty\n" {
		t.Errorf("the user's checkout changed: %q", b)
	}
	// The same commit by another name is the same source, exported once.
	head, err := Resolve(ctx, tree+"@v2~0", cache, nil)
	if err != nil || head.ID != s2.ID || head.Dir != s2.Dir {
		t.Errorf("v2~0: %+v %v, want %+v", head, err, s2)
	}
}

func TestRevisionErrorsNameTheCause(t *testing.T) {
	tree, cache := gitTree(t), t.TempDir()
	_, err := Resolve(context.Background(), tree+"@nosuchrev", cache, nil)
	if err == nil || !strings.Contains(err.Error(), `no commit "nosuchrev"`) {
		t.Errorf("unknown revision: %v", err)
	}
	plain := t.TempDir()
	_, err = Resolve(context.Background(), plain+"@v1", cache, nil)
	if err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("not a repository: %v", err)
	}
	if _, _, ok := SplitRevision("6.12"); ok {
		t.Error("6.12 split as a revision")
	}
}

// Two exports of one commit at once: one fills the tree, the other waits
// and uses it.
func TestConcurrentExportsUnpackOnce(t *testing.T) {
	tree, cache := gitTree(t), t.TempDir()
	var wg sync.WaitGroup
	var logs [2]strings.Builder
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Resolve(context.Background(), tree+"@v1", cache, &logs[i])
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if n := strings.Count(logs[0].String()+logs[1].String(), "exporting"); n != 1 {
		t.Errorf("%d exports, want 1:\n%s\n%s", n, logs[0].String(), logs[1].String())
	}
}
