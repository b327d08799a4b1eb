package arches

import (
	"time"

	"dirtygate/guest/errno"
	"dirtygate/guest/ioctl"
)

// sparc32-smp: the sun4m SMP build (SparcStation 20, two CPUs). 6.1 has no
// arch_futex_atomic_op_inuser for SPARC32 && SMP (asm-generic/futex.h
// defines it only for !SMP, and FUTEX itself depends on !(SPARC32 && SMP)),
// so a futex-based log patch must not assume the helper: here the seed
// patch fails to compile, which the gate reports as a build-failure
// finding with the compiler's error. Build-only: see BuildOnly.
func init() {
	register(&Arch{
		Name:         "sparc32-smp",
		KernelArch:   "sparc",
		CrossCompile: "sparc64-linux-gnu-",
		CrossPackage: "gcc-sparc64-linux-gnu",
		MakeTarget:   "zImage",
		Image:        "arch/sparc/boot/zImage",
		Fragment: `# CONFIG_64BIT is not set
CONFIG_SMP=y
# CONFIG_FUTEX is not set
CONFIG_SERIAL_SUNZILOG=y
CONFIG_SERIAL_SUNZILOG_CONSOLE=y
`,
		QEMU:        "qemu-system-sparc",
		QEMUPackage: "qemu-system-sparc",
		Machine:     "SS-20",
		MemoryMB:    256,
		SMP:         2,
		Console:     "ttyS0",
		BootTimeout: 300 * time.Second,
		BigEndian:   true,
		WordBits:    32,

		Ioctl:            ioctl.ThreeBit,
		Errno:            errno.Sparc,
		ExecutorCFlags:   []string{"-m32", "-mcpu=v8"},
		ExecutorPackages: []string{"linux-libc-dev-sparc64-cross"},
		AliasingCaches:   true,
		BuildOnly: "under QEMU 7.2's SS-20 with two CPUs the executor's first write to a page " +
			"between PROT_NONE guard pages never returns (seen with every scenario; not diagnosed: " +
			"kernel or emulation), so no scenario could decide; the build is what this arch checks",
	})
}
