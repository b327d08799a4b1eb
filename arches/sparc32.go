package arches

import (
	"time"

	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
)

// sparc32: 32-bit big-endian SPARC v8 (QEMU's SparcStation 5, sun4m),
// built with Debian's sparc64 gcc and CONFIG_64BIT off. Many sun4m CPUs
// have virtually indexed caches. Go has no 32-bit sparc port and Debian's
// 32-bit sparc libraries are v8plus (UltraSPARC only), so the executor is
// built -m32 -mcpu=v8 with raw system calls and no libgcc (there is no
// 32-bit one). UP: in 6.1 the SMP build has no arch_futex_atomic_op_inuser
// (FUTEX is dropped there), the case futex-based patches must guard.
// sparc32smp.go derives the SS-20 from this definition.
var sparc32 = &Arch{
	Name: "sparc32",
	Mode: CExecutor,
	Build: Build{
		KernelArch:   "sparc",
		CrossCompile: "sparc64-linux-gnu-",
		CrossPackage: "gcc-sparc64-linux-gnu",
		MakeTarget:   "zImage",
		Image:        "arch/sparc/boot/zImage",
		KUnit:        "sparc",
		Fragment: `# CONFIG_64BIT is not set
# CONFIG_SMP is not set
CONFIG_SERIAL_SUNZILOG=y
CONFIG_SERIAL_SUNZILOG_CONSOLE=y
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-sparc",
		QEMUPackage: "qemu-system-sparc",
		Machine:     "SS-5",
		MemoryMB:    256,
		SMP:         1,
		Console:     "ttyS0",
		Timeout:     300 * time.Second,
	},
	ABI: ABI{
		BigEndian: true,
		WordBits:  32,
		Ioctl:     ioctl.ThreeBit,
		Errno:     errno.Sparc,
	},
	Executor: ExecutorBuild{
		CFlags:   []string{"-m32", "-mcpu=v8"},
		Packages: []string{"linux-libc-dev-sparc64-cross"},
	},
	AliasingCaches: true,
	SkipScenarios: map[string]string{
		"log-noaccess": "after the executor makes a page PROT_NONE and read-write again, its next read of " +
			"that page never returns under QEMU 7.2's SS-5 (the same family as the 'Bad page map' " +
			"warnings and sparc32-smp's hang; not diagnosed)",
	},
}
