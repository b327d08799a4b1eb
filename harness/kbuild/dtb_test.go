package kbuild

import (
	"os"
	"path/filepath"
	"testing"

	"dirtygate/arches"
)

// armv5's device tree is where 6.1 keeps it in a 6.1 tree, and where 6.12
// keeps it (arch/arm/boot/dts/arm/, since 6.5) in a 6.12 tree: the paths
// of Debian's linux-source-6.1 and -6.12.
func TestTreeLayout(t *testing.T) {
	armv5, err := arches.Lookup("armv5")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dts, target, dtb string
	}{
		{"arch/arm/boot/dts/versatile-pb.dts", "zImage versatile-pb.dtb", "arch/arm/boot/dts/versatile-pb.dtb"},
		{"arch/arm/boot/dts/arm/versatile-pb.dts", "zImage arm/versatile-pb.dtb", "arch/arm/boot/dts/arm/versatile-pb.dtb"},
	} {
		src := t.TempDir()
		p := filepath.Join(src, tc.dts)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, nil, 0o644)
		os.MkdirAll(filepath.Join(src, "arch/arm/boot/dts/arm2"), 0o755) // another vendor, without it
		b := treeLayout(src, armv5.Build)
		if b.MakeTarget != tc.target || b.DTB != tc.dtb {
			t.Errorf("%s: target %q dtb %q, want %q %q", tc.dts, b.MakeTarget, b.DTB, tc.target, tc.dtb)
		}
	}
	// Nowhere, or in two vendors' directories: left for make to report.
	src := t.TempDir()
	for _, v := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(src, "arch/arm/boot/dts", v), 0o755)
		os.WriteFile(filepath.Join(src, "arch/arm/boot/dts", v, "versatile-pb.dts"), nil, 0o644)
	}
	if b := treeLayout(src, armv5.Build); b.MakeTarget != armv5.Build.MakeTarget || b.DTB != armv5.Build.DTB {
		t.Errorf("ambiguous: %+v", b)
	}
}
