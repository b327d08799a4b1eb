// Package arches holds one declarative definition per target architecture:
// how to build its kernel, how to boot it under QEMU, and the ABI facts the
// oracle needs (byte order, word size). Mechanism lives elsewhere; adding an
// architecture means adding one file here that calls register.
package arches

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"dirtygate/guest/errno"
	"dirtygate/guest/ioctl"
	"dirtygate/guest/machine"
)

// Arch describes one target. Fields are data only.
type Arch struct {
	Name string // dirtygate's name for it: "x86_64", "arm64", "hppa", ...

	// Kernel build.
	KernelArch   string // ARCH= for make
	CrossCompile string // CROSS_COMPILE= prefix; "" builds with the host gcc
	CrossPackage string // Debian package that provides CrossCompile+"gcc"
	MakeTarget   string // make targets (space-separated) that produce the boot image
	Image        string // boot image, relative to the build directory
	DTB          string // device tree for QEMU's -dtb, relative to the build directory; "" none
	Fragment     string // Kconfig lines on top of tinyconfig and kernels/config/common.config

	// Boot.
	QEMU        string   // QEMU system emulator binary
	QEMUPackage string   // Debian package that provides it
	Machine     string   // -M
	CPU         string   // -cpu; "" leaves QEMU's default
	MemoryMB    int      // -m
	SMP         int      // -smp; 1 for machines that cannot run SMP
	Console     string   // console= device name
	QEMUArgs    []string // extra, machine-specific arguments
	KVMHost     string   // host GOARCH on which KVM may accelerate this guest; "" never
	BootTimeout time.Duration

	// Guest ABI, used to decode the log as the target's unsigned long.
	GOARCH    string // Go port for the agent; "" when Go cannot target it
	GOARM     string
	GOMIPS    string
	BigEndian bool
	WordBits  int // BITS_PER_LONG
	// CompatGOARCH (and CompatGOARM) is a 32-bit Go port whose binaries
	// this 64-bit kernel runs through its compat layer (the Fragment
	// turns it on): the compat scenario runs a 32-bit agent, a 32-bit VMM.
	CompatGOARCH string
	CompatGOARM  string
	// NoCompat says why a 64-bit arch has no compat scenario.
	NoCompat string

	// ABI facts the host needs to drive the executor (GOARCH == ""); tested
	// against each cross compiler's own headers (abi_test.go).
	Ioctl    ioctl.Encoding // zero: the encoding of GOARCH
	Errno    errno.Table    // zero: errno.Generic
	PageSize int            // 0: 4096
	// ExecutorCFlags are extra cross gcc flags for guest/executor's C
	// program (e.g. -m32 -mcpu=v8 for sparc32 from Debian's sparc64 gcc).
	ExecutorCFlags []string
	// ExecutorLibs are linked after it; libgcc where one exists for the
	// target (the executor may need its atomics helpers).
	ExecutorLibs []string
	// ExecutorPackages are the Debian packages the executor build needs
	// beyond CrossPackage (the kernel headers of the cross sysroot).
	ExecutorPackages []string

	// AliasingCaches is true when real hardware of this arch has virtually
	// indexed or tagged caches where the kmap alias bug can show; emulation
	// cannot show it (QEMU does not model caches).
	AliasingCaches bool

	// KASAN is true where 6.1 supports KASAN for this kernel
	// (--debug-kernel adds it there).
	KASAN bool
	// DebugExclude lists options of kernels/config/debug.config that this
	// arch's kernel cannot have (each with the reason in the arch file).
	DebugExclude []string

	// BootArtifacts are kernel warnings that the emulated machine itself
	// causes at every boot, before init runs. One seen before the agent
	// (or executor) started is reported as a known artifact, not a
	// finding; the same warning later, or any other, is a finding.
	BootArtifacts []BootArtifact

	// SkipScenarios are scenarios known not to work on this machine, with
	// the reason; they are reported as skipped with it, never as passes.
	SkipScenarios map[string]string

	// BuildOnly, when set, says why this arch's kernel is built but not
	// booted: the run is the build (a patch that does not compile is a
	// finding), reported as the single scenario "kernel-build".
	BuildOnly string

	// Unsupported, when set, says exactly why this arch cannot run yet.
	Unsupported string
}

// Skips are the scenarios that do not run on this arch, with the reason:
// SkipScenarios, and compat where there is no 32-bit agent to run.
func (a *Arch) Skips() map[string]string {
	s := map[string]string{}
	for k, v := range a.SkipScenarios {
		s[k] = v
	}
	if a.CompatGOARCH == "" {
		why := a.NoCompat
		switch {
		case why != "":
		case a.WordBits == 32:
			why = "a 32-bit kernel has no compat layer for a 32-bit VMM"
		default:
			why = "no 32-bit Go port runs on this kernel's compat layer"
		}
		s["compat"] = why
	}
	return s
}

// UsesExecutor is true when Go cannot run in the guest, so the scenarios
// run on the host and drive the C executor there.
func (a *Arch) UsesExecutor() bool { return a.GOARCH == "" }

// ABI is what the host must know to encode calls for the guest.
func (a *Arch) ABI() machine.ABI {
	abi := machine.ABI{Ioctl: a.Ioctl, ByteOrder: binary.ByteOrder(binary.LittleEndian), WordBits: a.WordBits, PageSize: a.PageSize}
	if abi.Ioctl.Name == "" {
		abi.Ioctl = ioctl.ForGOARCH(a.GOARCH)
	}
	if a.BigEndian {
		abi.ByteOrder = binary.BigEndian
	}
	if abi.PageSize == 0 {
		abi.PageSize = 4096
	}
	return abi
}

// Errnos is the arch's errno table.
func (a *Arch) Errnos() errno.Table {
	if a.Errno.Arch == "" {
		return errno.Generic
	}
	return a.Errno
}

// BootArtifact is a known boot-time warning: Match is a substring of the
// splat's first line, Why the explanation printed with it.
type BootArtifact struct {
	Match string
	Why   string
}

var registry = map[string]*Arch{}

func register(a *Arch) {
	if _, dup := registry[a.Name]; dup {
		panic("arches: duplicate definition of " + a.Name)
	}
	registry[a.Name] = a
}

// Lookup returns the named arch, or an error listing the known ones.
func Lookup(name string) (*Arch, error) {
	if a, ok := registry[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown arch %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists every arch that can run, sorted: what `--arch all` and the
// CI matrices cover.
func Names() []string {
	var n []string
	for k, a := range registry {
		if a.Unsupported == "" {
			n = append(n, k)
		}
	}
	sort.Strings(n)
	return n
}

// UnsupportedNames lists the arches defined only to say why they cannot run.
func UnsupportedNames() []string {
	var n []string
	for k, a := range registry {
		if a.Unsupported != "" {
			n = append(n, k)
		}
	}
	sort.Strings(n)
	return n
}

// Default is the set `make run` gates on.
var Default = []string{"x86_64", "arm64", "s390x", "hppa"}
