package arches

import "time"

// armv5: little-endian, 32-bit ARM926EJ-S on the Versatile PB board. Its
// caches are virtually indexed and tagged (VIVT): real hardware is where
// the kmap alias bug the seed patch targets can show; QEMU cannot show it.
// The board takes at most 256 MiB and one CPU; power-off halts without
// ending QEMU, which the agent's reboot avoids.
var armv5 = &Arch{
	Name: "armv5",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "arm",
		CrossCompile: "arm-linux-gnueabi-",
		CrossPackage: "gcc-arm-linux-gnueabi",
		MakeTarget:   "zImage versatile-pb.dtb",
		Image:        "arch/arm/boot/zImage",
		DTB:          "arch/arm/boot/dts/versatile-pb.dtb",
		Fragment: `CONFIG_MMU=y
# CONFIG_ARCH_MULTI_V7 is not set
CONFIG_ARCH_MULTI_V5=y
CONFIG_ARCH_VERSATILE=y
CONFIG_AEABI=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_POWER_RESET=y
CONFIG_POWER_RESET_VERSATILE=y
CONFIG_COMPAT_32BIT_TIME=y
# CONFIG_SMP is not set
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-arm",
		QEMUPackage: "qemu-system-arm",
		Machine:     "versatilepb",
		MemoryMB:    256,
		SMP:         1,
		Console:     "ttyAMA0",
		QEMUArgs:    []string{"-audiodev", "none,id=snd0"},
		Timeout:     240 * time.Second,
	},
	ABI: ABI{
		WordBits: 32,
	},
	Go: GoPorts{
		GOARCH: "arm",
		GOARM:  "5",
	},
	AliasingCaches: true,
}
