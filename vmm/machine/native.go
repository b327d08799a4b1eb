//go:build linux

package machine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"dirtygate/vmm/ioctl"
)

// native runs the calls in this process. Memory is reached through the
// slices of its own mappings, never through integer-to-pointer casts.
type native struct {
	mu      sync.Mutex
	maps    map[uint64][]byte
	held    map[string]*held // prestarted programs, by path and env
	child   *child           // the forked child waiting for ChildView
	release chan func()
	pending sync.WaitGroup
}

// Native is the machine this process runs on.
func Native() Machine { return &native{maps: map[uint64][]byte{}} }

// mem returns the n bytes at addr inside one of our mappings.
func (m *native) mem(addr uint64, n int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for base, b := range m.maps {
		if addr >= base && addr+uint64(n) <= base+uint64(len(b)) {
			o := addr - base
			return b[o : o+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("address %#x+%d is not in memory this machine mapped", addr, n)
}

func (m *native) ABI() ABI {
	return ABI{Ioctl: ioctl.Native, ByteOrder: binary.NativeEndian,
		WordBits: int(unsafe.Sizeof(uintptr(0))) * 8, PageSize: os.Getpagesize()}
}

func fail(op string, err error) error {
	if e, ok := err.(unix.Errno); ok {
		return &Errno{Op: op, Num: int(e), Name: unix.ErrnoName(e)}
	}
	return err
}

func (m *native) Open(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == unix.EACCES {
		// A read-only sysfs attribute refuses O_RDWR even to root.
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fail("open "+path, err)
	}
	return fd, nil
}

func (m *native) Close(fd int) error { return fail("close", unix.Close(fd)) }

// Ioctl issues the request with the thread's signals blocked, as a VMM's
// main thread issues it: see signalsBlocked.
func (m *native) Ioctl(fd int, req uint32, arg []byte) error {
	var p uintptr
	if len(arg) > 0 {
		p = uintptr(unsafe.Pointer(&arg[0]))
	}
	var e unix.Errno
	signalsBlocked(func() { e = ioctlSyscall(uintptr(fd), uintptr(req), p) })
	runtime.KeepAlive(arg)
	if e != 0 {
		return fail("ioctl", e)
	}
	return nil
}

// ioctlSyscall is the system call itself; a test replaces it to look at
// the thread it runs on.
var ioctlSyscall = func(fd, req, arg uintptr) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, req, arg)
	return e
}

func (m *native) Mmap(size int) (uint64, error) { return m.mmap(size, unix.MAP_POPULATE) }

func (m *native) MmapLazy(size int) (uint64, error) { return m.mmap(size, unix.MAP_NORESERVE) }

func (m *native) mmap(size, flags int) (uint64, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|flags)
	if err != nil {
		return 0, fail("mmap", err)
	}
	addr := uint64(uintptr(unsafe.Pointer(&b[0])))
	m.mu.Lock()
	m.maps[addr] = b
	m.mu.Unlock()
	return addr, nil
}

func (m *native) Mprotect(addr uint64, size int, prot Prot) error {
	b, err := m.mem(addr, size)
	if err != nil {
		return err
	}
	return fail("mprotect", unix.Mprotect(b, int(prot)))
}

func (m *native) Munmap(addr uint64, size int) error {
	m.mu.Lock()
	b, ok := m.maps[addr]
	delete(m.maps, addr)
	m.mu.Unlock()
	if !ok || len(b) != size {
		return fmt.Errorf("munmap %#x+%d: not a mapping of this machine", addr, size)
	}
	return fail("munmap", unix.Munmap(b))
}

func (m *native) ReadMem(addr uint64, n int) ([]byte, error) {
	b, err := m.mem(addr, n)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if n == 4 && addr%4 == 0 {
		binary.NativeEndian.PutUint32(out, atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[0]))))
		return out, nil
	}
	copy(out, b)
	return out, nil
}

func (m *native) WriteMem(addr uint64, b []byte) error {
	dst, err := m.mem(addr, len(b))
	if err != nil {
		return err
	}
	if len(b) == 4 && addr%4 == 0 {
		atomic.StoreUint32((*uint32)(unsafe.Pointer(&dst[0])), binary.NativeEndian.Uint32(b))
		return nil
	}
	copy(dst, b)
	return nil
}

func (m *native) Eventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	return fd, fail("eventfd", err)
}

func (m *native) Read(fd int, n int) ([]byte, error) {
	b := make([]byte, n)
	k, err := unix.Read(fd, b)
	if err != nil {
		return nil, fail("read", err)
	}
	return b[:k], nil
}

func (m *native) Write(fd int, b []byte) (int, error) {
	n, err := unix.Write(fd, b)
	return n, fail("write", err)
}

func (m *native) Socket(kind SocketKind) (int, error) {
	var fd int
	var err error
	switch kind {
	case PacketRaw:
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	case InetDgram:
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	default:
		return -1, os.ErrInvalid
	}
	return fd, fail("socket", err)
}

func (m *native) BindPacket(fd, ifindex int) error {
	return fail("bind", unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}))
}

func (m *native) Poll(fd int, ms int) (bool, error) {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, ms)
	if err == unix.EINTR {
		return false, nil
	}
	return n > 0, fail("poll", err)
}

func (m *native) SwapWords(addr uint64, n int) ([]byte, error) {
	size := int(unsafe.Sizeof(uintptr(0)))
	b, err := m.mem(addr, n*size)
	if err != nil {
		return nil, err
	}
	if addr%uint64(size) != 0 {
		return nil, fmt.Errorf("swap at %#x: not word-aligned", addr)
	}
	out := make([]byte, n*size)
	for i := 0; i < n; i++ {
		p := (*uintptr)(unsafe.Pointer(&b[i*size]))
		old := atomic.SwapUintptr(p, 0)
		if size == 8 {
			binary.NativeEndian.PutUint64(out[i*8:], uint64(old))
		} else {
			binary.NativeEndian.PutUint32(out[i*4:], uint32(old))
		}
	}
	return out, nil
}

func (m *native) OrWord(addr uint64, mask []byte) error {
	size := int(unsafe.Sizeof(uintptr(0)))
	b, err := m.mem(addr, size)
	if err != nil {
		return err
	}
	if len(mask) != size || addr%uint64(size) != 0 {
		return fmt.Errorf("or at %#x: want one aligned %d-byte word", addr, size)
	}
	p := (*uintptr)(unsafe.Pointer(&b[0]))
	if size == 8 {
		atomic.OrUintptr(p, uintptr(binary.NativeEndian.Uint64(mask)))
	} else {
		atomic.OrUintptr(p, uintptr(binary.NativeEndian.Uint32(mask)))
	}
	return nil
}

// Spawn runs path with env added and returns its standard output; its
// standard error goes to ours (the console). A program prestarted with
// the same path and env is let go instead of started.
func (m *native) Spawn(path string, env []string) ([]byte, error) {
	m.Settle()
	if h := m.takeHeld(path, env); h != nil {
		_, err := h.go_.Write([]byte{1})
		h.go_.Close()
		if werr := h.cmd.Wait(); err == nil {
			err = werr
		}
		if err != nil {
			return h.out.Bytes(), fmt.Errorf("%s (prestarted): %w", path, err)
		}
		return h.out.Bytes(), nil
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// held is a prestarted program waiting for its byte on go_.
type held struct {
	cmd *exec.Cmd
	go_ io.WriteCloser
	out *bytes.Buffer
}

func heldKey(path string, env []string) string { return path + "\x00" + strings.Join(env, "\x00") }

// Prestart starts path held (HoldEnv); Spawn lets it go. One that cannot
// start is not kept: Spawn then starts it and reports why it cannot.
func (m *native) Prestart(path string, env []string) {
	cmd := exec.Command(path)
	cmd.Env = append(append(os.Environ(), env...), HoldEnv+"=1")
	cmd.Stderr = os.Stderr
	out := &bytes.Buffer{}
	cmd.Stdout = out
	in, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held == nil {
		m.held = map[string]*held{}
	}
	if old := m.held[heldKey(path, env)]; old != nil {
		old.go_.Close() // its input ends: it exits without running
		go old.cmd.Wait()
	}
	m.held[heldKey(path, env)] = &held{cmd: cmd, go_: in, out: out}
}

func (m *native) takeHeld(path string, env []string) *held {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[heldKey(path, env)]
	delete(m.held, heldKey(path, env))
	return h
}

// Release queues f for the one goroutine that runs released work.
func (m *native) Release(f func(Machine)) {
	m.mu.Lock()
	if m.release == nil {
		m.release = make(chan func(), 64)
		go func() {
			for f := range m.release {
				f()
				m.pending.Done()
			}
		}()
	}
	m.pending.Add(1)
	m.mu.Unlock()
	m.release <- func() { f(m) }
}

func (m *native) Settle() { m.pending.Wait() }
