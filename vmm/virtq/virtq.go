// Package virtq lays out split virtqueues (virtio 1.0, little-endian fields)
// inside guest memory, and plays the driver's side: posting buffers and
// reading what the device used.
//
// Runs on both sides, through machine: in the agent, and on the host driving the executor.
package virtq

import (
	"encoding/binary"
	"fmt"

	"dirtygate/vmm/machine"
)

// Memory is one region of guest memory on the machine: Size bytes mapped
// at user address VA, which the memory table maps at guest-physical GPA.
type Memory struct {
	M    machine.Machine
	VA   uint64
	GPA  uint64
	Size int
}

// Read reads n bytes at offset off.
func (m *Memory) Read(off, n int) ([]byte, error) { return m.M.ReadMem(m.VA+uint64(off), n) }

// ReadAfter reads n1 bytes at off1, then, with no load of them before
// the first's, n2 at off2 (machine.ReadAfter).
func (m *Memory) ReadAfter(off1, n1, off2, n2 int) ([]byte, []byte, error) {
	return machine.ReadAfter(m.M, m.VA+uint64(off1), n1, m.VA+uint64(off2), n2)
}

// Write writes b at offset off.
func (m *Memory) Write(off int, b []byte) error { return m.M.WriteMem(m.VA+uint64(off), b) }

// GPAOf returns the guest-physical address of offset off.
func (m *Memory) GPAOf(off int) uint64 { return m.GPA + uint64(off) }

// VAOf returns our user address of offset off.
func (m *Memory) VAOf(off int) uint64 { return m.VA + uint64(off) }

// Offset returns the offset of guest-physical address gpa.
func (m *Memory) Offset(gpa uint64) (int, error) {
	if gpa < m.GPA || gpa >= m.GPA+uint64(m.Size) {
		return 0, fmt.Errorf("guest-physical %#x outside memory [%#x, %#x)", gpa, m.GPA, m.GPA+uint64(m.Size))
	}
	return int(gpa - m.GPA), nil
}

// Descriptor flags.
const (
	DescNext  = 1
	DescWrite = 2
)

// Desc is struct vring_desc.
type Desc struct {
	Addr  uint64
	Len   uint32
	Flags uint16
	Next  uint16
}

// Used is struct vring_used_elem.
type Used struct {
	ID  uint32
	Len uint32
}

// Sizes of the three parts of a split ring of num entries (no event idx).
func DescSize(num int) int  { return 16 * num }
func AvailSize(num int) int { return 4 + 2*num + 2 }
func UsedSize(num int) int  { return 4 + 8*num + 2 }

var le = binary.LittleEndian

// Ring is one split virtqueue living in Mem at the given offsets. The
// descriptor table is the driver's alone, so a copy of it is kept here and
// chains are followed without reading guest memory back.
type Ring struct {
	Mem                        *Memory
	Num                        int
	DescOff, AvailOff, UsedOff int
	availIdx, usedSeen         uint16
	usedEvent                  uint16 // what used_event holds (0 from New)
	desc                       []Desc
}

// New lays out a ring; offsets must satisfy the virtio alignment rules
// (descriptors 16, avail 2, used 4; we want 4 for avail too, to publish
// its index with one 32-bit store).
func New(mem *Memory, num, descOff, availOff, usedOff int) (*Ring, error) {
	switch {
	case num <= 0 || num&(num-1) != 0 || num > 32768:
		return nil, fmt.Errorf("ring size %d is not a power of two <= 32768", num)
	case descOff%16 != 0 || availOff%4 != 0 || usedOff%4 != 0:
		return nil, fmt.Errorf("ring offsets %#x/%#x/%#x misaligned", descOff, availOff, usedOff)
	case descOff+DescSize(num) > mem.Size || availOff+AvailSize(num) > mem.Size || usedOff+UsedSize(num) > mem.Size:
		return nil, fmt.Errorf("ring does not fit in guest memory")
	}
	r := &Ring{Mem: mem, Num: num, DescOff: descOff, AvailOff: availOff, UsedOff: usedOff, desc: make([]Desc, num)}
	for _, z := range [][2]int{{descOff, DescSize(num)}, {availOff, AvailSize(num)}, {usedOff, UsedSize(num)}} {
		if err := mem.Write(z[0], make([]byte, z[1])); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// SetDesc writes descriptor i.
func (r *Ring) SetDesc(i int, d Desc) error {
	b := make([]byte, 16)
	le.PutUint64(b[0:], d.Addr)
	le.PutUint32(b[8:], d.Len)
	le.PutUint16(b[12:], d.Flags)
	le.PutUint16(b[14:], d.Next)
	r.desc[i] = d
	return r.Mem.Write(r.DescOff+16*i, b)
}

// Desc returns descriptor i as written.
func (r *Ring) Desc(i int) Desc { return r.desc[i] }

// Chain follows a descriptor chain from head.
func (r *Ring) Chain(head uint16) ([]Desc, error) {
	var c []Desc
	i := head
	for {
		if int(i) >= r.Num || len(c) > r.Num {
			return nil, fmt.Errorf("descriptor chain from %d is broken at %d", head, i)
		}
		d := r.Desc(int(i))
		c = append(c, d)
		if d.Flags&DescNext == 0 {
			return c, nil
		}
		i = d.Next
	}
}

// Offer makes heads available and publishes the new avail index with one
// 32-bit store of the flags+idx word, after the entries.
func (r *Ring) Offer(heads ...uint16) error {
	for _, h := range heads {
		var e [2]byte
		le.PutUint16(e[:], h)
		if err := r.Mem.Write(r.AvailOff+4+2*(int(r.availIdx)%r.Num), e[:]); err != nil {
			return err
		}
		r.availIdx++
	}
	var w [4]byte
	le.PutUint16(w[0:], 0) // flags: we want interrupts
	le.PutUint16(w[2:], r.availIdx)
	return r.Mem.Write(r.AvailOff, w[:])
}

// AskCall writes used_event (VIRTIO_RING_F_EVENT_IDX) as a driver does
// before it sleeps (Linux's virtqueue_enable_cb_prepare): the device
// signals the call eventfd once its used index passes what was taken.
// Without it, a device with EVENT_IDX signals only the first used batch.
// It writes only when what was taken moved: a wait polls many times, and
// on the executor each write travels in the next call's request.
func (r *Ring) AskCall() error {
	if r.usedEvent == r.usedSeen {
		return nil
	}
	var e [2]byte
	le.PutUint16(e[:], r.usedSeen)
	if err := r.Mem.Write(r.AvailOff+4+2*r.Num, e[:]); err != nil {
		return err
	}
	r.usedEvent = r.usedSeen
	return nil
}

// UsedIdx is the device's used index, read with one 32-bit load.
func (r *Ring) UsedIdx() (uint16, error) {
	w, err := r.Mem.Read(r.UsedOff, 4)
	if err != nil {
		return 0, err
	}
	return le.Uint16(w[2:]), nil
}

// maxAhead is how many used entries TakeUsed reads with the index before
// it knows they are there: on a console the index and then the entries
// took two round trips; entries the index does not cover are dropped.
const maxAhead = 64

// TakeUsed returns the entries used since the last call. expect is how
// many the caller still waits for: up to maxAhead of them are read with
// the index, after it (machine.ReadAfter: not before, so none is older
// than the index that covers it).
func (r *Ring) TakeUsed(expect int) ([]Used, error) {
	start := int(r.usedSeen) % r.Num
	ahead := max(0, min(expect, maxAhead, r.Num-start))
	w, b, err := r.Mem.ReadAfter(r.UsedOff, 4, r.UsedOff+4+8*start, 8*ahead)
	if err != nil {
		return nil, err
	}
	end := le.Uint16(w[2:])
	if end == r.usedSeen {
		return nil, nil
	}
	// Only the new entries: over the executor's console every byte
	// counts. At most two more reads: past what was read ahead, and
	// where they wrap around the ring's end.
	n := int(end - r.usedSeen)
	if n > r.Num {
		return nil, fmt.Errorf("used index moved by %d on a ring of %d", n, r.Num)
	}
	first := min(n, r.Num-start)
	if first <= ahead {
		b = b[:8*first]
	} else {
		more, err := r.Mem.Read(r.UsedOff+4+8*(start+ahead), 8*(first-ahead))
		if err != nil {
			return nil, err
		}
		b = append(b, more...)
	}
	if n > first {
		rest, err := r.Mem.Read(r.UsedOff+4, 8*(n-first))
		if err != nil {
			return nil, err
		}
		b = append(b, rest...)
	}
	out := make([]Used, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, Used{ID: le.Uint32(b[8*i:]), Len: le.Uint32(b[8*i+4:])})
	}
	r.usedSeen = end
	return out, nil
}
