package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGateSidesRevisions(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	tree := t.TempDir()
	for _, args := range [][]string{{"init", "-q"}, {"commit", "-q", "--allow-empty", "-m", "a"}, {"tag", "a"},
		{"commit", "-q", "--allow-empty", "-m", "b"}, {"tag", "b"}} {
		cmd := exec.Command("git", append([]string{"-C", tree, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	patch := filepath.Join(t.TempDir(), "fix.patch")
	os.WriteFile(patch, []byte("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"), 0o644)
	ctx := context.Background()
	for _, tc := range []struct {
		kernels, bases, cands []string
		want                  string // base kernels/patches | candidate kernels/patches
	}{
		{[]string{tree}, []string{"a"}, []string{"b"}, "T@a/ | T@b/"},
		{[]string{tree}, nil, []string{"a..b"}, "T@a/ | T@b/"},
		{[]string{tree}, []string{"a"}, []string{"rfc-v2"}, "T@a/ | T/rfc-v2"},
		{[]string{tree}, nil, []string{patch}, "T/ | T/P"},
		{[]string{"6.1"}, nil, []string{"futex-fixed"}, "6.1/ | 6.1/futex-fixed"},
	} {
		sides, err := gateSides(ctx, tc.kernels, tc.bases, tc.cands)
		if err != nil {
			t.Errorf("%v: %v", tc, err)
			continue
		}
		var got []string
		for _, s := range sides {
			got = append(got, strings.Join(s.kernels, ",")+"/"+strings.Join(s.patches, ","))
		}
		g := strings.NewReplacer(tree, "T", patch, "P").Replace(strings.Join(got, " | "))
		if g != tc.want {
			t.Errorf("gate --kernel %v --base %v --candidate %v: %s, want %s", tc.kernels, tc.bases, tc.cands, g, tc.want)
		}
	}
	_, err := gateSides(ctx, []string{tree}, []string{"a"}, []string{"nosuch"})
	if err == nil || !strings.Contains(err.Error(), "neither a patch nor a revision") {
		t.Errorf("unknown revision: %v", err)
	}
	if !slices.Equal(gitTrees(ctx, []string{tree, "6.12"}), nil) {
		t.Error("a Debian source among the trees was taken for a git tree")
	}
}
