package arches

import "time"

// i386: little-endian, 32-bit x86.
var i386 = &Arch{
	Name: "i386",
	Mode: GoAgent,
	Build: Build{
		KernelArch: "i386",
		MakeTarget: "bzImage",
		Image:      "arch/x86/boot/bzImage",
		KUnit:      "i386",
		Fragment: `# CONFIG_64BIT is not set
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_COMPAT_32BIT_TIME=y
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-i386",
		QEMUPackage: "qemu-system-x86",
		Machine:     "q35",
		MemoryMB:    512,
		SMP:         2,
		Console:     "ttyS0",
		QEMUArgs:    []string{"-bios", "/usr/share/qemu/qboot.rom"},
		KVMHost:     "amd64",
		Timeout:     180 * time.Second,
	},
	ABI: ABI{
		WordBits: 32,
	},
	Go: GoPorts{
		GOARCH: "386",
	},
}
