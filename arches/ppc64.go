package arches

import "time"

// ppc64: big-endian, 64-bit pseries. The seed patch's u32 words misplace
// bits at XOR 32 here too. x-vof=on boots in under a second where SLOF
// takes 8; the cap-* settings silence TCG's missing security features.
// Go's linux/ppc64 port needs POWER8 or later.
var ppc64 = &Arch{
	Name: "ppc64",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "powerpc",
		CrossCompile: "powerpc64-linux-gnu-",
		CrossPackage: "gcc-powerpc64-linux-gnu",
		MakeTarget:   "vmlinux",
		Image:        "vmlinux",
		KUnit:        "powerpc",
		Fragment: `CONFIG_PPC64=y
CONFIG_PPC_BOOK3S_64=y
CONFIG_CPU_BIG_ENDIAN=y
CONFIG_PPC_PSERIES=y
CONFIG_HVC_CONSOLE=y
CONFIG_PPC_FPU=y
CONFIG_ALTIVEC=y
CONFIG_VSX=y
CONFIG_PPC_OF_BOOT_TRAMPOLINE=y
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-ppc64",
		QEMUPackage: "qemu-system-ppc",
		Machine:     "pseries,x-vof=on,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off",
		CPU:         "POWER9",
		MemoryMB:    512,
		SMP:         2,
		Console:     "hvc0",
		KVMHost:     "ppc64",
		Timeout:     240 * time.Second,
	},
	ABI: ABI{
		BigEndian: true,
		WordBits:  64,
	},
	Go: GoPorts{
		GOARCH: "ppc64",
	},
	NoCompat: "Go has no 32-bit powerpc port, so no 32-bit VMM can be built for ppc64's compat layer (where a 32-bit VMM on this big-endian 64-bit kernel would read set_bit's 64-bit placement as u32 words: page p at p XOR 32)",
}
