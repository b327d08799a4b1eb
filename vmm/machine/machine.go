// Package machine is what the scenarios need from the machine under test,
// and nothing more: files and ioctls with byte buffers, anonymous memory
// read and written by address, eventfds, a packet socket on the tap, poll.
// The scenarios and the oracle are written once against it. In a guest Go
// can target, Native implements it with direct system calls; for the
// others (hppa, sparc32, m68k, alpha) and for real hardware reached over
// a serial line or ssh, harness/executor implements it with a small C
// program (guest/executor) that executes requests.
//
// Runs on both sides: Native in the guest (the agent), the interface on the host too (harness/executor implements it).
package machine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dirtygate/vmm/ioctl"
)

// ABI is what the caller must know to encode arguments for the target.
type ABI struct {
	Ioctl     ioctl.Encoding
	ByteOrder binary.ByteOrder
	WordBits  int // BITS_PER_LONG of the process that owns the log
	PageSize  int
}

// Prot is a memory protection.
type Prot int

const (
	ProtNone Prot = 0
	ProtRead Prot = 1
	ProtRW   Prot = 3
)

// SocketKind names the two sockets the rig needs, so the caller need not
// know each architecture's AF_/SOCK_ numbers (SOCK_DGRAM is 1 on mips).
type SocketKind int

const (
	// PacketRaw is socket(AF_PACKET, SOCK_RAW, 0): sends frames out of a tap.
	PacketRaw SocketKind = 1
	// InetDgram is socket(AF_INET, SOCK_DGRAM, 0): for SIOC* interface ioctls.
	InetDgram SocketKind = 2
)

// Machine is the machine under test. Addresses are user virtual addresses
// of the process that drives vhost. A Read or Write of 4 bytes at a 4-byte
// aligned address is one load or store, ordered after everything before
// it: that is how ring indexes are published and read.
type Machine interface {
	ABI() ABI
	Open(path string) (int, error) // O_RDWR|O_CLOEXEC, or O_RDONLY where writing is refused (EACCES)
	Close(fd int) error
	// Ioctl passes a pointer to arg (nil: 0) and copies the buffer back.
	Ioctl(fd int, req uint32, arg []byte) error
	Mmap(size int) (uint64, error) // anonymous, private, populated, read-write
	// MmapLazy is Mmap without populating: pages appear on first touch,
	// as in the guest RAM and the dirty log QEMU allocates.
	MmapLazy(size int) (uint64, error)
	Mprotect(addr uint64, size int, prot Prot) error
	Munmap(addr uint64, size int) error
	ReadMem(addr uint64, n int) ([]byte, error)
	WriteMem(addr uint64, b []byte) error
	Eventfd() (int, error) // non-blocking, close-on-exec, counter 0
	Read(fd int, n int) ([]byte, error)
	Write(fd int, b []byte) (int, error)
	Socket(kind SocketKind) (int, error)
	BindPacket(fd, ifindex int) error
	// Poll waits up to ms for fd to become readable.
	Poll(fd int, ms int) (bool, error)
	// SwapWords exchanges n unsigned longs (ABI().WordBits) at addr with
	// zero, each atomically, in order, and returns the old words as
	// stored: how a VMM harvests the dirty log.
	SwapWords(addr uint64, n int) ([]byte, error)
	// OrWord atomically ORs mask (one unsigned long as stored) into the
	// word at addr: how a VMM marks pages it dirtied itself. ErrNoAtomicOr
	// where user space has no atomic OR (SPARC v8).
	OrWord(addr uint64, mask []byte) error
	// Fork forks the process that owns vhost: the child gets copy-on-
	// write copies of its memory, as when a VMM forks. With touch set
	// the child first writes every page of [addr, addr+n) with what it
	// holds, so those copies are the child's before vhost writes again.
	// The child then waits; ChildView releases it, returns its view of
	// [addr, addr+n) at that moment and reaps it. One child at a time.
	Fork(addr uint64, n int, touch bool) error
	ChildView() ([]byte, error)
}

// Spawner is a machine that can start a program beside the process that
// drives vhost and collect its output: the Go agent's own machine. The
// compat scenario runs its 32-bit agent this way.
type Spawner interface {
	Spawn(path string, env []string) ([]byte, error)
}

// Prestarter is a Spawner that can start a program ahead of its Spawn,
// held before it does anything of its own (HoldEnv): the exec and the Go
// runtime's start, ~0.3 s of the compat scenario under TCG, then happen
// while the scenarios before it run. Spawn with the same path and env
// takes the held process and lets it go (settling first, as always); a
// held process nobody spawns ends when its holder does.
type Prestarter interface {
	Prestart(path string, env []string)
}

// HoldEnv, set in a program's environment, makes the agent wait for a
// byte on its standard input before it runs (Prestarter); it exits at
// once if the input ends first.
const HoldEnv = "DIRTYGATE_HOLD"

// Flusher is a machine that defers calls whose only result is success
// (the executor's client: memory writes and write() travel with the next
// call). Flush sends what is still queued and returns the first failure
// of a deferred call since the last Flush: each scenario ends with one,
// so a failure is charged to the scenario that made the call.
type Flusher interface {
	Flush() error
}

// Releaser is a machine that can tear down in the background: closing a
// tap unregisters its device, which waits for RCU callbacks (~16 ms under
// TCG, a third of a scenario), and that can run while the next scenario
// is judged and started. Released work runs in the order released, so a
// rig's devices are closed before its memory is unmapped as when closed
// in place; a new mapping cannot take an address a device being closed
// still holds. The guest agent's machine (one goroutine), and the
// executor's client from protocol 12 (a helper process in the guest).
type Releaser interface {
	// Release queues f, which tears down through m: only Close and
	// Munmap (their errors are the releaser's to report).
	Release(f func(m Machine))
	// Settle returns once everything released before has run. Spawn
	// and Fork settle first (a child inherits no device being closed),
	// and so does VhostWorkers (a closing device's worker is not the
	// caller's).
	Settle()
}

// Deferrer is a machine whose calls that answer only success or failure
// can travel with its next call that waits for an answer: the executor's
// client, where each was a console round trip of its own (a rig's
// teardown nine, its set-up a dozen more). Deferring returns a view of
// the machine whose Close and Munmap, and Ioctl, Mprotect and BindPacket,
// are queued in order behind what is queued already, and whose Open,
// Eventfd and Socket are too where the fd they return can be one the
// caller is told at once (the executor's placed fds); every other call is
// the machine's own. The caller of a deferred Ioctl must not read its
// buffer back. A failure comes back from a later call as a *DeferredError
// naming step, and a deferred call other than a close or munmap that
// fails stops the calls queued after it, which never run (the caller
// made them believing it had succeeded, as a VMM would stop at the first
// failure); a teardown's close or munmap does not. Flush returns it too,
// so it is charged to the scenario that made the call, as a deferred
// write's is.
type Deferrer interface {
	Deferring(step string) Machine
}

// Napper is a machine that waits for an eventfd without the caller
// waiting for the answer (the executor's client: the nap travels with the
// next call, a round trip saved per wait). Nap waits up to ms for fd to
// be signalled and drains it; its errors may come back from a later call.
type Napper interface {
	Nap(fd, ms int) error
}

// Nap waits up to ms for the eventfd fd to be signalled and drains it, as
// a VMM waits for a device's notification before it looks at the ring
// again: m's own Nap where it has one (Napper).
func Nap(m Machine, fd, ms int) error {
	if n, ok := m.(Napper); ok {
		return n.Nap(fd, ms)
	}
	return PollDrain(m, fd, ms)
}

// PollDrain is a nap made of m's own Poll and Read, each waited for.
func PollDrain(m Machine, fd, ms int) error {
	ready, err := m.Poll(fd, ms)
	if err == nil && ready {
		m.Read(fd, 8) // a drain: what it reads, or that it found nothing, is no one's answer
	}
	return err
}

// OrderedReader is a machine that reads two ranges of memory, the second
// after a full barrier, in one call (the executor's client: one round
// trip instead of two).
type OrderedReader interface {
	ReadMemAfter(addr1 uint64, n1 int, addr2 uint64, n2 int) ([]byte, []byte, error)
}

// ReadAfter reads n1 bytes at addr1 (4 aligned bytes with one load) and
// then n2 at addr2, no load of the second before the first: a ring's
// index, then the entries it published. m's own where it has one
// (OrderedReader); else two reads (ReadMem's 4-byte load is atomic).
func ReadAfter(m Machine, addr1 uint64, n1 int, addr2 uint64, n2 int) ([]byte, []byte, error) {
	if o, ok := m.(OrderedReader); ok {
		return o.ReadMemAfter(addr1, n1, addr2, n2)
	}
	return ReadInTurn(m, addr1, n1, addr2, n2)
}

// ReadInTurn is ReadAfter made of m's own ReadMem: the second read starts
// after the first has returned.
func ReadInTurn(m Machine, addr1 uint64, n1 int, addr2 uint64, n2 int) ([]byte, []byte, error) {
	b1, err := m.ReadMem(addr1, n1)
	if err != nil || n2 == 0 {
		return b1, nil, err
	}
	b2, err := m.ReadMem(addr2, n2)
	return b1, b2, err
}

// Later is m's Deferring(step) view where m is a Deferrer, else m: for
// the calls of a caller that reads nothing back but success.
func Later(m Machine, step string) Machine {
	if d, ok := m.(Deferrer); ok {
		return d.Deferring(step)
	}
	return m
}

// DeferredError is the failure of a call that did not wait for its
// answer, returned by a later call or by Flush.
type DeferredError struct {
	Step string // what the caller named it (Deferring's step), or ""
	Call string // the call: "a deferred ioctl 0x4008af10 on fd 5"
	Err  error
}

func (e *DeferredError) Error() string {
	if e.Step != "" {
		return e.Step + " (" + e.Call + "): " + e.Err.Error()
	}
	return e.Call + ": " + e.Err.Error()
}

func (e *DeferredError) Unwrap() error { return e.Err }

// ErrNotRun is the error of a call that never ran because a deferred
// call queued before it failed (wrapped with that failure).
var ErrNotRun = errors.New("not run")

// Pinner is a machine that can place vhost's worker threads on CPUs: the
// concurrent scenario puts its devices' workers on different CPUs, so
// their log updates do meet (woken on the CPU that woke them, they would
// take turns on it, preemption off, and never race).
type Pinner interface {
	// VhostWorkers returns the thread IDs of the workers vhost runs for
	// this process's devices ("vhost-<tid>": kernel threads before 6.4,
	// threads of this process since).
	VhostWorkers() ([]int, error)
	// SetAffinity lets thread tid run on cpu only.
	SetAffinity(tid, cpu int) error
}

// ErrNoAtomicOr is OrWord on a machine without an atomic OR for user space.
var ErrNoAtomicOr = errors.New("no atomic OR for user space on this machine")

// Errno is a failed system call on the machine, named with the target's
// own errno table (the numbers differ between architectures).
type Errno struct {
	Op   string
	Num  int
	Name string
}

func (e *Errno) Error() string {
	return fmt.Sprintf("%s: %s (%d)", e.Op, e.Name, e.Num)
}

// ErrnoName returns the errno name of a failed call, or "" when err is not one.
func ErrnoName(err error) string {
	var e *Errno
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}
