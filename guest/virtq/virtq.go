// Package virtq lays out split virtqueues (virtio 1.0, little-endian fields)
// inside guest memory, and plays the driver's side: posting buffers and
// reading what the device used.
package virtq

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Memory is one region of guest memory: Buf is mapped at user address VA
// and the memory table maps it at guest-physical address GPA.
type Memory struct {
	Buf []byte
	VA  uint64
	GPA uint64
}

// GPAOf returns the guest-physical address of offset off.
func (m *Memory) GPAOf(off int) uint64 { return m.GPA + uint64(off) }

// VAOf returns our user address of offset off.
func (m *Memory) VAOf(off int) uint64 { return m.VA + uint64(off) }

// Offset returns the offset of guest-physical address gpa.
func (m *Memory) Offset(gpa uint64) (int, error) {
	if gpa < m.GPA || gpa >= m.GPA+uint64(len(m.Buf)) {
		return 0, fmt.Errorf("guest-physical %#x outside memory [%#x, %#x)", gpa, m.GPA, m.GPA+uint64(len(m.Buf)))
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

// Ring is one split virtqueue living in Mem at the given offsets.
type Ring struct {
	Mem                        *Memory
	Num                        int
	DescOff, AvailOff, UsedOff int
	availIdx, usedSeen         uint16
}

// New lays out a ring; offsets must satisfy the virtio alignment rules
// (descriptors 16, avail 2, used 4; we want 4 for avail too, to publish
// its index with one atomic store).
func New(mem *Memory, num, descOff, availOff, usedOff int) (*Ring, error) {
	switch {
	case num <= 0 || num&(num-1) != 0 || num > 32768:
		return nil, fmt.Errorf("ring size %d is not a power of two <= 32768", num)
	case descOff%16 != 0 || availOff%4 != 0 || usedOff%4 != 0:
		return nil, fmt.Errorf("ring offsets %#x/%#x/%#x misaligned", descOff, availOff, usedOff)
	case descOff+DescSize(num) > len(mem.Buf) || availOff+AvailSize(num) > len(mem.Buf) || usedOff+UsedSize(num) > len(mem.Buf):
		return nil, fmt.Errorf("ring does not fit in guest memory")
	}
	r := &Ring{Mem: mem, Num: num, DescOff: descOff, AvailOff: availOff, UsedOff: usedOff}
	clear(mem.Buf[descOff : descOff+DescSize(num)])
	clear(mem.Buf[availOff : availOff+AvailSize(num)])
	clear(mem.Buf[usedOff : usedOff+UsedSize(num)])
	return r, nil
}

// SetDesc writes descriptor i.
func (r *Ring) SetDesc(i int, d Desc) {
	b := r.Mem.Buf[r.DescOff+16*i:]
	le.PutUint64(b[0:], d.Addr)
	le.PutUint32(b[8:], d.Len)
	le.PutUint16(b[12:], d.Flags)
	le.PutUint16(b[14:], d.Next)
}

// Desc reads descriptor i back.
func (r *Ring) Desc(i int) Desc {
	b := r.Mem.Buf[r.DescOff+16*i:]
	return Desc{Addr: le.Uint64(b[0:]), Len: le.Uint32(b[8:]), Flags: le.Uint16(b[12:]), Next: le.Uint16(b[14:])}
}

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

// word32 is the 32-bit word at off, for atomic access.
func (r *Ring) word32(off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.Mem.Buf[off]))
}

// Offer makes heads available and publishes the new avail index with one
// atomic (ordered) store of the flags+idx word, after the entries.
func (r *Ring) Offer(heads ...uint16) {
	for _, h := range heads {
		le.PutUint16(r.Mem.Buf[r.AvailOff+4+2*(int(r.availIdx)%r.Num):], h)
		r.availIdx++
	}
	var w [4]byte
	le.PutUint16(w[0:], 0) // flags: we want interrupts
	le.PutUint16(w[2:], r.availIdx)
	atomic.StoreUint32(r.word32(r.AvailOff), binary.NativeEndian.Uint32(w[:]))
}

// UsedIdx is the device's used index, read atomically.
func (r *Ring) UsedIdx() uint16 {
	var w [4]byte
	binary.NativeEndian.PutUint32(w[:], atomic.LoadUint32(r.word32(r.UsedOff)))
	return le.Uint16(w[2:])
}

// TakeUsed returns the entries used since the last call.
func (r *Ring) TakeUsed() []Used {
	end := r.UsedIdx()
	var out []Used
	for ; r.usedSeen != end; r.usedSeen++ {
		b := r.Mem.Buf[r.UsedOff+4+8*(int(r.usedSeen)%r.Num):]
		out = append(out, Used{ID: le.Uint32(b[0:]), Len: le.Uint32(b[4:])})
	}
	return out
}

// Pending is how many offered buffers the device has not used yet.
func (r *Ring) Pending() int { return int(r.availIdx - r.UsedIdx()) }
