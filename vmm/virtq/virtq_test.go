package virtq

import (
	"encoding/binary"
	"testing"

	"dirtygate/vmm/machine"
)

// TakeUsed reads only the entries the device added, across the ring's end
// and across the 16-bit index's wrap, in order.
func TestTakeUsedAcrossTheEnd(t *testing.T) {
	m := machine.Native()
	va, err := m.Mmap(3 * 4096)
	if err != nil {
		t.Fatal(err)
	}
	mem := &Memory{M: m, VA: va, GPA: 1 << 20, Size: 3 * 4096}
	const num = 8
	r, err := New(mem, num, 0, 4096, 8192)
	if err != nil {
		t.Fatal(err)
	}
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
	for _, n := range []int{3, 0, 8, 5, 1} {
		device(n)
		got, err := r.TakeUsed()
		if err != nil || len(got) != n {
			t.Fatalf("after %d new entries: %d (%v)", n, len(got), err)
		}
		for _, u := range got {
			if u.ID != want&0xffff || u.Len != 100+want&0xffff {
				t.Fatalf("entry %+v, want id %d", u, want&0xffff)
			}
			want++
		}
	}
}
