//go:build linux && amd64

package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dirtygate/vmm/machine"
)

// A teardown released through the client (protocol 12) costs no round
// trip of its own; the executor closes its copies of the fds at once (the
// numbers are free for the next placed call), hands the files to its
// helper process, which closes them, and unmaps the memory only once the
// helper says so: still mapped after the call that carried the release,
// gone after Settle, and the helper holds nothing then.
func TestReleaseInTheBackground(t *testing.T) {
	c := helloed(t, &damage{})
	if !c.has(protoRelease) {
		t.Fatalf("the executor speaks protocol %d, not %d", c.proto.Load(), protoRelease)
	}
	d := c.Deferring("set-up")
	var fds []int
	for range 3 {
		fd, err := d.Eventfd()
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	addr, err := c.Mmap(2 * 4096)
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	c.Release(func(m machine.Machine) {
		for _, fd := range fds {
			m.Close(fd)
		}
		m.Munmap(addr, 2*4096)
	})
	if st := c.Stats(); st.RoundTrips != before.RoundTrips {
		t.Fatalf("Release made %d round trips of its own", st.RoundTrips-before.RoundTrips)
	}
	again, err := d.Eventfd() // the lowest free number: the first one released
	if err != nil || again != fds[0] {
		t.Fatalf("placed after the release: %d, %v, want %d", again, err, fds[0])
	}
	if _, err := c.Read(again, 8); machine.ErrnoName(err) != "EAGAIN" {
		t.Fatalf("read of the eventfd placed at a released number: %v, want EAGAIN (a new one)", err)
	}
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 {
		t.Fatalf("stats before %+v after %+v: want the release, the eventfd and the read in one round trip", before, st)
	}
	if err := c.Mprotect(addr, 4096, machine.ProtRW); err != nil {
		t.Fatalf("the released memory was unmapped before the helper closed the fds: mprotect %v", err)
	}
	helper := helperOf(t)
	c.Settle()
	if err := c.Mprotect(addr, 4096, machine.ProtRead); machine.ErrnoName(err) != "ENOMEM" {
		t.Fatalf("mprotect of the released memory after Settle: %v, want ENOMEM (unmapped)", err)
	}
	if n := openFds(t, helper); n != 4 { // its console (0, 1, 2) and its socket
		t.Fatalf("after Settle the helper holds %d fds, want 4: it did not close what it was handed", n)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

// What the helper cannot be handed is closed in place, and a close that
// fails there (a number not open) is the release's failure, charged by
// Flush to the teardown; a munmap that fails after the helper's closes is
// Settle's, charged the same way.
func TestReleaseFailures(t *testing.T) {
	c := helloed(t, &damage{})
	c.Release(func(m machine.Machine) { m.Close(999) })
	if err := c.Flush(); machine.ErrnoName(err) != "EBADF" || !strings.Contains(err.Error(), "[999]") {
		t.Fatalf("Flush after releasing a closed fd: %v, want EBADF naming fd 999", err)
	}
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	c.Release(func(m machine.Machine) {
		m.Close(fd)
		m.Munmap(0x1001, 4096) // unaligned: EINVAL, once the close is done
	})
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush before Settle: %v (the munmap waits for the helper)", err)
	}
	c.Settle()
	if err := c.Flush(); machine.ErrnoName(err) != "EINVAL" || !strings.Contains(err.Error(), "teardown") {
		t.Fatalf("Flush after Settle: %v, want the munmap's EINVAL charged to the teardown", err)
	}
}

// helperOf finds the executor's helper: the one child of the test's one
// executor child.
func helperOf(t *testing.T) int {
	t.Helper()
	exec := children(t, os.Getpid())
	for _, p := range exec {
		if kids := children(t, p); len(kids) == 1 {
			return kids[0]
		}
	}
	t.Fatalf("no executor with one child (a helper) among %v", exec)
	return 0
}

// children lists the child processes of pid, over all its threads.
func children(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func openFds(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// An executor before protocol 12 gets the teardown deferred call by call,
// as before: closed for the next call that waits, no helper involved.
func TestReleaseBeforeProtocol12(t *testing.T) {
	c := helloed(t, &damage{})
	c.proto.Store(protoRelease - 1)
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	c.Release(func(m machine.Machine) { m.Close(fd) })
	if st := c.Stats(); st.RoundTrips != before.RoundTrips || st.Deferred-before.Deferred != 1 {
		t.Fatalf("stats before %+v after %+v: want the close deferred, no round trip", before, st)
	}
	if _, err := c.Read(fd, 8); machine.ErrnoName(err) != "EBADF" {
		t.Fatalf("read after the released close: %v, want EBADF", err)
	}
	c.Settle() // nothing to wait for: no call
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 {
		t.Fatalf("Settle made a round trip to an executor without OP_SETTLE")
	}
}

// A teardown with more fds than one OP_RELEASE carries goes in several,
// in order, and every fd ends up closed by the helper.
func TestReleaseManyFds(t *testing.T) {
	c := helloed(t, &damage{})
	d := c.Deferring("set-up")
	var fds []int
	for range releaseFds + 6 {
		fd, err := d.Eventfd()
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	c.Release(func(m machine.Machine) {
		for _, fd := range fds {
			m.Close(fd)
		}
	})
	if st := c.Stats(); st.Deferred-before.Deferred != 2 {
		t.Fatalf("%d fds went in %d releases, want 2", len(fds), st.Deferred-before.Deferred)
	}
	helper := helperOf(t)
	c.Settle()
	for _, fd := range []int{fds[0], fds[releaseFds-1], fds[releaseFds], fds[len(fds)-1]} {
		if _, err := c.Read(fd, 8); machine.ErrnoName(err) != "EBADF" {
			t.Fatalf("read of released fd %d: %v, want EBADF", fd, err)
		}
	}
	if n := openFds(t, helper); n != 4 {
		t.Fatalf("after Settle the helper holds %d fds, want 4", n)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}
