package arches

import "time"

// riscv64: little-endian, 64-bit; QEMU's virt machine with the OpenSBI
// firmware the qemu package ships. Go needs the FPU. It runs UP: with
// -smp 2, while three vhost workers share the agent's mm (concurrent),
// the agent faults in the vDSO (clock_gettime reading address 0x4) and
// init dies, in 4 of 5 runs of the 6.1 baseline; with -smp 1 never. Not
// diagnosed: QEMU 7.2's riscv64 MTTCG, or 6.1's riscv TLB handling for
// kthread_use_mm.
var riscv64 = &Arch{
	Name: "riscv64",
	Mode: GoAgent,
	Build: Build{
		KernelArch:   "riscv",
		CrossCompile: "riscv64-linux-gnu-",
		CrossPackage: "gcc-riscv64-linux-gnu",
		MakeTarget:   "Image",
		Image:        "arch/riscv/boot/Image",
		KUnit:        "riscv",
		Fragment: `CONFIG_MMU=y
CONFIG_ARCH_RV64I=y
CONFIG_SOC_VIRT=y
CONFIG_FPU=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SERIAL_OF_PLATFORM=y
`,
		KASAN: true,
	},
	Boot: Boot{
		QEMU:        "qemu-system-riscv64",
		QEMUPackage: "qemu-system-misc",
		Machine:     "virt",
		MemoryMB:    512,
		SMP:         1,
		Console:     "ttyS0",
		KVMHost:     "riscv64",
		Timeout:     180 * time.Second,
		// QEMU 7.2's device tree names a hart's extensions only in
		// "riscv,isa", which 6.12 parses only with RISCV_ISA_FALLBACK
		// (tinyconfig leaves it off) or this parameter; without either it
		// finds no valid hart and stops in setup_smp() before the console
		// is up. 6.1 always parses it and passes the unknown parameter on
		// to init, which ignores it.
		KernelArgs: []string{"riscv_isa_fallback"},
	},
	ABI: ABI{
		WordBits: 64,
	},
	Go: GoPorts{
		GOARCH: "riscv64",
	},
	NoCompat: "Go has no riscv32 port",
}
