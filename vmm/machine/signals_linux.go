package machine

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// signalsBlocked runs f on its goroutine's thread with every signal
// blocked (the kernel leaves SIGKILL and SIGSTOP deliverable), then
// restores the thread's mask. A Go process is signalled at any moment by
// its own runtime (SIGURG preempts a goroutine that ran 10 ms), and a
// signal pending during a system call that creates a task makes
// copy_process give up with -ERESTARTNOINTR: 6.12's VHOST_SET_OWNER turns
// that into ENOMEM (vhost_worker_create returns NULL for any failure).
// QEMU's main thread, which issues vhost's ioctls, has the signals it
// gets in normal running blocked (util/main-loop.c, qemu_signal_init:
// SIG_IPI, SIGIO, SIGALRM, SIGBUS, read from a signalfd), so its
// SET_OWNER does not meet them either; blocking every one is the same
// for a VMM whose runtime may send it any.
func signalsBlocked(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
		f() // cannot happen with a valid how and set; run it as it would have run
		return
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	f()
}
