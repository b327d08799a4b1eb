package arches

import "time"

// arm64: little-endian, 64-bit; no aliasing caches on ARMv8.
var arm64 = &Arch{
	Name: "arm64",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "arm64",
		CrossCompile: "aarch64-linux-gnu-",
		CrossPackage: "gcc-aarch64-linux-gnu",
		MakeTarget:   "Image",
		Image:        "arch/arm64/boot/Image",
		KUnit:        "arm64",
		Fragment: `CONFIG_COMPAT=y
CONFIG_COMPAT_32BIT_TIME=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
`,
		KASAN: true,
	},
	Boot: Boot{
		QEMU:        "qemu-system-aarch64",
		QEMUPackage: "qemu-system-arm",
		Machine:     "virt",
		CPU:         "cortex-a57",
		MemoryMB:    512,
		SMP:         2,
		Console:     "ttyAMA0",
		KVMHost:     "arm64",
		Timeout:     180 * time.Second,
	},
	ABI: ABI{
		WordBits: 64,
	},
	Go: GoPorts{
		GOARCH:       "arm64",
		CompatGOARCH: "arm", // cortex-a57 runs AArch32 at EL0
		CompatGOARM:  "7",
	},
}
