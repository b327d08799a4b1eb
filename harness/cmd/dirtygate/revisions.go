package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"dirtygate/kernels"
)

// gateSide is what one side of the gate builds: kernel specs and patches.
type gateSide struct {
	name    string
	kernels []string
	patches []string
}

// gateSides turns gate's --kernel, --base and --candidate into its two
// sides. With --kernel naming git trees, a --base or --candidate that is
// not a patch (a built-in name or a file: those win) but a commit of every
// tree gates revisions: `--kernel DIR --base REV --candidate REV` builds
// DIR@REV on each side; `--candidate A..B` without --base is base A,
// candidate B. Otherwise both sides build the same kernels, with their
// patches.
func gateSides(ctx context.Context, ks []string, bases, cands []string) ([]gateSide, error) {
	base := gateSide{name: "base", kernels: ks, patches: bases}
	cand := gateSide{name: "candidate", kernels: ks, patches: cands}
	trees := gitTrees(ctx, ks)
	if trees == nil {
		return []gateSide{base, cand}, nil
	}
	if len(bases) == 0 && len(cands) == 1 && strings.Contains(cands[0], "..") && !isPatch(cands[0]) {
		from, to, _ := strings.Cut(cands[0], "..")
		if strings.HasPrefix(to, ".") || from == "" || to == "" {
			return nil, fmt.Errorf("--candidate %s: give a range as BASE..CANDIDATE (two revisions)", cands[0])
		}
		bases, cands = []string{from}, []string{to}
		base.patches, cand.patches = bases, cands
	}
	for _, side := range []*gateSide{&base, &cand} {
		if len(side.patches) != 1 || isPatch(side.patches[0]) {
			continue
		}
		rev := side.patches[0]
		var specs []string
		for _, t := range trees {
			if _, err := kernels.Commit(ctx, t, rev); err != nil {
				return nil, fmt.Errorf("--%s %s is neither a patch nor a revision of every --kernel tree: %v", side.name, rev, err)
			}
			specs = append(specs, t+"@"+rev)
		}
		side.kernels, side.patches = specs, nil
	}
	return []gateSide{base, cand}, nil
}

// gitTrees returns the --kernel values when every one is a git tree's
// directory, else nil.
func gitTrees(ctx context.Context, ks []string) []string {
	for _, k := range ks {
		if _, ok := kernels.LookupDebian(k); ok {
			return nil
		}
		if st, err := os.Stat(k); err != nil || !st.IsDir() || !kernels.IsRevision(ctx, k, "HEAD") {
			return nil
		}
	}
	return ks
}

// isPatch reports whether a --base/--candidate value names a patch.
func isPatch(arg string) bool {
	_, err := kernels.ResolvePatch(arg)
	return err == nil
}
