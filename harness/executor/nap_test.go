//go:build linux && amd64

package executor

import (
	"encoding/binary"
	"testing"
	"time"

	"dirtygate/vmm/machine"
)

// A nap (machine.Nap) travels with the next call: the eventfd is drained
// in the same round trip, and a nap on an eventfd nobody signalled waits
// out its time and is no failure.
func TestNap(t *testing.T) {
	c := helloed(t, &damage{})
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(fd, binary.LittleEndian.AppendUint64(nil, 3)); err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	if err := machine.Nap(c, fd, 1000); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Read(fd, 8); machine.ErrnoName(err) != "EAGAIN" {
		t.Fatalf("read after the nap: %v, want EAGAIN (the nap drained it)", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("a nap on a signalled eventfd took %v", d)
	}
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 {
		t.Fatalf("stats before %+v after %+v: want the nap in the read's round trip", before, st)
	}
	start = time.Now()
	machine.Nap(c, fd, 200)
	if err := c.Flush(); err != nil {
		t.Fatalf("a nap nobody woke: %v, want no failure", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("a nap nobody woke took %v, want its 200ms", d)
	}
}
