//go:build linux && amd64

package executor

import (
	"bytes"
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

// A ring's index and the entries after it come in one round trip (protocol
// 9), the second range read after the first; ranges too long for one
// response still come right, in more.
func TestReadMemAfter(t *testing.T) {
	c := helloed(t, &damage{})
	addr, err := c.Mmap(9 * 4096)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 9*4096)
	for i := range img {
		img[i] = byte(i * 7)
	}
	if err := c.WriteMem(addr, img); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ off1, n1, off2, n2, trips int }{
		{0, 4, 4096 + 12, 512, 1},
		{8, 4, 4, 0, 1},
		{0, 4, 100, 9*4096 - 100, 3}, // past one response (MaxData): a read, and the range in two
	} {
		before := c.Stats()
		b1, b2, err := c.ReadMemAfter(addr+uint64(k.off1), k.n1, addr+uint64(k.off2), k.n2)
		if err != nil || !bytes.Equal(b1, img[k.off1:k.off1+k.n1]) || !bytes.Equal(b2, img[k.off2:k.off2+k.n2]) {
			t.Fatalf("%+v: read %d and %d bytes (%v), differ", k, len(b1), len(b2), err)
		}
		if trips := c.Stats().RoundTrips - before.RoundTrips; trips != k.trips {
			t.Fatalf("%+v: %d round trips", k, trips)
		}
	}
}

// Deferred writes that continue the one queued last go as one call (a
// ring's descriptors); a 4-byte aligned write (the executor's single
// store that publishes an index) never merges, nor does a write behind
// another call; what lands is what was written, in order.
func TestContiguousWrites(t *testing.T) {
	c := helloed(t, &damage{})
	addr, err := c.Mmap(4096)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4096)
	write := func(off int, b []byte) {
		t.Helper()
		if err := c.WriteMem(addr+uint64(off), b); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], b)
	}
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	for i := 0; i < 8; i++ { // 8 descriptors: one call
		write(16*i, bytes.Repeat([]byte{byte(i + 1)}, 16))
	}
	write(128, []byte{9, 9, 9, 9})          // an index: a call of its own
	write(132, []byte{7, 7})                // not merged into the index
	write(134, []byte{6, 6})                // merged with the one before
	c.Deferring("a call between").Close(fd) // a call between: the next starts anew
	write(136, []byte{5, 5, 5})
	got, err := c.ReadMem(addr, len(want))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back differs (%v)", err)
	}
	if calls := c.Stats().Calls - before.Calls; calls != 6 {
		t.Fatalf("%d calls, want 6: the descriptors, the index, two avail entries, the close, the last write, the read", calls)
	}
}
