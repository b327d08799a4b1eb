package arches

import "time"

// armv7: little-endian, 32-bit (Cortex-A15 on QEMU's virt machine). Go
// binaries on a 32-bit kernel need COMPAT_32BIT_TIME, or clock_gettime and
// futex fail and the runtime dies with "nanotime returning zero".
var armv7 = &Arch{
	Name: "armv7",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "arm",
		CrossCompile: "arm-linux-gnueabihf-",
		CrossPackage: "gcc-arm-linux-gnueabihf",
		MakeTarget:   "zImage",
		Image:        "arch/arm/boot/zImage",
		KUnit:        "arm",
		Fragment: `CONFIG_MMU=y
CONFIG_ARCH_MULTI_V7=y
CONFIG_ARCH_VIRT=y
CONFIG_AEABI=y
CONFIG_VFP=y
CONFIG_VFPv3=y
CONFIG_NEON=y
CONFIG_ARM_PSCI=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_COMPAT_32BIT_TIME=y
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-arm",
		QEMUPackage: "qemu-system-arm",
		Machine:     "virt",
		CPU:         "cortex-a15",
		MemoryMB:    512,
		SMP:         2,
		Console:     "ttyAMA0",
		Timeout:     180 * time.Second,
	},
	ABI: ABI{
		WordBits: 32,
	},
	Go: GoPorts{
		GOARCH: "arm",
		GOARM:  "7",
	},
}
