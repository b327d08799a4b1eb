package machine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// child is the one forked child: its pid and our ends of its two pipes.
type child struct {
	pid     int
	release int // we write one byte: send your view and exit
	view    int // it writes one byte when ready, then its view
	n       int
}

func (m *native) Fork(addr uint64, n int, touch bool) error {
	if m.child != nil {
		return fmt.Errorf("fork: a child is already waiting")
	}
	m.Settle()
	b, err := m.mem(addr, n)
	if err != nil {
		return err
	}
	var rel, view [2]int
	if err := unix.Pipe2(rel[:], unix.O_CLOEXEC); err != nil {
		return fail("pipe2", err)
	}
	if err := unix.Pipe2(view[:], unix.O_CLOEXEC); err != nil {
		unix.Close(rel[0])
		unix.Close(rel[1])
		return fail("pipe2", err)
	}
	// Like syscall.ForkExec, without the exec: the child runs only
	// rawChild, which makes raw system calls and touches no Go state.
	syscall.ForkLock.Lock()
	pid, errno := rawChild(uintptr(rel[0]), uintptr(view[1]), unsafe.Pointer(&b[0]), uintptr(n), touch)
	syscall.ForkLock.Unlock()
	runtime.KeepAlive(b)
	unix.Close(rel[0])
	unix.Close(view[1])
	if errno != 0 {
		unix.Close(rel[1])
		unix.Close(view[0])
		return fail("clone", errno)
	}
	m.child = &child{pid: int(pid), release: rel[1], view: view[0], n: n}
	var ready [1]byte
	if k, err := unix.Read(view[0], ready[:]); k != 1 {
		m.ChildView()
		return fmt.Errorf("fork: the child did not get ready: %v", fail("read", err))
	}
	return nil
}

func (m *native) ChildView() ([]byte, error) {
	c := m.child
	if c == nil {
		return nil, fmt.Errorf("child view: no child")
	}
	m.child = nil
	defer unix.Close(c.view)
	unix.Write(c.release, []byte{1})
	unix.Close(c.release)
	out := make([]byte, c.n)
	got := 0
	var rerr error
	for got < c.n {
		k, err := unix.Read(c.view, out[got:])
		if err == unix.EINTR {
			continue
		}
		if k <= 0 {
			rerr = err
			break
		}
		got += k
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(c.pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	if got < c.n {
		return nil, fmt.Errorf("child view: %d of %d bytes (%v), child %v", got, c.n, rerr, ws)
	}
	return out, nil
}

// rawChild forks. In the child it touches [mem, mem+n) if asked, says it
// is ready on view, waits for a byte on release, writes its view of the
// memory to view and exits; it never returns there. Like the child half
// of syscall.forkAndExecInChild it may not grow the stack, allocate or
// take locks: nothing of the Go runtime runs in the child.
//
//go:norace
//go:nosplit
func rawChild(release, view uintptr, mem unsafe.Pointer, n uintptr, touch bool) (uintptr, syscall.Errno) {
	var pid uintptr
	var e syscall.Errno
	if runtime.GOARCH == "s390x" {
		pid, _, e = syscall.RawSyscall6(syscall.SYS_CLONE, 0, uintptr(syscall.SIGCHLD), 0, 0, 0, 0)
	} else {
		pid, _, e = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	}
	if e != 0 || pid != 0 {
		return pid, e
	}
	if touch {
		for off := uintptr(0); off < n; off += 4096 {
			// An atomic add of 0 is a write the compiler keeps (it
			// drops *p = *p) and changes nothing.
			atomic.AddUint32((*uint32)(unsafe.Add(mem, off)), 0)
		}
	}
	var one [1]byte
	syscall.RawSyscall(syscall.SYS_WRITE, view, uintptr(unsafe.Pointer(&one[0])), 1)
	syscall.RawSyscall(syscall.SYS_READ, release, uintptr(unsafe.Pointer(&one[0])), 1)
	for off := uintptr(0); off < n; {
		k, _, e := syscall.RawSyscall(syscall.SYS_WRITE, view, uintptr(unsafe.Add(mem, off)), n-off)
		if e != 0 || k == 0 {
			break
		}
		off += k
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
}
