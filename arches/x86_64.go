package arches

import "time"

var x86_64 = &Arch{
	Name: "x86_64",
	Mode: GoAgent,
	Build: Build{
		KernelArch: "x86_64",
		// QEMU boots the ELF through its PVH entry (x86/HVM direct boot,
		// qboot included): no bzImage, so no compression, decompressor
		// and real-mode setup to build (~1.5 s of a patch swap's make,
		// 9.8-11.8 s -> 9.1-10.3 s; ~30 fewer objects cold) or to run at
		// boot (~0.1 s under TCG). PVH needs HYPERVISOR_GUEST, which
		// without PARAVIRT adds only the hypervisor detection.
		MakeTarget: "vmlinux",
		Image:      "vmlinux",
		KUnit:      "x86_64",
		// No cpufreq (intel_pstate is 6 CPU-s of the build), which
		// SCHED_MC_PRIO would select.
		Fragment: `CONFIG_64BIT=y
CONFIG_HYPERVISOR_GUEST=y
CONFIG_PVH=y
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
