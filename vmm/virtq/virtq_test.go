package virtq

import (
	"encoding/binary"
	"testing"

	"dirtygate/vmm/machine"
)

// testRing is an 8-entry ring in 3 pages of this process's memory: the
// descriptors on the first, the avail ring on the second, the used ring
// on the third.
func testRing(t *testing.T) (*Memory, *Ring) {
	t.Helper()
	m := machine.Native()
	va, err := m.Mmap(3 * 4096)
	if err != nil {
		t.Fatal(err)
	}
	mem := &Memory{M: m, VA: va, GPA: 1 << 20, Size: 3 * 4096}
	r, err := New(mem, 8, 0, 4096, 8192)
	if err != nil {
		t.Fatal(err)
	}
	return mem, r
}

// TakeUsed reads only the entries the device added, across the ring's end
// and across the 16-bit index's wrap, in order, whether it read ahead
// fewer entries than there were, as many, or more (the slots past the
// index, older entries, are dropped).
func TestTakeUsedAcrossTheEnd(t *testing.T) {
	for _, expect := range []int{0, 2, 5, 100} {
		mem, r := testRing(t)
		const num = 8
		idx := uint16(0)
		device := func(n int) { // the device publishes n entries: id = index
			for i := 0; i < n; i++ {
				e := make([]byte, 8)
				binary.LittleEndian.PutUint32(e, uint32(idx))
				binary.LittleEndian.PutUint32(e[4:], 100+uint32(idx))
				mem.Write(8192+4+8*(int(idx)%num), e)
				idx++
			}
			b := make([]byte, 4)
			binary.LittleEndian.PutUint16(b[2:], idx)
			mem.Write(8192, b)
		}
		r.usedSeen = 65530 // 16-bit wrap ahead
		idx = 65530
		want := uint32(65530)
		for _, n := range []int{3, 0, 8, 5, 1, 7} {
			device(n)
			got, err := r.TakeUsed(expect)
			if err != nil || len(got) != n {
				t.Fatalf("expecting %d, after %d new entries: %d (%v)", expect, n, len(got), err)
			}
			for _, u := range got {
				if u.ID != want&0xffff || u.Len != 100+want&0xffff {
					t.Fatalf("expecting %d: entry %+v, want id %d", expect, u, want&0xffff)
				}
				want++
			}
		}
	}
}

// AskCall puts what was taken in used_event, and writes again only when
// that moved.
func TestAskCall(t *testing.T) {
	mem, r := testRing(t)
	const num = 8
	usedEvent := func() uint16 {
		b, err := mem.Read(4096+4+2*num, 2)
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint16(b)
	}
	mem.Write(8192, []byte{0, 0, 3, 0}) // the device used 3
	if _, err := r.TakeUsed(0); err != nil {
		t.Fatal(err)
	}
	if err := r.AskCall(); err != nil || usedEvent() != 3 {
		t.Fatalf("used_event %d after taking 3 (%v)", usedEvent(), err)
	}
	mem.Write(4096+4+2*num, []byte{0x77, 0}) // not written again while nothing moved
	if r.AskCall(); usedEvent() != 0x77 {
		t.Errorf("AskCall wrote used_event again with nothing new taken")
	}
	mem.Write(8192, []byte{0, 0, 5, 0})
	r.TakeUsed(8)
	if r.AskCall(); usedEvent() != 5 {
		t.Errorf("used_event %d after taking 5", usedEvent())
	}
}
