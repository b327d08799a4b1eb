package arches

import "time"

var x86_64 = &Arch{
	Name: "x86_64",
	Mode: GoAgent,
	Build: Build{
		KernelArch: "x86_64",
		MakeTarget: "bzImage",
		Image:      "arch/x86/boot/bzImage",
		KUnit:      "x86_64",
		// LZ4, not tinyconfig's XZ: decompressing the bzImage was ~0.8 s
		// of every boot under TCG (2.6-2.8 s -> 1.7-2.2 s, alternating).
		// No cpufreq (intel_pstate is 6 CPU-s of the build), which
		// SCHED_MC_PRIO would select.
		Fragment: `CONFIG_64BIT=y
CONFIG_KERNEL_LZ4=y
CONFIG_IA32_EMULATION=y
CONFIG_COMPAT_32BIT_TIME=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
# CONFIG_SCHED_MC_PRIO is not set
# CONFIG_CPU_FREQ is not set
`,
		KASAN: true,
	},
	Boot: Boot{
		QEMU:        "qemu-system-x86_64",
		QEMUPackage: "qemu-system-x86",
		Machine:     "q35",
		MemoryMB:    512,
		SMP:         2,
		Console:     "ttyS0",
		// qboot boots faster than SeaBIOS; -nic none skips the network ROM.
		QEMUArgs: []string{"-bios", "/usr/share/qemu/qboot.rom"},
		KVMHost:  "amd64",
		Timeout:  240 * time.Second, // boot and every scenario: ~75 s here, far more when the 2 cores are shared
	},
	ABI: ABI{
		WordBits: 64,
	},
	Go: GoPorts{
		GOARCH:       "amd64",
		CompatGOARCH: "386",
	},
}
