package arches

// sparc32-smp: the sun4m SMP build (SparcStation 20, two CPUs). 6.1 has no
// arch_futex_atomic_op_inuser for SPARC32 && SMP (asm-generic/futex.h
// defines it only for !SMP, and FUTEX itself depends on !(SPARC32 && SMP)),
// so a futex-based log patch must not assume the helper: here the seed
// patch fails to compile, which the gate reports as a build-failure
// finding with the compiler's error. Build-only: see Why. On a --target
// it would run the executor, as sparc32 does (Guest).
var sparc32SMP = func() *Arch {
	a := *sparc32 // the groups are values: changing a copy's leaves sparc32's alone
	a.Name = "sparc32-smp"
	a.Mode = BuildOnly
	a.Why = "under QEMU 7.2's SS-20 with two CPUs the executor's first write to a page " +
		"between PROT_NONE guard pages never returns (seen with every scenario; not diagnosed: " +
		"kernel or emulation), so no scenario could decide; the build is what this arch checks"
	a.Build.Fragment = `# CONFIG_64BIT is not set
CONFIG_SMP=y
# CONFIG_FUTEX is not set
CONFIG_SERIAL_SUNZILOG=y
CONFIG_SERIAL_SUNZILOG_CONSOLE=y
`
	a.Boot.Machine, a.Boot.SMP = "SS-20", 2
	a.SkipScenarios = nil // nothing boots: see Why
	return &a
}()
