package scenario

// Scenarios of the rings: the used ring logged at its guest-physical pages, under a
// device IOTLB, on the TX queue, and the log eventfd.

import (
	"fmt"
	"maps"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/virtq"
)

func usedRing(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 64; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(i), 512), 2048))
	}
	cfg := Config{Name: name, UsedOff: 3*4096 - 1024}
	return rx(m, traffic{cfg: cfg, bufs: bufs, frames: frames(300, frameLen)}, func(r *Rig, used []virtq.Used, o *outcome) {
		// 300 completions wrote all 256 entries, and used->idx.
		for p := range r.UsedPages() {
			o.expect.Required[p] = true
		}
		o.notes = append(o.notes, fmt.Sprintf("used ring at guest-physical %#x, %d bytes over pages %v, %d completions on %d entries",
			r.Mem.GPAOf(r.RX.UsedOff), virtq.UsedSize(ringNum), sortedPages(r.UsedPages()), len(used), ringNum))
		o.control = clearBit(r.Page(r.RX.UsedOff + 4 + 8*(ringNum-1)))
	})
}

// iotlb receives 300 frames through a device IOTLB (IOVA = guest-physical
// minus 1 MiB) into 64 buffers in the second 2 MiB of guest memory, mapped
// by 4 KiB entries, 8 of them crossing a page boundary where two entries
// meet, with the used ring logged. The used ring ends 4 bytes into page
// 259: that page holds only the second half of used entry 255, so only
// writes of that entry, always crossing into it, can log it. Without
// splitUsed the first 2 MiB, the rings, is one 2 MiB entry (a superpage);
// with it, 4 KiB entries too, so each write of that entry translates to
// two pieces.
func iotlb(splitUsed bool) func(machine.Machine, string) outcome {
	return func(m machine.Machine, name string) outcome {
		const usedEnd = 3 * 4096                            // the page boundary the used ring crosses
		bufPage := uint64(guestBase+hugeIOTLB) >> pageShift // 768
		var bufs [][]Seg
		for i := 0; i < 64; i++ {
			p := bufPage + uint64(2*i)
			if i%8 == 7 {
				// Crosses from p into p+1: two entries.
				bufs = append(bufs, one(pageOff(p, 4096-600), 2048))
				continue
			}
			bufs = append(bufs, one(pageOff(p, 64*(i%8)), 2048))
		}
		cfg := Config{Name: name, UsedOff: usedEnd - 2048, IOTLB: true}
		if !splitUsed {
			cfg.IOTLBHuge = []int{0}
		}
		return rx(m, traffic{cfg: cfg, bufs: bufs, frames: frames(300, frameLen)}, func(r *Rig, used []virtq.Used, o *outcome) {
			whole, err := r.ChainPages(used)
			if err != nil {
				o.err = err
				return
			}
			for p := range whole {
				o.expect.Allowed[p] = 0 // 6.1 logs whole descriptors under an IOTLB
			}
			for p := range r.UsedPages() {
				o.expect.Allowed[p] = 0
				o.expect.Required[p] = true
			}
			tail := r.Page(usedEnd)
			o.notes = append(o.notes, fmt.Sprintf("%d IOTLB entries, IOVA = guest-physical - %#x; used ring at IOVA %#x over pages %v, page %d holding only the last 4 bytes of entry %d; %d completions",
				len(r.iotlbSent), iovaShift, r.DevAddr(r.Mem.GPAOf(r.RX.UsedOff)), sortedPages(r.UsedPages()), tail, ringNum-1, len(used)))
			if splitUsed {
				o.notes = append(o.notes, fmt.Sprintf("4 KiB entries for the rings too: one ends at page %d, so each write of entry %d translates to two pieces", tail, ringNum-1))
			} else {
				o.notes = append(o.notes, "the rings' 2 MiB are one entry (a superpage): the used ring is one piece")
			}
			o.control = clearBit(tail)
		})
	}
}

// txUsed transmits 32 frames from 32 pages through the TX queue.
func txUsed(m machine.Machine, name string) outcome {
	return withRig(m, Config{Name: name, TX: true}, func(r *Rig, o *outcome) error {
		var offs []int
		for i := 0; i < 32; i++ {
			offs = append(offs, pageOff(firstBufPage+uint64(2*i), 64*i))
		}
		used, err := r.Transmit(offs, frames(32, frameLen))
		if err == nil {
			o.log, err = r.StopAndLog()
		}
		if err != nil {
			return err
		}
		required := map[uint64]bool{}
		for p := range r.TXUsedPages() {
			required[p] = true
		}
		o.packets = len(used)
		o.expect = oracle.Expect{Written: map[uint64]int{}, Allowed: r.TXUsedPages(), Required: required}
		maps.Copy(o.expect.Allowed, r.UsedPages()) // RX's used ring: flags written at attach
		o.notes = append(o.notes, fmt.Sprintf("%d frames transmitted from pages %d..%d; TX used ring on page(s) %v",
			len(used), firstBufPage, firstBufPage+62, sortedPages(r.TXUsedPages())))
		o.control = setBit(firstBufPage + 2) // a page a frame was read from
		return nil
	})
}

func logEventfd(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 8; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(i), 0), 2048))
	}
	return rx(m, traffic{cfg: Config{Name: name, LogFD: true, UsedUnlogged: true}, bufs: bufs, frames: frames(8, frameLen)},
		func(r *Rig, _ []virtq.Used, o *outcome) {
			o.findings = append(o.findings, eventfdFindings(o.logEvents)...)
			o.count("log_eventfd_signals", int64(o.logEvents))
			// The control reads, the same way, an eventfd of the VMM's
			// that vhost was never given: the check must fail on it.
			spare, err := m.Eventfd()
			if err != nil {
				o.err = err
				return
			}
			idle := r.count(spare)
			m.Close(spare)
			o.control = control{
				what: "judging an eventfd vhost was never given",
				mutate: func(_ *oracle.Log, _ *oracle.Expect, extra *[]oracle.Finding) {
					*extra = append(*extra, eventfdFindings(idle)...)
				},
				want: []oracle.Kind{oracle.EventFD},
			}
		})
}

// eventfdFindings judges the log eventfd's count after 8 frames with the
// used ring unlogged: each frame's data is logged by one vhost_log_write,
// which must signal it.
func eventfdFindings(events uint64) []oracle.Finding {
	if events >= 8 {
		return nil
	}
	return []oracle.Finding{{Kind: oracle.EventFD, Detail: fmt.Sprintf("eventfd: the log eventfd was signalled %d time(s) for 8 frames whose data was logged (one signal per logged write)", events)}}
}
