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
		// Four vCPUs, each its own host thread: the executor keeps one,
		// the concurrent scenario's three vhost workers get one each, so
		// they log at the same moments (QEMU 7.2 would otherwise run
		// hppa's vCPUs in turn in one thread: see Boot.MTTCG).
		SMP:     4,
		MTTCG:   true,
		Console: "ttyS0",
		Timeout: 240 * time.Second,
		// Measured: full SLUB and SLUB_TINY alike (kernels/config/series-6.12.config).
		NoBoot: map[string]string{"6.12": "6.12.117 faults at boot under QEMU 7.2 (Data memory access rights trap in " +
			"___slab_alloc from kmem_cache_init, with full SLUB as with SLUB_TINY; 6.1 only warns in acquire_slab there, " +
			"the firmware's 32 KiB D-cache stride): the patch is compiled for hppa on 6.12, not run; " +
			"6.1 runs it, and a real machine can (--target)"},
		Artifacts: []BootArtifact{{
			Match: "at ___slab_alloc",
			Why: "QEMU 7.2's SeaBIOS-hppa 6 reports a D-cache stride of 32 KiB, so cache_line_size() is 32768 " +
				"(\"SLUB: HWalign=32768\") and the first HWCACHE_ALIGN slab at boot has no object: " +
				"WARN_ON(!freelist) in acquire_slab, before init, in every kernel",
		}},
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
