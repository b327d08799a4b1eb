// Package arches holds one declarative definition per target architecture:
// how to build its kernel, how to boot it under QEMU, and the ABI facts the
// oracle needs (byte order, word size). Mechanism lives elsewhere; adding an
// architecture means adding one file here that calls register.
package arches

import (
	"fmt"
	"sort"
	"strings"
	"time"
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

	// AliasingCaches is true when real hardware of this arch has virtually
	// indexed or tagged caches where the kmap alias bug can show; emulation
	// cannot show it (QEMU does not model caches).
	AliasingCaches bool

	// Unsupported, when set, says exactly why this arch cannot run yet.
	Unsupported string
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

// Names lists every defined arch, sorted.
func Names() []string {
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Default is the set `make run` gates on.
var Default = []string{"x86_64", "arm64", "s390x"}
