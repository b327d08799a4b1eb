package arches

import (
	"time"

	"dirtygate/vmm/ioctl"
)

// m68k: 32-bit big-endian Motorola 68040 on QEMU's virt board. Go has no
// m68k port, so the host drives the C executor. The 68040's caches are
// physically indexed: nothing aliases; this arch covers a 32-bit
// big-endian kernel with its own futex helper.
var m68k = &Arch{
	Name: "m68k",
	Mode: CExecutor,
	Build: Build{
		KernelArch:   "m68k",
		CrossCompile: "m68k-linux-gnu-",
		CrossPackage: "gcc-m68k-linux-gnu",
		MakeTarget:   "vmlinux",
		Image:        "vmlinux",
		KUnit:        "m68k",
		Fragment: `CONFIG_MMU=y
CONFIG_M68KCLASSIC=y
# CONFIG_COLDFIRE is not set
CONFIG_VIRT=y
CONFIG_M68040=y
CONFIG_GOLDFISH_TTY=y
CONFIG_COMPAT_32BIT_TIME=y
# CONFIG_SMP is not set
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-m68k",
		QEMUPackage: "qemu-system-misc",
		Machine:     "virt",
		MemoryMB:    256,
		SMP:         1,
		Console:     "ttyGF0",
		Timeout:     300 * time.Second,
	},
	ABI: ABI{
		BigEndian: true,
		WordBits:  32,
		Ioctl:     ioctl.Generic,
	},
	Executor: ExecutorBuild{
		Libs:     []string{"-lgcc"},
		Packages: []string{"linux-libc-dev-m68k-cross"},
	},
}
