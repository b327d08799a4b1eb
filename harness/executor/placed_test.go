//go:build linux && amd64

package executor

import (
	"encoding/binary"
	"errors"
	"testing"

	"dirtygate/vmm/machine"
)

// An fd opened through the deferring view is the number the client chose
// (protocol 7): the calls that use it queue behind the open and all go in
// one round trip, and the executor's fd of that number is the new file.
func TestPlacedFds(t *testing.T) {
	c := helloed(t, &damage{})
	d := c.Deferring("eventfd")
	before := c.Stats()
	fd, err := d.Eventfd()
	if err != nil || fd != placedBase {
		t.Fatalf("placed eventfd: %d, %v, want %d", fd, err, placedBase)
	}
	if n, err := c.Write(fd, binary.LittleEndian.AppendUint64(nil, 7)); n != 8 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	b, err := c.Read(fd, 8)
	if err != nil || binary.LittleEndian.Uint64(b) != 7 {
		t.Fatalf("read of the placed eventfd: %x, %v", b, err)
	}
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 {
		t.Fatalf("stats before %+v after %+v: want the eventfd and the write in the read's round trip", before, st)
	}
	next, _ := d.Eventfd()
	if next != placedBase+1 {
		t.Fatalf("a second placed fd: %d, want %d", next, placedBase+1)
	}
	d.Close(fd) // frees the number: the close runs first
	again, _ := d.Eventfd()
	if again != fd {
		t.Fatalf("after closing %d the next placed fd is %d", fd, again)
	}
	if _, err := c.Read(again, 8); machine.ErrnoName(err) != "EAGAIN" {
		t.Fatalf("read of the fd placed again: %v, want EAGAIN (a new, empty eventfd)", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	// Alone in its round trip, a placed call still goes as a batch: a
	// request of its own has no place to say where.
	lone, _ := d.Eventfd()
	if err := c.Flush(); err != nil {
		t.Fatalf("a placed eventfd flushed alone: %v", err)
	}
	if _, err := c.Read(lone, 8); machine.ErrnoName(err) != "EAGAIN" {
		t.Fatalf("read of the eventfd placed alone at %d: %v, want EAGAIN", lone, err)
	}
}

// A number the executor already has open is never taken over: the
// placed call fails with EBUSY, naming its step, and the calls queued
// behind it (which would have used the wrong file) never run.
func TestPlacedFdInUse(t *testing.T) {
	c := helloed(t, &damage{})
	held := -1
	for i := 0; i < placedBase && held < placedBase; i++ { // the kernel hands out the lowest free number
		if held, _ = c.Eventfd(); held < 0 {
			t.Fatal("eventfd failed")
		}
	}
	if held != placedBase {
		t.Fatalf("could not make the executor hold fd %d (got %d)", placedBase, held)
	}
	fd, _ := c.Deferring("open the log eventfd").Eventfd()
	c.Write(fd, binary.LittleEndian.AppendUint64(nil, 9))
	_, err := c.Read(3, 8)
	var de *machine.DeferredError
	if !errors.Is(err, machine.ErrNotRun) || !errors.As(err, &de) || de.Step != "open the log eventfd" || machine.ErrnoName(err) != "EBUSY" {
		t.Fatalf("the call behind a placed fd that was in use: %v, want not run, naming the step and EBUSY", err)
	}
	if err := c.Flush(); machine.ErrnoName(err) != "EBUSY" {
		t.Fatalf("Flush: %v, want EBUSY", err)
	}
	if _, err := c.Read(held, 8); machine.ErrnoName(err) != "EAGAIN" {
		t.Fatalf("the eventfd held at %d: %v, want EAGAIN: the write behind the failed placement ran", held, err)
	}
}
