package arches

import "time"

// s390x: big-endian, 64-bit. The seed patch's u32 words disagree with the
// ABI's unsigned long here (page p lands at p XOR 32).
var s390x = &Arch{
	Name: "s390x",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "s390",
		CrossCompile: "s390x-linux-gnu-",
		CrossPackage: "gcc-s390x-linux-gnu",
		MakeTarget:   "bzImage",
		Image:        "arch/s390/boot/bzImage",
		KUnit:        "s390",
		// LZ4, not tinyconfig's XZ, as x86_64: decompressing the image was
		// ~0.7 s of every boot under TCG (1.39-1.58 s -> 0.68-0.82 s).
		Fragment: `CONFIG_64BIT=y
CONFIG_KERNEL_LZ4=y
CONFIG_SCLP_TTY=y
CONFIG_SCLP_CONSOLE=y
CONFIG_SCLP_VT220_TTY=y
CONFIG_SCLP_VT220_CONSOLE=y
`,
		KASAN: true,
	},
	Boot: Boot{
		QEMU:        "qemu-system-s390x",
		QEMUPackage: "qemu-system-misc",
		Machine:     "s390-ccw-virtio",
		MemoryMB:    512,
		SMP:         2,
		Console:     "ttysclp0",
		KVMHost:     "s390x",
		Timeout:     180 * time.Second,
	},
	ABI: ABI{
		BigEndian: true,
		WordBits:  64,
	},
	Go: GoPorts{
		GOARCH: "s390x",
	},
	NoCompat: "Go has no 31-bit s390 port, so no 32-bit VMM can be built for s390x's compat layer (where a 32-bit VMM on this big-endian 64-bit kernel would read set_bit's 64-bit placement as u32 words: page p at p XOR 32)",
}
