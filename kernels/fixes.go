package kernels

import "embed"

// Build fixes: the smallest change that lets a kernel source compile for an
// arch it otherwise cannot, kernels/fixes/SERIES/KARCH.patch (KARCH: the
// kernel's name for the arch, ARCH= of make, as in arch/KARCH), each with a
// header saying what is broken. They are not under test: every build of
// that (series, arch) applies its fix before any other patch, base and
// candidate alike, and the report lists it like any patch.
//
//go:embed fixes
var fixes embed.FS

// BuildFix returns the build fix of series (e.g. "6.12") for the kernel
// arch karch ("alpha", "sparc"), if any.
func BuildFix(series, karch string) (Patch, bool) {
	file := "fixes/" + series + "/" + karch + ".patch"
	b, err := fixes.ReadFile(file)
	if err != nil {
		return Patch{}, false
	}
	p := newPatch("build-fix-"+karch, b)
	p.File = "kernels/" + file
	return p, true
}
