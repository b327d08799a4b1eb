package arches

import "time"

// sh4: 32-bit little-endian SuperH (QEMU's r2d). Its caches are virtually
// indexed and alias, so it matters; but Debian's gcc-sh4-linux-gnu 12.2
// miscompiles the kernel at -O1 and above (it drops a load of a global),
// and a 6.1 kernel built with it does not boot under QEMU 7.2. Kept here,
// marked unsupported, so `dirtygate arches` and the README say why.
var sh4 = &Arch{
	Name: "sh4",
	Mode: Unsupported,
	Why: "Debian's gcc-sh4-linux-gnu 12.2 miscompiles at -O1+ (drops a global load): " +
		"a 6.1 kernel built with it does not boot under QEMU 7.2. Go has no sh4 port and the " +
		"executor has no sh4 system-call glue yet, so there is no --target path either",
	Build: Build{
		KernelArch:   "sh",
		CrossCompile: "sh4-linux-gnu-",
		CrossPackage: "gcc-sh4-linux-gnu",
		MakeTarget:   "zImage",
		Image:        "arch/sh/boot/zImage",
		Fragment: `CONFIG_CPU_SUBTYPE_SH7751R=y
CONFIG_SH_RTS7751R2D=y
CONFIG_SERIAL_SH_SCI=y
CONFIG_SERIAL_SH_SCI_CONSOLE=y
# CONFIG_SMP is not set
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-sh4",
		QEMUPackage: "qemu-system-misc",
		Machine:     "r2d",
		MemoryMB:    64,
		SMP:         1,
		Console:     "ttySC1",
		Timeout:     120 * time.Second,
	},
	ABI: ABI{
		WordBits: 32,
	},
	AliasingCaches: true,
}
