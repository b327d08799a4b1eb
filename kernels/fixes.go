package kernels

import "embed"

// Build fixes: the smallest change that lets a kernel source compile for an
// arch it otherwise cannot, kernels/fixes/SERIES/ARCH.patch, each with a
// header saying what is broken. They are not under test: every build of
// that (series, arch) applies its fix before any other patch, base and
// candidate alike, and the report lists it like any patch.
//
//go:embed fixes
var fixes embed.FS

// BuildFix returns the build fix of series (e.g. "6.12") for arch, if any.
func BuildFix(series, arch string) (Patch, bool) {
	file := "fixes/" + series + "/" + arch + ".patch"
	b, err := fixes.ReadFile(file)
	if err != nil {
		return Patch{}, false
	}
	p := newPatch("build-fix-"+arch, b)
	p.File = "kernels/" + file
	return p, true
}
