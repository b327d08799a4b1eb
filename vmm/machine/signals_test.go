//go:build linux

package machine

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sigBlk is the calling thread's blocked-signal mask, signals 1-64.
func sigBlk(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:"); ok {
			v = strings.TrimSpace(v)
			m, err := strconv.ParseUint(v[len(v)-16:], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatal("no SigBlk in /proc/thread-self/status")
	return 0
}

// The ioctl runs with every signal blocked (a signal pending there makes
// 6.12's VHOST_SET_OWNER fail with ENOMEM: signalsBlocked), and the
// thread gets its own mask back afterwards.
func TestIoctlBlocksSignals(t *testing.T) {
	saved := ioctlSyscall
	defer func() { ioctlSyscall = saved }()
	var during uint64
	ioctlSyscall = func(fd, req, arg uintptr) unix.Errno {
		during = sigBlk(t)
		return saved(fd, req, arg)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := sigBlk(t)
	err := Native().Ioctl(-1, unix.TIOCGWINSZ, make([]byte, 8))
	if e, ok := err.(*Errno); !ok || e.Name != "EBADF" {
		t.Errorf("ioctl on fd -1: %v, want EBADF (the call itself must still run)", err)
	}
	unblockable := uint64(1)<<(unix.SIGKILL-1) | uint64(1)<<(unix.SIGSTOP-1)
	if want := ^unblockable; during != want {
		t.Errorf("signals blocked during the ioctl: %#x, want %#x (all but SIGKILL and SIGSTOP)", during, want)
	}
	if after := sigBlk(t); after != before {
		t.Errorf("the thread's mask after the ioctl is %#x, was %#x", after, before)
	}
}
