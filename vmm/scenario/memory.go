package scenario

// Scenarios of guest memory and the log's own memory: regions either side of 4 GiB and
// 16 TiB, a protected log page, a lazily mapped log.

import (
	"fmt"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
	"dirtygate/vmm/virtq"
)

// regions writes the first and last pages of two 64 KiB regions on either
// side of 4 GiB, and pages of the main region.
func regions(m machine.Machine, name string) outcome {
	below, at := uint64(1<<32)-regionSize, uint64(1<<32)
	written := headerSize + frameLen
	var bufs [][]Seg
	for i := 0; i < 4; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(5*i), 0), 2048))
	}
	for reg := 1; reg <= 2; reg++ {
		bufs = append(bufs,
			[]Seg{{Off: 0, Len: 2048, Region: reg}},
			[]Seg{{Off: 7 << pageShift, Len: 2048, Region: reg}},
			[]Seg{{Off: regionSize - written, Len: written, Region: reg}}) // ends on the region's last byte
	}
	last := (at + regionSize - 1) >> pageShift
	return rx(m, traffic{cfg: Config{Name: name, Regions: []uint64{below, at}}, bufs: bufs, frames: frames(len(bufs), frameLen)},
		func(r *Rig, _ []virtq.Used, o *outcome) {
			for _, p := range []uint64{below >> pageShift, (at - 1) >> pageShift, at >> pageShift, last} {
				if o.expect.Written[p] == 0 {
					o.err = fmt.Errorf("page %#x not in the used ring's chains: vhost did not fill the buffers as laid out", p)
				}
			}
			o.notes = append(o.notes, fmt.Sprintf("regions at %#x and %#x (64 KiB each) besides the main one; the log covers %d pages (%d KiB)",
				below, at, r.pages, r.pages/8/1024))
			o.control = clearBit(last)
		})
}

// regionsHigh puts a 64 KiB region across guest-physical 16 TiB: its pages
// run from 2^32 - 8 to 2^32 + 7, where a 32-bit page index wraps. The log
// reaches 512 MiB; it is mapped lazily and read as a window (sparseLog).
func regionsHigh(m machine.Machine, name string) outcome {
	if m.ABI().WordBits == 32 {
		return outcome{skip: "64-bit VMMs only: a 32-bit VMM cannot give guest memory past 16 TiB a 512 MiB log beside everything else in its address space"}
	}
	gpa := uint64(1<<44) - regionSize/2
	written := headerSize + frameLen
	bufs := [][]Seg{
		{{Off: 0, Len: 2048, Region: 1}},
		{{Off: regionSize/2 - 4096, Len: 2048, Region: 1}}, // page 2^32 - 1
		{{Off: regionSize / 2, Len: 2048, Region: 1}},      // page 2^32
		{{Off: regionSize - written, Len: written, Region: 1}},
	}
	top := uint64(1) << 32
	return rx(m, traffic{cfg: Config{Name: name, Regions: []uint64{gpa}, LazyLog: true}, bufs: bufs, frames: frames(len(bufs), frameLen)},
		func(r *Rig, _ []virtq.Used, o *outcome) {
			for _, p := range []uint64{top - 8, top - 1, top, top + 7} {
				if o.expect.Written[p] == 0 {
					o.err = fmt.Errorf("page %#x not in the used ring's chains: vhost did not fill the buffers as laid out", p)
				}
			}
			o.notes = append(o.notes, fmt.Sprintf("a region at %#x (pages %#x..%#x); the log covers %d pages (%d MiB, mapped lazily); checked: the window from page %#x to the end of the log and the canary after it",
				gpa, top-8, top+7, r.pages, r.pages/8>>20, r.pageBase))
			o.control = clearBit(top)
		})
}

// logProtected puts three 64 KiB regions where their log bits sit on
// three consecutive host pages of the log, protects the middle one, and
// sends frames to the first, the middle and the last region in that order.
func logProtected(prot machine.Prot) func(machine.Machine, string) outcome {
	return func(m machine.Machine, name string) outcome {
		regs, bufs := onThreeLogPages(m)
		failing := regs[1]
		cfg := Config{Name: name, Regions: regs,
			ProtectLog: []uint64{failing >> pageShift}, LogProt: prot}
		return rx(m, traffic{cfg: cfg, bufs: bufs, frames: frames(len(bufs), frameLen)},
			func(r *Rig, _ []virtq.Used, o *outcome) {
				protected := map[uint64]int{}
				for p := range o.expect.Written {
					if p >= failing>>pageShift && p < (failing+regionSize)>>pageShift {
						delete(o.expect.Written, p)
						o.expect.Allowed[p] = 0
						protected[p] = 0
					}
				}
				lost := missing(o.log, protected)
				errs := r.ErrEvents()
				class := "bits correct: the kernel logged through the protected page"
				o.class = record.ClassCorrect
				switch {
				case len(lost) > 0 && errs == 0:
					class = fmt.Sprintf("silent loss: LOG_ALL accepted, %d bit(s) on the protected log page missing, nothing on the error eventfd", len(lost))
					o.class = record.ClassSilentLoss
				case len(lost) > 0:
					class = fmt.Sprintf("reported: %d bit(s) missing, the error eventfd signalled %d time(s)", len(lost), errs)
					o.class = record.ClassReported
				}
				if len(protected) == 0 {
					o.err = fmt.Errorf("no frame landed on a page whose bit sits on the protected log page: nothing was classified")
					return
				}
				o.count("bits_on_protected_page", int64(len(protected)))
				o.notes = append(o.notes, fmt.Sprintf("log page of guest pages %#x.. made %s: %s; pages before and after it: %d logged as required",
					failing>>pageShift, protName(prot), class, len(o.expect.Written)))
				if len(o.expect.Written) == 0 {
					o.err = fmt.Errorf("no page outside the protected log page was written")
					return
				}
				o.control = clearBit(sortedPages(o.expect.Written)[len(o.expect.Written)-1])
			})
	}
}

func protName(p machine.Prot) string {
	if p == machine.ProtNone {
		return "PROT_NONE"
	}
	return "read-only"
}

// logLazy writes pages whose bits sit on three untouched log pages.
func logLazy(m machine.Machine, name string) outcome {
	regs, bufs := onThreeLogPages(m)
	cfg := Config{Name: name, Regions: regs, LazyLog: true}
	return rx(m, traffic{cfg: cfg, bufs: bufs, frames: frames(len(bufs), frameLen)},
		func(r *Rig, _ []virtq.Used, o *outcome) {
			o.notes = append(o.notes, fmt.Sprintf("log of %d KiB mapped without MAP_POPULATE; bits on log pages %#x, %#x, %#x",
				r.pages/8/1024, r.LogPageOf(regs[0]>>pageShift), r.LogPageOf(regs[1]>>pageShift), r.LogPageOf(regs[2]>>pageShift)))
			o.control = clearBit(sortedPages(o.expect.Written)[2])
		})
}

// missing lists the pages whose bit is clear in the log.
func missing(l oracle.Log, pages map[uint64]int) []uint64 {
	var out []uint64
	for p := range pages {
		if !oracle.TestBit(l.After, l.Layout, l.BitOf(p)) {
			out = append(out, p)
		}
	}
	return out
}

// onThreeLogPages lays out three 64 KiB regions whose log bits sit on three
// consecutive host pages of the log (guest page P has its bit at byte
// 64 + P/8 of the checked range), and buffers on the first and last page
// of each, in region order.
func onThreeLogPages(m machine.Machine) ([]uint64, [][]Seg) {
	ps := uint64(m.ABI().PageSize)
	written := headerSize + frameLen
	var regs []uint64
	var bufs [][]Seg
	for k := 1; k <= 3; k++ {
		regs = append(regs, uint64(k)*8*ps<<pageShift)
		bufs = append(bufs,
			[]Seg{{Off: 0, Len: 2048, Region: k}},
			[]Seg{{Off: regionSize - written, Len: written, Region: k}})
	}
	return regs, bufs
}
