// Package ioctl encodes Linux ioctl request numbers with the _IOC rules of a
// given architecture. golang.org/x/sys/unix has no VHOST_* constants, and the
// host side must encode requests for guests of other architectures, so the
// encoding is data, not the build's own headers.
//
// Runs on both sides: the agent in the guest, and the host encoding calls for the executor.
package ioctl

import "runtime"

// Encoding is one architecture's asm/ioctl.h: field widths and direction values.
type Encoding struct {
	Name     string
	SizeBits uint
	DirBits  uint
	None     uint32
	Read     uint32
	Write    uint32
}

// The three encodings Linux uses.
var (
	// Generic is asm-generic/ioctl.h: x86, arm, arm64, s390, riscv, m68k, sh, ...
	Generic = Encoding{Name: "generic", SizeBits: 14, DirBits: 2, None: 0, Read: 2, Write: 1}
	// ThreeBit is mips, powerpc, sparc and alpha: 13 size bits, 3 direction bits.
	ThreeBit = Encoding{Name: "3-bit direction", SizeBits: 13, DirBits: 3, None: 1, Read: 2, Write: 4}
	// Parisc is the generic layout with read and write swapped.
	Parisc = Encoding{Name: "parisc", SizeBits: 14, DirBits: 2, None: 0, Read: 1, Write: 2}
)

// ForGOARCH returns the encoding of a Go architecture name.
func ForGOARCH(goarch string) Encoding {
	switch goarch {
	case "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le", "ppc", "sparc", "sparc64", "alpha":
		return ThreeBit
	case "hppa", "parisc":
		return Parisc
	}
	return Generic
}

// Native is the encoding of the architecture this binary runs on.
var Native = ForGOARCH(runtime.GOARCH)

const (
	nrBits   = 8
	typeBits = 8
)

// IOC is _IOC(dir, typ, nr, size).
func (e Encoding) IOC(dir uint32, typ, nr byte, size uintptr) uint32 {
	sizeShift := uint(nrBits + typeBits)
	dirShift := sizeShift + e.SizeBits
	return dir<<dirShift | uint32(size)<<sizeShift | uint32(typ)<<nrBits | uint32(nr)
}

// IO is _IO(typ, nr).
func (e Encoding) IO(typ, nr byte) uint32 { return e.IOC(e.None, typ, nr, 0) }

// IOR is _IOR(typ, nr, size).
func (e Encoding) IOR(typ, nr byte, size uintptr) uint32 { return e.IOC(e.Read, typ, nr, size) }

// IOW is _IOW(typ, nr, size).
func (e Encoding) IOW(typ, nr byte, size uintptr) uint32 { return e.IOC(e.Write, typ, nr, size) }

// IOWR is _IOWR(typ, nr, size).
func (e Encoding) IOWR(typ, nr byte, size uintptr) uint32 {
	return e.IOC(e.Read|e.Write, typ, nr, size)
}
