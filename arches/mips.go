package arches

import (
	"time"

	"dirtygate/vmm/errno"
)

// mips: big-endian, 32-bit (MIPS 24Kc on the Malta board). Here u32 words
// are the ABI's unsigned longs, so the seed patch misplaces nothing; a
// byte-wise writer would land at page XOR 24. The 24Kc has no FPU
// (GOMIPS=softfloat); SMP on Malta boots but stalls, so it runs UP. Many
// MIPS32 cores have virtually indexed data caches larger than a page per
// way (a 32 KiB 4-way 24K aliases), so real hardware may show the alias.
var mips = &Arch{
	Name: "mips",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "mips",
		CrossCompile: "mips-linux-gnu-",
		CrossPackage: "gcc-mips-linux-gnu",
		MakeTarget:   "vmlinux",
		Image:        "vmlinux",
		Fragment: `CONFIG_MIPS_MALTA=y
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_CPU_MIPS32_R2=y
CONFIG_32BIT=y
CONFIG_PCI=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_POWER_RESET=y
CONFIG_POWER_RESET_PIIX4_POWEROFF=y
CONFIG_POWER_RESET_SYSCON=y
CONFIG_COMPAT_32BIT_TIME=y
# CONFIG_SMP is not set
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-mips",
		QEMUPackage: "qemu-system-mips",
		Machine:     "malta",
		MemoryMB:    256,
		SMP:         1,
		Console:     "ttyS0",
		Timeout:     240 * time.Second,
	},
	ABI: ABI{
		Errno:     errno.Mips,
		BigEndian: true,
		WordBits:  32,
	},
	Go: GoPorts{
		GOARCH: "mips",
		GOMIPS: "softfloat",
	},
	// Depends on the core's cache geometry; assume the worst.
	AliasingCaches: true,
}
