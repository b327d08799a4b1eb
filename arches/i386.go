package arches

import "time"

// i386: little-endian, 32-bit x86.
func init() {
	register(&Arch{
		Name:       "i386",
		KernelArch: "i386",
		MakeTarget: "bzImage",
		Image:      "arch/x86/boot/bzImage",
		Fragment: `# CONFIG_64BIT is not set
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_COMPAT_32BIT_TIME=y
`,
		QEMU:        "qemu-system-i386",
		QEMUPackage: "qemu-system-x86",
		Machine:     "q35",
		MemoryMB:    512,
		SMP:         2,
		Console:     "ttyS0",
		QEMUArgs:    []string{"-bios", "/usr/share/qemu/qboot.rom"},
		KVMHost:     "amd64",
		BootTimeout: 180 * time.Second,
		GOARCH:      "386",
		WordBits:    32,
	})
}
