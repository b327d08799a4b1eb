package arches

import (
	"time"

	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
)

// hppa: 32-bit PA-RISC (QEMU's B160L, a PA7300LC), big-endian. The seed
// patch was written for it: PA-RISC caches are virtually indexed, so a
// kmap alias of a user page can hold a stale line. Go has no hppa port:
// the scenarios run on the host and drive a freestanding C executor in the
// guest over the console (guest/executor).
var hppa = &Arch{
	Name: "hppa",
	Mode: CExecutor,
	Build: Build{
		KernelArch:   "parisc",
		CrossCompile: "hppa-linux-gnu-",
		CrossPackage: "gcc-hppa-linux-gnu",
		// vmlinuz also links vmlinux; QEMU boots the ELF directly.
		MakeTarget: "vmlinuz",
		Image:      "vmlinux",
		// tinyconfig's SLOB crashes parisc at boot.
		Fragment: `# CONFIG_64BIT is not set
CONFIG_GSC=y
CONFIG_GSC_LASI=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SLUB=y
`,
		// With PROVE_LOCKING a 6.1 tinyconfig parisc kernel does not
		// compile (srcu.h: struct srcu_struct has no member dep_map).
		DebugExclude: []string{"CONFIG_PROVE_LOCKING"},
	},
	Boot: Boot{
		QEMU:        "qemu-system-hppa",
		QEMUPackage: "qemu-system-misc",
		// QEMU 7.2 names the B160L "hppa" (-M B160L is rejected).
		Machine:  "hppa",
		MemoryMB: 256,
		// Two vCPUs, each its own host thread, so vhost workers log at
		// the same moments (QEMU 7.2 would otherwise run hppa's vCPUs
		// in turn in one thread: see Boot.MTTCG). Two as on every other
		// arch: four on a 2-core host put the executor's every wakeup
		// behind another vCPU's host time slice (the whole set took
		// 19 s against 14 s with two). concurrent and harvest still kill
		// set-bit-nonatomic with two (README, the kill matrix).
		SMP:     2,
		MTTCG:   true,
		Console: "ttyS0,115200",
		Timeout: 240 * time.Second,
		// QEMU 7.2's SeaBIOS-hppa reports a 32 KiB D-cache stride, and
		// parisc's arch_slab_minalign() is that stride: every slab object
		// is 32 KiB, one per order-3 slab. kmem_cache_node's first slab
		// then goes onto the partial list full, and the next allocation
		// from it finds no free object (6.1 warns in acquire_slab, 6.12
		// loads through the NULL freelist). Order-4 slabs hold two
		// objects; dcache_stride and the flush loops are left alone.
		//
		// lpj= skips the boot CPU's delay-loop calibration, ~0.4 s of
		// every boot under TCG (1.75-2.16 s -> 1.41-1.64 s to the
		// executor's ready line, alternating). parisc's udelay counts
		// CR16 cycles (arch/parisc/lib/delay.c), not loops_per_jiffy,
		// so the value only names BogoMIPS; it is what 6.1 measured here.
		KernelArgs: []string{"slub_max_order=4", "lpj=2752512"},
	},
	ABI: ABI{
		BigEndian: true,
		WordBits:  32,
		// parisc swaps _IOC_READ and _IOC_WRITE, and numbers errnos
		// above 34 its own way (ENOSYS is 251).
		Ioctl: ioctl.Parisc,
		Errno: errno.Parisc,
	},
	Executor: ExecutorBuild{
		Libs:     []string{"-lgcc"},
		Packages: []string{"linux-libc-dev-hppa-cross"},
	},
	NoCompat:       "QEMU 7.2 emulates only the 32-bit B160L, so this kernel is 32-bit; a 64-bit parisc kernel with a 32-bit VMM (the usual parisc userspace) needs a newer QEMU's 64-bit machine",
	AliasingCaches: true,
}
