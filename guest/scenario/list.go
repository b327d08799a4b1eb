package scenario

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dirtygate/guest/machine"
	"dirtygate/guest/oracle"
	"dirtygate/guest/record"
	"dirtygate/guest/virtq"
)

// firstBufPage is the first guest page scenarios put buffers in.
var firstBufPage = uint64(guestBase+bufBase) >> pageShift // 288

var all = []Scenario{
	{Name: "rx-spread", Doc: "RX frames land in buffers spread over many pages, at varied offsets; every page vhost wrote has its bit and nothing else is set.", run: rxSpread},
	{Name: "page-cross", Doc: "Buffers that cross a page boundary, and chains whose descriptors sit on different pages, log every page they touch.", run: pageCross},
	{Name: "last-byte", Doc: "A descriptor on the last byte of a page logs that page; a buffer that ends exactly on a page's last byte, or is longer than what was written, does not log the next page (logging is limited to bytes actually written).", run: lastByte},
	{Name: "jumbo", Doc: "9000-byte frames (tap MTU 9000) in one descriptor log all 3 pages they span.", run: jumbo},
	{Name: "mergeable", Doc: "With VIRTIO_NET_F_MRG_RXBUF one frame is merged over several buffers on different pages; every buffer's page is logged.", run: mergeable},
	{Name: "used-ring", Doc: "With VHOST_VRING_F_LOG and log_guest_addr, the used ring, which spans two pages and wraps (300 completions on 256 entries), is logged at its guest-physical pages.", run: usedRing},
	{Name: "iotlb", Doc: "Device IOTLB: VIRTIO_F_ACCESS_PLATFORM with IOTLB messages (VHOST_BACKEND_F_IOTLB_MSG_V2); every ring and buffer address is an IOVA (guest-physical minus 1 MiB, so a kernel logging IOVAs would set bits of pages below 1 MiB, which belong to nobody), mapped by the entries QEMU sends for a vIOMMU: the rings' 2 MiB as one superpage entry, each buffer page as a 4 KiB entry; 300 frames into 64 buffers, 8 of them crossing a page boundary, so two entries. The log must hold the guest-physical pages of the RX data and of the used ring, whose last page holds only the tail of the last used entry. 6.1 logs whole descriptors, not just the bytes written, under an IOTLB: those pages are allowed.", run: iotlb(false)},
	{Name: "iotlb-used-split", Doc: "As iotlb, with 4 KiB entries for the rings too, as a vIOMMU without superpages maps them: the used ring crosses a page, so an entry ends inside it, where the last used entry crosses into its last page; every write of that entry translates to two pieces and both pages must be logged.", run: iotlb(true)},
	{Name: "carry", Doc: "Pages logged several times between two clears keep exactly their own bit (set_bit is an OR): no carry into the next page, no bit lost at p % 32 == 31.", run: carry},
	{Name: "preset", Doc: "Bits set before the run (unrelated pages, neighbours of written pages, and pages already dirty that are written again) survive, as a QEMU that has not yet harvested them expects.", run: preset},
	{Name: "bit-position", Doc: "Pages at p % 64 in {0, 5, 31, 32, 37, 63} land in the right bit of the right unsigned long (catches u32-word and byte-wise layouts on big-endian hosts).", run: bitPosition},
	{Name: "misaligned-1", Doc: "A log base misaligned by 1 byte is accepted (SET_LOG_BASE returns 0) and bits land at 8*(base%8)+p, as 6.1 places them.", run: misaligned(1)},
	{Name: "misaligned-2", Doc: "As misaligned-1, with 2 bytes.", run: misaligned(2)},
	{Name: "misaligned-3", Doc: "As misaligned-1, with 3 bytes.", run: misaligned(3)},
	{Name: "misaligned-4", Doc: "As misaligned-1, with 4 bytes (4-byte but not 8-byte aligned).", run: misaligned(4)},
	{Name: "live-enable", Doc: "VHOST_F_LOG_ALL switched on with VHOST_SET_FEATURES while the device runs (as QEMU does when migration starts), then off again: every page written while it was on is logged; pages written before or after may be.", run: liveEnable},
	{Name: "tx-used", Doc: "TX buffers are read by vhost, not written: with VHOST_VRING_F_LOG on the TX queue, 32 transmitted frames log the TX used ring's page and none of the 32 pages the frames were read from.", run: txUsed},
	{Name: "harvest", Doc: "The migration sync loop: while 128 frames arrive, a second thread of the VMM harvests the log as QEMU does (each word atomically exchanged with 0, over and over) and sets bits of its own with atomic ORs. The union of the harvests holds every page vhost wrote and every bit the VMM set, and no harvested bit comes back without a new write (each page is written once). A run where no harvest caught bits while frames were still arriving decided nothing about the race: an error, not a pass.", run: harvestLoop},
	{Name: "rounds", Doc: "Migration's property per round, not as a union: six rounds, each making vhost write, flushing the worker (VHOST_NET_SET_BACKEND with the attached tap; the last round detaches it, QEMU's final sync) and harvesting the log as QEMU does (each word exchanged with 0). With VHOST_VRING_F_LOG and VIRTIO_RING_F_EVENT_IDX, the used ring's flags and idx sit alone on page 258 and its entries and avail_event on page 259; the rounds write data pages again and again, idx without flags, avail_event alone (a frame finds the ring empty), and flags alone (a stop and start). Each harvest must hold exactly its round's pages: a bit set only once per logging session is in the union and still lost.", run: roundsScenario},
	{Name: "concurrent", Doc: "Three vhost-net devices (three vhost workers) on one guest memory and one log, receiving at once into interleaved pages, so every log word is updated by all three: 384 frames, 2 rounds each. Every page any of them wrote keeps its bit (a non-atomic read-modify-write of a shared word would lose some). The notes count the log words the devices shared; none shared is an error, and on a guest with one CPU the workers cannot race, so the scenario skips.", run: concurrent},
	{Name: "fork", Doc: "The VMM forks while vhost logs (the RFC V2 review's question: does pinning keep the log's PTE from being write-protected?): 8 frames before any fork, 8 while a child that left its copy-on-write copies alone waits, 8 while a child that first wrote its copy of every log page waits. Every bit must land in the parent's log, none logged after a fork in the child's copy. Control: the last child's copy read as the log shows the post-fork pages missing.", run: forkCOW},
	{Name: "regions", Doc: "Three memory regions: the main one at 1 MiB, 64 KiB ending exactly at 4 GiB, and 64 KiB starting at 4 GiB (page 2^20: a 32-bit guest-physical address or page index would wrap there). Frames land on the first and last page of each extra region; every one is logged at its own page, in a log sized exactly to the highest page, with canaries and a guard page after it.", run: regions},
	{Name: "regions-high", Doc: "64-bit VMMs: a 64 KiB region across guest-physical 16 TiB, pages 2^32 - 8 to 2^32 + 7, where a 32-bit page number wraps. The log then reaches 512 MiB: it is mapped lazily, as QEMU maps its bitmap, and only a window is read (from 64 pages below the region to the end of the log, and the canary after it). Frames land on the region's first page, on pages 2^32 - 1 and 2^32, and on its last byte; each must be logged at its own page. A bit that wrapped to page p - 2^32 shows as missing in the window. Skipped on 32-bit VMMs.", run: regionsHigh},
	{Name: "log-readonly", Doc: "The VMM makes one page of the log read-only after VHOST_SET_LOG_BASE, between two writable ones; frames land in pages whose bits sit before, on and after it. Pages logged on the writable log pages keep their bits and the device goes on working after the failure; what the kernel did with the protected page (bits, error eventfd) is reported as its class, e.g. silent loss.", run: logProtected(machine.ProtRead)},
	{Name: "log-noaccess", Doc: "As log-readonly, with the log page PROT_NONE.", run: logProtected(machine.ProtNone)},
	{Name: "inject-enosys", Doc: "With `--inject` (a debugfs switch in vhost.c, on every arch): every call of the futex-style log helper returns -ENOSYS from before the device is set up, as on an arch without one. Two answers pass: the log is right (a fallback worked), or VHOST_F_LOG_ALL is refused or not offered (the VMM knows it cannot migrate); dropping bits while LOG_ALL stays accepted is silent loss. A kernel that never calls the helper (6.1) is a skip, not a pass: nothing was failed; without `--inject` the scenario is skipped.", run: injectENOSYS(1)},
	{Name: "inject-efault-half", Doc: "With `--inject`: every other call of the helper fails with -EFAULT. Losing the bit a failed call asked for is what 6.1 itself does on a real fault, so it is reported, not a finding; losing any bit no failed call asked for (the switch traces each call's log word and bits) is a silent-loss finding: the log path dropped, cleared or misplaced it.", run: injectEFAULT},
	{Name: "inject-enosys-half", Doc: "As inject-enosys, with every other call failing, armed once the device is set up: the helper and the fallback alternate within one run, on the same words, and a kernel without a fallback loses bits.", run: injectENOSYS(2)},
	{Name: "log-lazy", Doc: "The log is mapped without populating it, as QEMU maps its dirty bitmap: the kernel meets log pages nobody has touched yet, in three regions whose bits sit on three different log pages. Every written page is logged; a log path that cannot fault a log page in (a futex op with page faults disabled, say) loses those bits.", run: logLazy},
	{Name: "compat", Doc: "A 32-bit VMM on the 64-bit kernel's compat layer, where Go builds both (the agent built for 386 on x86_64, for arm on arm64): it runs rx-spread, page-cross, carry, preset, bit-position, misaligned-1 and -4, used-ring, live-enable, harvest, regions, log-lazy, fork and iotlb, reading the log with its own 32-bit words; each of those runs its own negative control, and its findings are reported here. On a little-endian kernel set_bit's 64-bit placement and the VMM's u32 words agree; on a big-endian 64-bit kernel they would not (page p at p XOR 32: 6.1's own ABI), but none of the big-endian 64-bit arches here has a 32-bit Go port (s390x, ppc64): the arch files say why each arch skips it.", run: compat},
	{Name: "log-eventfd", Doc: "The eventfd given with VHOST_SET_LOG_FD is signalled after logging: with the used ring not logged (so no used-ring update signals it), 8 frames must signal it at least 8 times, once per logged write of their data.", run: logEventfd},
}

const frameLen = 1000 // bytes; vhost writes headerSize more

func rxSpread(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 32; i++ {
		p := firstBufPage + uint64(3*i)
		bufs = append(bufs, one(pageOff(p, (i*128)%2048), 2048))
	}
	return rx(m, traffic{cfg: Config{Name: name}, bufs: bufs, frames: frames(32, frameLen)},
		func(_ *Rig, _ []virtq.Used, o *outcome) { o.control = clearBit(sortedPages(o.expect.Written)[7]) })
}

func pageCross(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 16; i++ {
		p := firstBufPage + uint64(2*i)
		bufs = append(bufs, one(pageOff(p, 4096-300), 2048))
	}
	for i := 0; i < 8; i++ {
		p := firstBufPage + 40 + uint64(3*i)
		bufs = append(bufs, []Seg{{Off: pageOff(p, 4096-256), Len: 256}, {Off: pageOff(p+2, 0), Len: 2048}})
	}
	return rx(m, traffic{cfg: Config{Name: name}, bufs: bufs, frames: frames(24, frameLen)},
		func(_ *Rig, _ []virtq.Used, o *outcome) {
			o.control = clearBit(firstBufPage + 1) // the second page of the first crossing buffer
		})
}

func lastByte(m machine.Machine, name string) outcome {
	written := headerSize + frameLen
	a := firstBufPage + 10 // 1-byte descriptor on the last byte of a, then a+2
	b := firstBufPage + 20 // buffer ending exactly on the last byte of b
	c := firstBufPage + 30 // long buffer from the middle of c, written only within c
	bufs := [][]Seg{
		{{Off: pageOff(a, 4095), Len: 1}, {Off: pageOff(a+2, 0), Len: 2048}},
		one(pageOff(b, 4096-written), written),
		one(pageOff(c, 2000), 4096),
	}
	return rx(m, traffic{cfg: Config{Name: name}, bufs: bufs, frames: frames(3, frameLen)},
		func(_ *Rig, _ []virtq.Used, o *outcome) {
			for _, p := range []uint64{a, a + 2, b, c} {
				if o.expect.Written[p] == 0 {
					o.err = fmt.Errorf("page %d not in the used ring's chains: vhost did not fill the buffers as laid out", p)
				}
			}
			o.control = setBit(b + 1)
		})
}

func jumbo(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 4; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(5*i), 100), 16384))
	}
	return rx(m, traffic{cfg: Config{Name: name, MTU: 9000}, bufs: bufs, frames: frames(4, 9014)},
		func(_ *Rig, _ []virtq.Used, o *outcome) {
			if n := len(o.expect.Written); n != 12 {
				o.err = fmt.Errorf("4 jumbo frames should span 12 pages, the used ring says %d", n)
			}
			o.control = clearBit(firstBufPage + 1)
		})
}

// mergeable sends 6 frames of 3000 bytes into 1024-byte buffers: each
// needs 3 (3012 bytes with the header), so vhost merges each frame over 3
// buffers on 3 pages.
func mergeable(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 24; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(i), 1000), 1024))
	}
	t := traffic{cfg: Config{Name: name, Mergeable: true, MTU: 9000}, bufs: bufs, frames: frames(6, 3000), perFrame: 3}
	return rx(m, t, func(r *Rig, used []virtq.Used, o *outcome) {
		for i := 0; i < len(used); i += 3 {
			chain, err := r.RX.Chain(uint16(used[i].ID))
			if err != nil {
				o.err = err
				return
			}
			off, _ := r.Mem.Offset(r.GPAOfDev(chain[0].Addr))
			hdr, err := r.Mem.Read(off+10, 2)
			if err != nil {
				o.err = err
				return
			}
			if nb := le16(hdr); nb != 3 {
				o.err = fmt.Errorf("frame %d: num_buffers = %d, want 3: the frames were not merged", i/3, nb)
				return
			}
		}
		last, _ := r.RX.Chain(uint16(used[len(used)-1].ID))
		o.control = clearBit(r.GPAOfDev(last[0].Addr) >> pageShift)
	})
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

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

// carry logs x three times, y (p % 32 == 31) and z twice, between two
// clears: three rounds re-offer the same buffers.
func carry(m machine.Machine, name string) outcome {
	x := firstBufPage + 3
	y := firstBufPage + 63
	z := firstBufPage + 40
	t := traffic{cfg: Config{Name: name},
		bufs:   [][]Seg{one(pageOff(x, 0), 2048), one(pageOff(y, 0), 2048), one(pageOff(z, 0), 2048)},
		frames: frames(7, frameLen), rounds: [][]int{{0, 1, 2}, {0, 1, 2}, {0}}}
	return rx(m, t, func(_ *Rig, _ []virtq.Used, o *outcome) {
		w := o.expect.Written
		if w[x] != 3 || w[y] != 2 || w[z] != 2 {
			o.err = fmt.Errorf("log counts x=%d y=%d z=%d, want 3, 2, 2", w[x], w[y], w[z])
		}
		o.notes = append(o.notes, fmt.Sprintf("page %d logged 3 times, page %d (p%%32 == 31) twice, page %d twice", x, y, z))
		o.control = addInsteadOfOr()
	})
}

func preset(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	var pre []uint64
	for i := 0; i < 16; i++ {
		p := firstBufPage + uint64(4*i)
		bufs = append(bufs, one(pageOff(p, 0), 2048))
		pre = append(pre, p+1) // a neighbour a carry would hit
		if i%4 == 0 {
			pre = append(pre, p) // already dirty, written again
		}
	}
	for p := uint64(1024); p < 1024+64; p++ {
		pre = append(pre, p) // a whole unrelated word
	}
	return rx(m, traffic{cfg: Config{Name: name, Preset: pre}, bufs: bufs, frames: frames(16, frameLen)},
		func(_ *Rig, _ []virtq.Used, o *outcome) {
			o.control = control{
				what: "clearing pre-set bit of page 1030",
				mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
					oracle.ClearBit(l.After, l.Layout, l.BitOf(1030))
				},
				want: []oracle.Kind{oracle.PresetLost},
			}
		})
}

// positionPages covers p % 64 in {0, 5, 31, 32, 37, 63} over groups of 64
// pages. That set is closed under XOR 32, and the seed patch's big-endian
// misplacement is exactly p -> p^32, so writing all six would hide it: each
// group writes one page of each pair (0|32, 5|37, 31|63), the choice
// varying by group so every position is covered.
func positionPages(groups int) []uint64 {
	var ps []uint64
	for g := uint64(0); g < uint64(groups); g++ {
		base := 64 * (5 + g)
		for i, pair := range [][2]uint64{{0, 32}, {5, 37}, {31, 63}} {
			ps = append(ps, base+pair[(g>>i)&1])
		}
	}
	return ps
}

func positionRun(m machine.Machine, cfg Config, groups int) outcome {
	var bufs [][]Seg
	pages := positionPages(groups)
	for _, p := range pages {
		bufs = append(bufs, one(pageOff(p, 64), 1024))
	}
	return rx(m, traffic{cfg: cfg, bufs: bufs, frames: frames(len(pages), 500)}, func(_ *Rig, _ []virtq.Used, o *outcome) {
		o.control = control{
			what: "moving every written page's bit to page XOR 32",
			mutate: func(l *oracle.Log, e *oracle.Expect, _ *[]oracle.Finding) {
				for p := range e.Written {
					oracle.ClearBit(l.After, l.Layout, l.BitOf(p))
				}
				for p := range e.Written {
					oracle.PutBit(l.After, l.Layout, l.BitOf(p^32))
				}
			},
			want: []oracle.Kind{oracle.Misplaced, oracle.Missing},
		}
	})
}

func bitPosition(m machine.Machine, name string) outcome {
	return positionRun(m, Config{Name: name}, 14)
}

func misaligned(k int) func(machine.Machine, string) outcome {
	return func(m machine.Machine, name string) outcome {
		o := positionRun(m, Config{Name: name, LogMisalign: k}, 8)
		var se *SetupError
		if o.err != nil && errors.As(o.err, &se) && se.Step == "VHOST_SET_LOG_BASE" {
			errno := machine.ErrnoName(o.err)
			// The ABI regression is the finding; the scenario is decided.
			return outcome{
				findings: []oracle.Finding{{
					Kind: oracle.ABI,
					Detail: fmt.Sprintf("abi: VHOST_SET_LOG_BASE rejected a log base misaligned by %d byte(s) with %s; 6.1 and 6.12 accept any alignment",
						k, errno),
				}},
				expect:  oracle.Expect{},
				control: control{moot: "not needed: the kernel rejected the log base, so the scenario failed"},
				log:     oracle.Log{Layout: LayoutOf(m)},
			}
		}
		if o.err != nil {
			return o
		}
		o.control = control{
			what: fmt.Sprintf("reading the log as if the %d-byte misalignment were ignored", k),
			mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
				l.FirstBit -= uint64(8 * k)
			},
			want: []oracle.Kind{oracle.Missing, oracle.Misplaced, oracle.Stray},
		}
		return o
	}
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

// liveEnable writes 8 frames with logging off, 8 after switching it on
// with VHOST_SET_FEATURES on the running device, and 8 after switching it
// off again, each phase into its own pages.
func liveEnable(m machine.Machine, name string) outcome {
	var o outcome
	r, err := NewRig(m, Config{Name: name, LogOff: true})
	if err != nil {
		o.err = err
		return o
	}
	defer r.Close()
	phase := func(first uint64) ([]virtq.Used, error) {
		var bufs [][]Seg
		for i := 0; i < 8; i++ {
			bufs = append(bufs, one(pageOff(first+uint64(2*i), 256), 2048))
		}
		heads, err := r.Post(bufs...)
		if err != nil {
			return nil, err
		}
		return deliver(r, heads, frames(8, frameLen), false)
	}
	before, err := phase(firstBufPage)
	var during, after []virtq.Used
	if err == nil {
		err = r.SetLogging(true)
	}
	if err == nil {
		during, err = phase(firstBufPage + 32)
	}
	if err == nil {
		err = r.SetLogging(false)
	}
	if err == nil {
		after, err = phase(firstBufPage + 64)
	}
	if err == nil {
		o.log, err = r.StopAndLog()
	}
	if err != nil {
		o.err = err
		return o
	}
	w, err := r.Written(during)
	if err != nil {
		o.err = err
		return o
	}
	allowed := r.UsedPages() // logged while logging was on
	for _, u := range [][]virtq.Used{before, after} {
		a, err := r.Written(u)
		if err != nil {
			o.err = err
			return o
		}
		for p := range a {
			allowed[p] = 0
		}
	}
	o.packets = 24
	o.findings = append(o.findings, usedLengths(slices.Concat(before, during, after), frames(24, frameLen))...)
	o.expect = oracle.Expect{Written: w, Allowed: allowed, Required: map[uint64]bool{}}
	o.logEvents = r.LogEvents()
	logged := 0
	for p := range allowed {
		if oracle.TestBit(o.log.After, o.log.Layout, o.log.BitOf(p)) {
			logged++
		}
	}
	o.notes = append(o.notes, fmt.Sprintf("8 frames with logging off, 8 after VHOST_SET_FEATURES turned LOG_ALL on (%d pages, all must be logged), 8 after it turned it off; %d of the %d pages written while off were logged",
		len(w), logged, len(allowed)))
	o.control = clearBit(sortedPages(w)[3])
	return o
}

// txUsed transmits 32 frames from 32 pages through the TX queue.
func txUsed(m machine.Machine, name string) outcome {
	var o outcome
	r, err := NewRig(m, Config{Name: name, TX: true})
	if err != nil {
		o.err = err
		return o
	}
	defer r.Close()
	var offs []int
	for i := 0; i < 32; i++ {
		offs = append(offs, pageOff(firstBufPage+uint64(2*i), 64*i))
	}
	used, err := r.Transmit(offs, frames(32, frameLen))
	if err == nil {
		o.log, err = r.StopAndLog()
	}
	if err != nil {
		o.err = err
		return o
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
	return o
}

// harvestLoop runs the migration sync loop against live traffic.
func harvestLoop(m machine.Machine, name string) outcome {
	var o outcome
	r, err := NewRig(m, Config{Name: name})
	if err != nil {
		o.err = err
		return o
	}
	defer r.Close()
	const nbuf = 128
	var bufs [][]Seg
	for i := 0; i < nbuf; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(i), 512), 1024))
	}
	var mine []uint64 // pages the VMM dirties itself
	for p := uint64(1100); p < 1164; p++ {
		mine = append(mine, p)
	}
	heads, err := r.Post(bufs...)
	if err != nil {
		o.err = err
		return o
	}
	l := r.Layout
	W := uint64(l.WordBits)
	lo := (r.firstBit + firstBufPage) / W
	hi := (r.firstBit + mine[len(mine)-1]) / W
	base := r.rngAddr + lo*W/8
	n := int(hi - lo + 1)
	seen := map[uint64]int{} // page -> harvests it appeared in
	harvested := 0           // bits of pages vhost writes (not the VMM's own)
	collect := func(old []byte) {
		for b := uint64(0); b < uint64(n)*W; b++ {
			if oracle.TestBit(old, l, b) {
				p := lo*W + b - r.firstBit
				seen[p]++
				if p < mine[0] {
					harvested++
				}
			}
		}
	}
	orPage := func(p uint64) error {
		bit := r.firstBit + p
		mask := make([]byte, W/8)
		oracle.PutBit(mask, l, bit%W)
		return m.OrWord(r.rngAddr+(bit/W)*W/8, mask)
	}

	var passes, busy, set int
	var midTraffic atomic.Int64
	var trafficDone atomic.Bool
	var herr error
	noOr := false
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if set < len(mine) && !noOr {
				if err := orPage(mine[set]); errors.Is(err, machine.ErrNoAtomicOr) {
					noOr = true
				} else if err != nil {
					herr = err
					return
				} else {
					set++
				}
			}
			old, err := m.SwapWords(base, n)
			if err != nil {
				herr = err
				return
			}
			passes++
			before := harvested
			during := !trafficDone.Load() // after the swap: still false means the swap ran while frames arrived
			collect(old)
			if harvested > before {
				busy++
				if during {
					midTraffic.Add(1)
				}
			}
			select {
			case <-stop:
				if set == len(mine) || noOr {
					return
				}
			default:
			}
		}
	}()
	// Half the frames, then (for at most a few seconds) until a harvest
	// has caught bits vhost logged, then the rest: the sync loop then runs
	// while the traffic is not over, however the scheduler treats it.
	fr := frames(nbuf, frameLen)
	used, err := deliver(r, heads[:nbuf/2], fr[:nbuf/2], false)
	for t0 := time.Now(); err == nil && midTraffic.Load() == 0 && time.Since(t0) < 5*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		var rest []virtq.Used
		rest, err = deliver(r, heads[nbuf/2:], fr[nbuf/2:], false)
		used = append(used, rest...)
	}
	trafficDone.Store(true)
	close(stop)
	wg.Wait()
	if err == nil {
		err = herr
	}
	if err == nil {
		err = r.Stop() // flushes the worker: the final sync
	}
	duringTraffic := harvested
	if err == nil {
		var old []byte
		if old, err = m.SwapWords(base, n); err == nil {
			collect(old)
		}
	}
	if err != nil {
		o.err = err
		return o
	}
	if midTraffic.Load() == 0 {
		// The scenario exists to race harvests against vhost's logging.
		o.err = fmt.Errorf("no harvest caught bits while frames were arriving (%d passes): the sync loop never overlapped vhost's logging, so nothing was decided about it", passes)
		return o
	}
	if o.log, err = r.Log(); err != nil {
		o.err = err
		return o
	}
	// The oracle judges the union of every harvest, put back in the log.
	for p := range seen {
		oracle.PutBit(o.log.After, l, r.firstBit+p)
	}
	w, err := r.Written(used)
	if err != nil {
		o.err = err
		return o
	}
	o.expect = oracle.Expect{Written: w, Allowed: r.UsedPages(), Required: map[uint64]bool{}}
	if !noOr {
		for _, p := range mine {
			o.expect.Allowed[p] = 0
			o.expect.Required[p] = true
		}
	}
	var back []uint64
	for p, k := range seen {
		if _, ring := r.UsedPages()[p]; k > 1 && !ring { // the used ring is written over and over
			back = append(back, p)
		}
	}
	if len(back) > 0 {
		slices.Sort(back)
		o.findings = append(o.findings, oracle.Finding{Kind: oracle.Resurrected, Pages: back,
			Detail: fmt.Sprintf("resurrected: %d harvested bit(s) came back without a new write (a log update that is not an atomic OR wrote back bits the VMM had cleared): pages %v", len(back), firstFew(back))})
	}
	o.packets = len(used)
	o.findings = append(o.findings, usedLengths(used, frames(nbuf, frameLen))...)
	o.count("harvest_passes", int64(passes))
	o.count("harvests_mid_traffic", midTraffic.Load())
	o.notes = append(o.notes, fmt.Sprintf("%d harvest passes of %d words while %d frames arrived, %d of them caught bits (%d while frames were still arriving; %d bits before the final sync, %d at it); the VMM set %d bits of its own",
		passes, n, len(used), busy, midTraffic.Load(), duringTraffic, harvested-duringTraffic, set))
	if noOr {
		o.notes = append(o.notes, "no atomic OR for user space here (SPARC v8): the VMM set no bits of its own")
		o.control = clearBit(sortedPages(w)[9])
	} else {
		o.control = control{
			what: fmt.Sprintf("dropping the VMM's own bit of page %d from the harvests", mine[5]),
			mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
				oracle.ClearBit(l.After, l.Layout, l.BitOf(mine[5]))
			},
			want: []oracle.Kind{oracle.Missing},
		}
	}
	return o
}

func firstFew(p []uint64) []uint64 {
	if len(p) > 8 {
		return p[:8]
	}
	return p
}

// concurrent runs three devices at once into pages that interleave within
// every log word: page p belongs to device p % 3.
func concurrent(m machine.Machine, name string) outcome {
	const ndev, nbuf, rounds = 3, 64, 2
	var o outcome
	cpus, err := onlineCPUs(m)
	if err != nil {
		o.err = err
		return o
	}
	if cpus < 2 {
		// The vhost workers take turns on one CPU and update the log
		// with preemption off: a lost update between them cannot happen,
		// so a pass would say nothing.
		o.skip = "one CPU online: the three vhost workers cannot update the log at the same time, so races between them are not exercised"
		return o
	}
	o.count("cpus", int64(cpus))
	primary, err := NewRig(m, Config{Name: name})
	if err != nil {
		o.err = err
		return o
	}
	defer primary.Close()
	devs := []*Rig{primary}
	for k := 1; k < ndev; k++ {
		d, err := NewPeer(primary, k)
		if err != nil {
			o.err = err
			return o
		}
		defer d.Close()
		devs = append(devs, d)
	}
	used := make([][]virtq.Used, ndev)
	errs := make([]error, ndev)
	var wg sync.WaitGroup
	for k, d := range devs {
		var bufs [][]Seg
		for i := 0; i < nbuf; i++ {
			bufs = append(bufs, one(pageOff(firstBufPage+uint64(ndev*i+k), 256), 2048))
		}
		heads, err := d.Post(bufs...)
		if err != nil {
			o.err = err
			return o
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			used[k], errs[k] = deliver(d, heads, frames(nbuf*rounds, frameLen), true)
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			o.err = e
			return o
		}
	}
	for _, d := range devs {
		if err := d.Stop(); err != nil {
			o.err = err
			return o
		}
	}
	if o.log, err = primary.Log(); err != nil {
		o.err = err
		return o
	}
	w := map[uint64]int{}
	owner := map[uint64]int{} // log word -> devices that wrote into it (bitmask)
	for k, d := range devs {
		dw, err := d.Written(used[k])
		if err != nil {
			o.err = err
			return o
		}
		for p, n := range dw {
			w[p] += n
			owner[(o.log.BitOf(p))/uint64(o.log.Layout.WordBits)] |= 1 << k
		}
	}
	shared := 0
	for _, mask := range owner {
		if mask == 1<<ndev-1 {
			shared++
		}
	}
	o.packets = ndev * nbuf * rounds
	for k := range devs {
		o.findings = append(o.findings, usedLengths(used[k], frames(nbuf*rounds, frameLen))...)
	}
	if shared == 0 {
		o.err = fmt.Errorf("no log word was updated by all %d devices: the scenario did not make them share words", ndev)
		return o
	}
	o.count("shared_log_words", int64(shared))
	o.expect = oracle.Expect{Written: w, Allowed: map[uint64]int{}, Required: map[uint64]bool{}}
	for _, d := range devs {
		maps.Copy(o.expect.Allowed, d.UsedPages()) // each device logs its used ring
	}
	o.logEvents = primary.LogEvents()
	o.notes = append(o.notes, fmt.Sprintf("%d devices, %d frames each in %d rounds; %d log words were updated by all %d devices, %d set_bit calls in all",
		ndev, nbuf*rounds, rounds, shared, ndev, sumCounts(w)))
	o.control = clearBit(sortedPages(w)[10])
	return o
}

// onlineCPUs counts the CPUs in /sys/devices/system/cpu/online ("0-1,3").
func onlineCPUs(m machine.Machine) (int, error) {
	s, err := readFile(m, "/sys/devices/system/cpu/online")
	if err != nil {
		return 0, fmt.Errorf("reading the online CPUs: %w", err)
	}
	n := 0
	for _, r := range strings.Split(s, ",") {
		var lo, hi int
		if k, _ := fmt.Sscanf(r, "%d-%d", &lo, &hi); k == 2 {
			n += hi - lo + 1
		} else if k == 1 {
			n++
		} else {
			return 0, fmt.Errorf("cannot parse the online CPUs %q", s)
		}
	}
	return n, nil
}

func sumCounts(w map[uint64]int) int {
	n := 0
	for _, c := range w {
		n += c
	}
	return n
}

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
		regions, bufs := onThreeLogPages(m)
		failing := regions[1]
		cfg := Config{Name: name, Regions: regions,
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

// forkCOW forks the agent twice while vhost logs: 8 frames before any
// fork, 8 while a child that left its copies alone waits, 8 while a child
// that first wrote its copy of every log page waits. Every bit must be in
// the parent's log; a child's view holds what the log was at its fork.
func forkCOW(m machine.Machine, name string) outcome {
	var o outcome
	r, err := NewRig(m, Config{Name: name})
	if err != nil {
		o.err = err
		return o
	}
	defer r.Close()
	var bufs [][]Seg
	for i := 0; i < 24; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(2*i), 64*i), 2048))
	}
	heads, err := r.Post(bufs...)
	if err != nil {
		o.err = err
		return o
	}
	addr, n := r.LogRange()
	var phases [3][]virtq.Used
	var views [2][]byte
	for k := 0; k < 3 && err == nil; k++ {
		if k > 0 {
			if err = m.Fork(addr, n, k == 2); err != nil {
				break
			}
		}
		phases[k], err = deliver(r, heads[8*k:8*k+8], frames(8, frameLen), false)
		if k > 0 {
			// Reap the child even when the traffic failed.
			v, verr := m.ChildView()
			views[k-1] = v
			if err == nil {
				err = verr
			}
		}
	}
	if err == nil {
		o.log, err = r.StopAndLog()
	}
	if err != nil {
		o.err = err
		return o
	}
	var pages [3]map[uint64]int
	all := map[uint64]int{}
	for k, u := range phases {
		if pages[k], err = r.Written(u); err != nil {
			o.err = err
			return o
		}
		for p, c := range pages[k] {
			all[p] += c
		}
	}
	o.packets = 24
	o.findings = append(o.findings, usedLengths(slices.Concat(phases[:]...), frames(24, frameLen))...)
	o.expect = oracle.Expect{Written: all, Allowed: r.UsedPages(), Required: map[uint64]bool{}}
	o.logEvents = r.LogEvents()
	for k, how := range []string{"left its copies alone", "wrote its copy of the log first"} {
		// Child k forked after phases 0..k.
		var before, after int
		for p := range all {
			if !oracle.TestBit(views[k], o.log.Layout, o.log.BitOf(p)) {
				continue
			}
			if pages[0][p] > 0 || k == 1 && pages[1][p] > 0 {
				before++
			} else {
				after++
			}
		}
		o.notes = append(o.notes, fmt.Sprintf("fork %d (the child %s): its view holds %d bits written before it forked, %d written after",
			k+1, how, before, after))
		if after > 0 {
			// Not a stray bit of the VMM's bitmap: the host's re-check
			// of that bitmap cannot see it (found by the mutant
			// log-gup-readonly, which made the run undecided).
			o.findings = append(o.findings, oracle.Finding{Kind: oracle.ChildCopy, Detail: fmt.Sprintf(
				"child-copy: %d bits logged after fork %d landed in the child's copy of the log: the kernel wrote into a page the VMM no longer maps", after, k+1)})
		}
	}
	last := views[1]
	o.control = control{
		what: "reading the last child's copy of the log instead of the parent's",
		mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
			l.After = append([]byte(nil), last...)
		},
		want: []oracle.Kind{oracle.Missing},
	}
	return o
}

// logLazy writes pages whose bits sit on three untouched log pages.
func logLazy(m machine.Machine, name string) outcome {
	regions, bufs := onThreeLogPages(m)
	cfg := Config{Name: name, Regions: regions, LazyLog: true}
	return rx(m, traffic{cfg: cfg, bufs: bufs, frames: frames(len(bufs), frameLen)},
		func(r *Rig, _ []virtq.Used, o *outcome) {
			o.notes = append(o.notes, fmt.Sprintf("log of %d KiB mapped without MAP_POPULATE; bits on log pages %#x, %#x, %#x",
				r.pages/8/1024, r.LogPageOf(regions[0]>>pageShift), r.LogPageOf(regions[1]>>pageShift), r.LogPageOf(regions[2]>>pageShift)))
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
	var regions []uint64
	var bufs [][]Seg
	for k := 1; k <= 3; k++ {
		regions = append(regions, uint64(k)*8*ps<<pageShift)
		bufs = append(bufs,
			[]Seg{{Off: 0, Len: 2048, Region: k}},
			[]Seg{{Off: regionSize - written, Len: written, Region: k}})
	}
	return regions, bufs
}
