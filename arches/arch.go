// Package arches holds one declarative definition per target architecture
// (one file each) and the table that lists them: how to build its kernel,
// how to boot it under QEMU, the ABI facts the oracle and the executor's
// host side need, and the mode that says how a run uses it. Mechanism
// lives elsewhere; adding an architecture means adding one file here and
// one line to table. Runs on the host.
package arches

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
	"dirtygate/vmm/machine"
)

// table is every arch dirtygate knows, grouped by mode; each is defined in
// its own file (x86_64.go, hppa.go, ...). Lookup, Names and every other
// package read it, never a list of their own.
var table = []*Arch{
	// The Go agent is the guest's /init.
	x86_64, arm64, s390x, ppc64, riscv64, i386, armv7, armv5, mips,
	// The host runs the scenarios and drives the C executor in the guest.
	hppa, alpha, m68k, sparc32,
	// The kernel is built, not booted.
	sparc32SMP,
	// Defined only to say why it cannot run.
	sh4,
}

// Mode is how a run uses an arch.
type Mode int

const (
	// GoAgent: the Go agent (guest/cmd/agent) is /init and runs the
	// scenarios in the guest.
	GoAgent Mode = iota + 1
	// CExecutor: Go cannot run in the guest; the scenarios run on the host
	// and drive the C executor (guest/executor/csrc), /init there, over
	// the console.
	CExecutor
	// BuildOnly: the kernel is built but not booted (Arch.Why says why);
	// the run is the build, reported as the single scenario kernel-build.
	BuildOnly
	// Unsupported: defined only to say why it cannot run (Arch.Why).
	Unsupported
)

func (m Mode) String() string {
	switch m {
	case GoAgent:
		return "go agent"
	case CExecutor:
		return "executor"
	case BuildOnly:
		return "build only"
	case Unsupported:
		return "unsupported"
	}
	return fmt.Sprintf("mode %d", int(m))
}

// Arch describes one target. Fields are data only.
type Arch struct {
	Name string // dirtygate's name for it: "x86_64", "arm64", "hppa", ...
	Mode Mode
	// Why says why a BuildOnly arch is not booted, or why an Unsupported
	// one cannot run; "" for the others.
	Why string

	Build    Build
	Boot     Boot
	ABI      ABI
	Go       GoPorts
	Executor ExecutorBuild

	// NoCompat says why a 64-bit arch has no compat scenario.
	NoCompat string
	// SkipScenarios are scenarios known not to work on this machine, with
	// the reason; they are reported as skipped with it, never as passes.
	SkipScenarios map[string]string
	// AliasingCaches is true when real hardware of this arch has virtually
	// indexed or tagged caches where the kmap alias bug can show; emulation
	// cannot show it (QEMU does not model caches).
	AliasingCaches bool
}

// Build is how the kernel is built.
type Build struct {
	KernelArch   string // ARCH= for make
	CrossCompile string // CROSS_COMPILE= prefix; "" builds with the host gcc
	CrossPackage string // Debian package that provides CrossCompile+"gcc"
	MakeTarget   string // make targets (space-separated) that produce the boot image
	Image        string // boot image, relative to the build directory
	DTB          string // device tree for QEMU's -dtb, relative to the build directory; "" none
	Fragment     string // Kconfig lines on top of tinyconfig and kernels/config/common.config
	// KUnit is kunit_tool's --arch for this machine (the name of its
	// tools/testing/kunit/qemu_configs file), for `bench --peer kunit`;
	// "" where kunit_tool has no QEMU config for it.
	KUnit string

	// KASAN is true where 6.1 supports KASAN for this kernel
	// (--debug-kernel adds it there).
	KASAN bool
	// DebugExclude lists options of kernels/config/debug.config that this
	// arch's kernel cannot have (each with the reason in the arch file).
	DebugExclude []string
}

// Boot is how QEMU boots it.
type Boot struct {
	QEMU        string   // QEMU system emulator binary
	QEMUPackage string   // Debian package that provides it
	Machine     string   // -M
	CPU         string   // -cpu; "" leaves QEMU's default
	MemoryMB    int      // -m
	SMP         int      // -smp; 1 for machines that cannot run SMP
	Console     string   // console= device name
	QEMUArgs    []string // extra, machine-specific arguments
	KVMHost     string   // host GOARCH on which KVM may accelerate this guest; "" never
	Timeout     time.Duration

	// MTTCG asks TCG for one host thread per vCPU (-accel
	// tcg,thread=multi) where QEMU would run every vCPU in one thread: it
	// does so by default for a guest whose memory order it declares
	// stronger than the host's, and then two vCPUs never execute at the
	// same moment, so races between vhost workers (the concurrent
	// scenario) cannot happen. Only on a TSO host (x86), whose order
	// differs from a sequentially consistent guest's by store-load
	// reordering alone, which the kernel's own barriers cover.
	MTTCG bool

	// KernelArgs go on every kernel command line this machine boots
	// (QEMU and LAVA's qemu device type), after console= and panic=:
	// what the emulated machine's firmware makes a kernel need.
	KernelArgs []string

	// Firmware, when set, is the firmware QEMU boots this machine with
	// (-bios) instead of its own: the installed image with byte patches
	// applied (harness/firmware), where QEMU's firmware makes the emulated
	// machine differ from the hardware it stands for. Not on LAVA's
	// command lines (the lab's QEMU brings its own firmware).
	Firmware *Firmware

	// NoBoot lists kernel series ("6.12") this machine cannot boot here,
	// with the reason: their runs stop after the build, as a BuildOnly
	// arch's do, and every report says why (a boot that is known to fail
	// would only ever be "could not decide").
	NoBoot map[string]string

	// Artifacts are kernel warnings that the emulated machine itself
	// causes at every boot, before init runs. One seen before the agent
	// (or executor) started is reported as a known artifact, not a
	// finding; the same warning later, or any other, is a finding.
	Artifacts []BootArtifact
}

// ABI is the guest's data layout, used to decode the log as the target's
// unsigned long, and the facts the host needs to encode the executor's
// calls; tested against each cross compiler's own headers (abi_test.go).
type ABI struct {
	BigEndian bool
	WordBits  int            // BITS_PER_LONG
	Ioctl     ioctl.Encoding // zero: the encoding of Go.GOARCH
	Errno     errno.Table    // zero: errno.Generic
	PageSize  int            // 0: 4096
}

// GoPorts are the Go ports that run in the guest.
type GoPorts struct {
	GOARCH string // the agent's port (GoAgent arches)
	GOARM  string
	GOMIPS string
	// CompatGOARCH (and CompatGOARM) is a 32-bit Go port whose binaries
	// this 64-bit kernel runs through its compat layer (the Fragment
	// turns it on): the compat scenario runs a 32-bit agent, a 32-bit VMM.
	CompatGOARCH string
	CompatGOARM  string
}

// ExecutorBuild is how guest/executor's C program is built (CExecutor arches).
type ExecutorBuild struct {
	// CFlags are extra cross gcc flags (e.g. -m32 -mcpu=v8 for sparc32
	// from Debian's sparc64 gcc).
	CFlags []string
	// Libs are linked after it; libgcc where one exists for the target
	// (the executor may need its atomics helpers).
	Libs []string
	// Packages are the Debian packages the build needs beyond
	// Build.CrossPackage (the kernel headers of the cross sysroot).
	Packages []string
}

// Program is what runs as the guest's /init, or on a --target machine.
type Program int

const (
	ProgramAgent    Program = iota + 1 // the Go agent
	ProgramExecutor                    // the C executor, driven from the host
)

// Guest is the program this arch's guest runs: the agent for GoAgent
// arches, the executor for CExecutor ones; a BuildOnly or Unsupported
// arch (never booted here, but reachable with --target or LAVA) runs the
// agent where it has a Go port and the executor otherwise.
func (a *Arch) Guest() Program {
	switch a.Mode {
	case GoAgent:
		return ProgramAgent
	case CExecutor:
		return ProgramExecutor
	}
	if a.Go.GOARCH != "" {
		return ProgramAgent
	}
	return ProgramExecutor
}

// Packages are the Debian packages building and booting this arch needs
// beyond the host's own tools: its cross compiler (none for the host's
// arch), its QEMU, and what the executor's build needs.
func (a *Arch) Packages() []string {
	var ps []string
	for _, p := range append([]string{a.Build.CrossPackage, a.Boot.QEMUPackage}, a.Executor.Packages...) {
		if p != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

// UsesExecutor is true when the guest runs the C executor: the scenarios
// run on the host and drive it.
func (a *Arch) UsesExecutor() bool { return a.Guest() == ProgramExecutor }

// HasCompatAgent is true when the compat scenario can run: a 32-bit agent
// for this kernel's compat layer, next to the agent.
func (a *Arch) HasCompatAgent() bool {
	return a.Go.CompatGOARCH != "" && a.Guest() == ProgramAgent
}

// Skips are the scenarios that do not run on this arch, with the reason:
// SkipScenarios, and compat where there is no 32-bit agent to run.
func (a *Arch) Skips() map[string]string {
	s := map[string]string{}
	for k, v := range a.SkipScenarios {
		s[k] = v
	}
	if a.Go.CompatGOARCH == "" {
		why := a.NoCompat
		switch {
		case why != "":
		case a.ABI.WordBits == 32:
			why = "a 32-bit kernel has no compat layer for a 32-bit VMM"
		default:
			why = "no 32-bit Go port runs on this kernel's compat layer"
		}
		s["compat"] = why
	}
	return s
}

// MachineABI is what the host must know to encode calls for the guest.
func (a *Arch) MachineABI() machine.ABI {
	abi := machine.ABI{Ioctl: a.ABI.Ioctl, ByteOrder: binary.ByteOrder(binary.LittleEndian), WordBits: a.ABI.WordBits, PageSize: a.ABI.PageSize}
	if abi.Ioctl.Name == "" {
		abi.Ioctl = ioctl.ForGOARCH(a.Go.GOARCH)
	}
	if a.ABI.BigEndian {
		abi.ByteOrder = binary.BigEndian
	}
	if abi.PageSize == 0 {
		abi.PageSize = 4096
	}
	return abi
}

// Errnos is the arch's errno table.
func (a *Arch) Errnos() errno.Table {
	if a.ABI.Errno.Arch == "" {
		return errno.Generic
	}
	return a.ABI.Errno
}

// Firmware is an installed QEMU firmware image and the patches that
// correct it. Each patch's Find must occur exactly once in the image;
// where one does not (another QEMU's firmware), the image is used as
// installed and every report says so.
type Firmware struct {
	Image   string // the installed image, e.g. /usr/share/qemu/hppa-firmware.img
	Package string // the Debian package that installs it
	Patches []FirmwarePatch
}

// FirmwarePatch replaces one byte sequence (hex, equal lengths) and says why.
type FirmwarePatch struct {
	Find, Replace string
	Why           string
}

// BootArtifact is a known boot-time warning: Match is a substring of the
// splat's first line, Why the explanation printed with it.
type BootArtifact struct {
	Match string
	Why   string
}

// Lookup returns the named arch, or an error listing the known ones.
func Lookup(name string) (*Arch, error) {
	for _, a := range table {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("unknown arch %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists every arch that can run, sorted: what `--arch all` and the
// CI matrices cover.
func Names() []string { return namesWhere(func(a *Arch) bool { return a.Mode != Unsupported }) }

// UnsupportedNames lists the arches defined only to say why they cannot run.
func UnsupportedNames() []string {
	return namesWhere(func(a *Arch) bool { return a.Mode == Unsupported })
}

func namesWhere(keep func(*Arch) bool) []string {
	var n []string
	for _, a := range table {
		if keep(a) {
			n = append(n, a.Name)
		}
	}
	sort.Strings(n)
	return n
}

// Default is the set `make run` gates on.
var Default = []string{"x86_64", "arm64", "s390x", "hppa"}

// BuildOnlyFor reports whether a run of this arch on a kernel series stops
// after the build, and why: a BuildOnly arch, or a series it cannot boot.
func (a *Arch) BuildOnlyFor(series string) (string, bool) {
	if a.Mode == BuildOnly {
		return a.Why, true
	}
	why, ok := a.Boot.NoBoot[series]
	return why, ok
}
