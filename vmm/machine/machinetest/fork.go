// Package machinetest holds checks every machine.Machine must pass, run by
// the tests of each implementation against the real thing.
package machinetest

import (
	"bytes"
	"testing"

	"dirtygate/vmm/machine"
)

// Fork checks copy-on-write across Fork: what the parent writes after the
// fork is not in the child's view, what it wrote before is, with and
// without the child touching its copies first.
func Fork(t *testing.T, m machine.Machine) {
	t.Helper()
	const size = 3 * 4096
	addr, err := m.Mmap(size)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Munmap(addr, size)
	before := bytes.Repeat([]byte{0xa5}, size)
	for _, touch := range []bool{false, true} {
		if err := m.WriteMem(addr, before); err != nil {
			t.Fatal(err)
		}
		if err := m.Fork(addr, size, touch); err != nil {
			t.Fatalf("fork (touch %v): %v", touch, err)
		}
		if err := m.Fork(addr, size, touch); err == nil {
			t.Fatalf("a second fork while a child waits succeeded")
		}
		after := []byte("written by the parent after the fork")
		if err := m.WriteMem(addr+4096+100, after); err != nil {
			t.Fatal(err)
		}
		view, err := m.ChildView()
		if err != nil {
			t.Fatalf("child view (touch %v): %v", touch, err)
		}
		if !bytes.Equal(view, before) {
			t.Fatalf("child view (touch %v) differs from the memory at the fork: the parent's later write reached it", touch)
		}
		mine, err := m.ReadMem(addr+4096+100, len(after))
		if err != nil || !bytes.Equal(mine, after) {
			t.Fatalf("parent reads %q (%v) after the fork, want %q", mine, err, after)
		}
	}
	if _, err := m.ChildView(); err == nil {
		t.Fatalf("child view with no child succeeded")
	}
}
