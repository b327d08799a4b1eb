package scenario

// The rig's traffic: buffers posted and offered, frames sent through the tap, used
// entries collected, and the pages they wrote.

import (
	"fmt"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/virtq"
)

// Transmit writes one device-readable buffer per frame (a zero virtio-net
// header, then the frame) at the given offsets, offers them on the TX
// queue, kicks, and waits until vhost has used them all.
func (r *Rig) Transmit(offs []int, frs [][]byte) ([]virtq.Used, error) {
	var heads []uint16
	for i, f := range frs {
		buf := append(make([]byte, headerSize), f...)
		if err := r.Mem.Write(offs[i], buf); err != nil {
			return nil, err
		}
		if err := r.iotlbMap(offs[i], len(buf)); err != nil {
			return nil, err
		}
		if err := r.TX.SetDesc(i, virtq.Desc{Addr: r.DevAddr(r.Mem.GPAOf(offs[i])), Len: uint32(len(buf))}); err != nil {
			return nil, err
		}
		heads = append(heads, uint16(i))
	}
	if err := r.TX.Offer(heads...); err != nil {
		return nil, err
	}
	if err := r.signal(r.txKick); err != nil {
		return nil, err
	}
	return r.waitRing(r.TX, r.txCall, len(frs), "TX buffers")
}

// TXUsedPages are the pages of the TX used ring.
func (r *Rig) TXUsedPages() map[uint64]int {
	a := map[uint64]int{}
	for p := r.Page(txUsedOff); p <= r.Page(txUsedOff+virtq.UsedSize(ringNum)-1); p++ {
		a[p] = 0
	}
	return a
}

// Seg is one descriptor of a buffer: an offset into guest memory and a length.
type Seg struct {
	Off    int
	Len    int
	Region int // 0: the main memory; i: Config.Regions[i-1]
}

// Post writes a device-writable descriptor chain per buffer, offers them,
// and kicks. It returns the head of each chain.
func (r *Rig) Post(bufs ...[]Seg) ([]uint16, error) {
	var heads []uint16
	for _, b := range bufs {
		if r.nextDesc+len(b) > ringNum {
			return nil, fmt.Errorf("out of descriptors")
		}
		head := uint16(r.nextDesc)
		for i, s := range b {
			mem := r.Mem
			if s.Region > 0 {
				mem = r.extra[s.Region-1]
			}
			if s.Region == 0 {
				if err := r.iotlbMap(s.Off, s.Len); err != nil {
					return nil, err
				}
			}
			d := virtq.Desc{Addr: r.DevAddr(mem.GPAOf(s.Off)), Len: uint32(s.Len), Flags: virtq.DescWrite}
			if i < len(b)-1 {
				d.Flags |= virtq.DescNext
				d.Next = uint16(r.nextDesc + 1)
			}
			if err := r.RX.SetDesc(r.nextDesc, d); err != nil {
				return nil, err
			}
			r.nextDesc++
		}
		heads = append(heads, head)
	}
	return heads, r.Offer(heads...)
}

// Offer makes already written chains available again and kicks.
func (r *Rig) Offer(heads ...uint16) error {
	if err := r.RX.Offer(heads...); err != nil {
		return err
	}
	return r.signal(r.kick)
}

// signal adds 1 to an eventfd (a kick).
func (r *Rig) signal(fd int) error {
	single := make([]byte, 8)
	r.M.ABI().ByteOrder.PutUint64(single, 1)
	_, err := r.M.Write(fd, single)
	return err
}

// Send transmits frames out of the tap; vhost receives them.
func (r *Rig) Send(frs ...[]byte) error {
	for _, f := range frs {
		if err := r.Tap.Send(f); err != nil {
			return err
		}
	}
	return nil
}

// WaitUsed waits until n more buffers are used and returns them.
func (r *Rig) WaitUsed(n int) ([]virtq.Used, error) {
	return r.waitRing(r.RX, r.call, n, "buffers (frames lost before vhost?)")
}

// waitRing collects n used entries of ring, sleeping on its call eventfd.
func (r *Rig) waitRing(ring *virtq.Ring, call, n int, what string) ([]virtq.Used, error) {
	var got []virtq.Used
	deadline := time.Now().Add(waitUsed)
	for {
		u, err := ring.TakeUsed(n - len(got))
		if err != nil {
			return got, err
		}
		got = append(got, u...)
		if len(got) >= n {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("vhost used %d of %d %s within %v", len(got), n, what, waitUsed)
		}
		if r.Cfg.EventIdx {
			if err := ring.AskCall(); err != nil {
				return got, err
			}
		}
		if err := machine.Nap(r.M, call, 20); err != nil {
			return got, err
		}
	}
}

// Written computes E from the used ring: for each used buffer, each
// descriptor of its chain is logged for the bytes actually written
// (min(len, what is left of used.len)), as vhost_log_write does.
func (r *Rig) Written(used []virtq.Used) (map[uint64]int, error) { return r.chainPages(used, true) }

// ChainPages are the guest pages of the whole descriptor chains of the
// used buffers, written or not (under IOTLB 6.1 logs whole descriptors).
func (r *Rig) ChainPages(used []virtq.Used) (map[uint64]int, error) { return r.chainPages(used, false) }

// chainPages counts the guest pages of the used buffers' descriptors: the
// bytes written when written is set, else whole descriptors.
func (r *Rig) chainPages(used []virtq.Used, written bool) (map[uint64]int, error) {
	w := map[uint64]int{}
	for _, u := range used {
		chain, err := r.RX.Chain(uint16(u.ID))
		if err != nil {
			return nil, err
		}
		rem := uint64(u.Len)
		for _, d := range chain {
			l := uint64(d.Len)
			if written {
				l = min(l, rem)
				rem -= l
			}
			if l == 0 {
				continue
			}
			a := r.GPAOfDev(d.Addr)
			for p := a >> pageShift; p <= (a+l-1)>>pageShift; p++ {
				w[p]++
			}
		}
		if written && rem != 0 {
			return nil, fmt.Errorf("used buffer %d reports %d bytes, its chain holds only %d", u.ID, u.Len, uint64(u.Len)-rem)
		}
	}
	return w, nil
}

// UsedPages are the pages of the used ring (what VHOST_VRING_F_LOG may log).
func (r *Rig) UsedPages() map[uint64]int {
	a := map[uint64]int{}
	first := r.Page(r.RX.UsedOff)
	last := r.Page(r.RX.UsedOff + virtq.UsedSize(ringNum) - 1)
	for p := first; p <= last; p++ {
		a[p] = 0
	}
	return a
}
