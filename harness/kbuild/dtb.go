package kbuild

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"dirtygate/arches"
)

// treeLayout returns b with its device tree targets placed where the tree
// at src keeps them. Linux 6.5 moved ARM's device trees into a directory
// per vendor (arch/arm/boot/dts/versatile-pb.dts became
// arch/arm/boot/dts/arm/versatile-pb.dts, and its make target
// arm/versatile-pb.dtb): arches/ names the flat place, and a tree without
// the file there gets the one file of that name in a vendor directory.
// Anything else is left as it is, for make to say what is missing.
func treeLayout(src string, b arches.Build) arches.Build {
	dts := filepath.Join(src, "arch", b.KernelArch, "boot", "dts")
	moved := map[string]string{} // "versatile-pb.dtb" -> "arm/versatile-pb.dtb"
	fields := strings.Fields(b.MakeTarget)
	for i, t := range fields {
		if !strings.HasSuffix(t, ".dtb") || strings.Contains(t, "/") {
			continue
		}
		name := strings.TrimSuffix(t, ".dtb") + ".dts"
		if _, err := os.Stat(filepath.Join(dts, name)); err == nil {
			continue
		}
		found, _ := filepath.Glob(filepath.Join(dts, "*", name))
		if len(found) != 1 {
			continue
		}
		vendor := filepath.Base(filepath.Dir(found[0]))
		moved[t] = vendor + "/" + t
		fields[i] = moved[t]
	}
	b.MakeTarget = strings.Join(fields, " ")
	if to, ok := moved[path.Base(b.DTB)]; ok && path.Dir(b.DTB) == path.Join("arch", b.KernelArch, "boot", "dts") {
		b.DTB = path.Join("arch", b.KernelArch, "boot", "dts", to)
	}
	return b
}
