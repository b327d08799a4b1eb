package lava

// Device is how a LAVA lab knows a machine for an arch: its device type
// and, for LAVA's qemu device type, the context that picks the emulator.
type Device struct {
	Type string // device_type
	// For Type "qemu": LAVA's arch name (its qemu.jinja2 picks
	// qemu-system-ARCH from it); the machine is the arch file's.
	QEMUArch string
	// CPU for the context where the arch file leaves QEMU's default but
	// LAVA's template would put its own (cortex-a57 for every arm).
	CPU string
	// For boards booted by U-Boot: the kernel image type LAVA's tftp
	// deploy expects (zimage, image, uimage).
	KernelType string
	// Boards is where real machines of this arch are in public labs, for
	// the README and the command's help; a board needs a kernel built for
	// it (--kernel-url), dirtygate builds only the QEMU machine's.
	Boards string
}

// devices: dirtygate arch -> the device type a job asks for by default.
// LAVA's qemu device type (etc/dispatcher-config/device-types/qemu.jinja2
// in the LAVA source) lists arm, arm64, x86_64, hppa, i386, mips, ppc64,
// riscv64, sparc and the qemu-system-misc arches (s390x, m68k, alpha...).
var devices = map[string]Device{
	"x86_64": {Type: "qemu", QEMUArch: "x86_64",
		Boards: "qemu (KernelCI's qemu_x86_64) in most labs; x86 boards boot through ipxe or grub device types, not generated here"},
	"arm64": {Type: "qemu", QEMUArch: "arm64", KernelType: "image",
		Boards: "qemu (KernelCI's qemu_arm64-virt-gicv3); U-Boot boards such as bcm2711-rpi-4-b, meson-g12b-a311d-khadas-vim3, juno-uboot"},
	"armv5": {Type: "qemu", QEMUArch: "arm", CPU: "arm926", KernelType: "zimage",
		Boards: "qemu versatilepb (KernelCI's qemu_arm-versatilepb, in lab-baylibre, lab-broonie and lab-cip); at91sam9g20ek (ARM926EJ-S, KernelCI's lab-broonie, multi_v5_defconfig)"},
	"hppa": {Type: "qemu", QEMUArch: "hppa",
		Boards: "qemu only: LAVA ships no device type for a PA-RISC machine"},
	"armv7":   {Type: "qemu", QEMUArch: "arm", KernelType: "zimage"},
	"i386":    {Type: "qemu", QEMUArch: "i386"},
	"mips":    {Type: "qemu", QEMUArch: "mips"},
	"ppc64":   {Type: "qemu", QEMUArch: "ppc64"},
	"riscv64": {Type: "qemu", QEMUArch: "riscv64"},
	"s390x":   {Type: "qemu", QEMUArch: "s390x"},
	"sparc32": {Type: "qemu", QEMUArch: "sparc"},
	"m68k":    {Type: "qemu", QEMUArch: "m68k"},
	"alpha":   {Type: "qemu", QEMUArch: "alpha"},
}

// templateMachine: the LAVA arches whose qemu.jinja2 passes -machine from
// the context; for the others the job adds it to extra_options.
var templateMachine = map[string]bool{"arm": true, "arm64": true, "aarch64": true, "hppa": true,
	"m68k": true, "mips": true, "mips64": true, "ppc": true, "ppc64": true, "riscv64": true,
	"sparc": true, "sparc64": true}

// DeviceFor returns the default device of an arch.
func DeviceFor(arch string) (Device, bool) {
	d, ok := devices[arch]
	return d, ok
}
