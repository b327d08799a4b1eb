package arches

import (
	"time"

	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
)

// alpha: 64-bit little-endian (QEMU's clipper, a 21264). Go has no alpha
// port and Debian's static glibc dies in __libc_early_init there, so the
// host drives the freestanding C executor. Pages are 8 KiB, errnos above
// 34 and EAGAIN are alpha's own, ioctls use 3 direction bits.
var alpha = &Arch{
	Name: "alpha",
	Mode: CExecutor,
	Build: Build{
		KernelArch:   "alpha",
		CrossCompile: "alpha-linux-gnu-",
		CrossPackage: "gcc-alpha-linux-gnu",
		MakeTarget:   "vmlinux",
		Image:        "vmlinux",
		KUnit:        "alpha",
		Fragment: `CONFIG_ALPHA_GENERIC=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
`,
	},
	Boot: Boot{
		QEMU:        "qemu-system-alpha",
		QEMUPackage: "qemu-system-misc",
		Machine:     "clipper",
		MemoryMB:    256,
		SMP:         2,
		Console:     "ttyS0",
		Timeout:     300 * time.Second,
	},
	ABI: ABI{
		WordBits: 64,
		Ioctl:    ioctl.ThreeBit,
		Errno:    errno.Alpha,
		PageSize: 8192,
	},
	Executor: ExecutorBuild{
		Libs:     []string{"-lgcc"},
		Packages: []string{"linux-libc-dev-alpha-cross"},
	},
	NoCompat: "alpha has no 32-bit user ABI",
}
