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
		// QEMU boots the ELF directly: vmlinuz would only add an XZ
		// compression and a decompressor's link to every build.
		MakeTarget: "vmlinux",
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
		// QEMU 7.2's SeaBIOS-hppa answers PDC_CACHE_INFO with the B160L's
		// cache configuration (src/parisc/b160l.h: cc_block 1, a 32-byte
		// stride) but raises cc_block to 11 first, a 32 KiB stride, to
		// shorten flush loops. parisc takes the stride as
		// arch_slab_minalign(), so every slab object, a 16-byte kmalloc
		// too, is 32 KiB: every allocation a page allocation, every free
		// one back. The two depwi that raise it (I- and D-cache) become
		// nops (each: ldw conf; depwi 11,7,4; stw conf): the kernel sees
		// the B160L's own stride (SLUB: HWalign=32).
		// Sizes and loop counts stay as QEMU's firmware reports them:
		// zero, so parisc patches its flush loops out at boot either way
		// (ALT_COND_NO_DCACHE); the stride changes slab alignment only.
		// hppa's whole verdict 9.3-11.7 s -> 8.5-9.5 s, its boot
		// 1.2-1.8 s -> 0.8-1.0 s (alternating, three runs each).
		Firmware: &Firmware{
			Image:   "/usr/share/qemu/hppa-firmware.img",
			Package: "qemu-system-data",
			Patches: []FirmwarePatch{
				{Find: "4b930038 d6761f1c 6b930038", Replace: "4b930038 08000240 6b930038",
					Why: "the D-cache's cc_block stays the B160L's 1 (depwi 11 -> nop)"},
				{Find: "0f881093 d6761f1c 0f931288", Replace: "0f881093 08000240 0f931288",
					Why: "the I-cache's cc_block stays the B160L's 1 (depwi 11 -> nop)"},
			},
		},
		// With the firmware as installed (LAVA, another QEMU's image):
		// QEMU 7.2's SeaBIOS-hppa reports a 32 KiB D-cache stride, and
		// parisc's arch_slab_minalign() is that stride: every slab object
		// is 32 KiB, one per order-3 slab. kmem_cache_node's first slab
		// then goes onto the partial list full, and the next allocation
		// from it finds no free object (6.1 warns in acquire_slab, 6.12
		// loads through the NULL freelist). slub_max_order=4: order-4
		// slabs hold two objects (harmless with the corrected stride).
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
