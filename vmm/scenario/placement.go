package scenario

// Scenarios of where bits land: data pages spread, crossing pages, on a page's last
// byte, jumbo and merged frames, bit positions within words, misaligned log bases.

import (
	"errors"
	"fmt"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/virtq"
)

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
// buffers on 3 pages. Each buffer starts 3100 bytes into an even page and
// ends 28 bytes into the odd page after it, which nothing else touches: a
// full buffer writes (and logs) both, a frame's last buffer (964 bytes)
// only the first, so logging a merged buffer whole, not as far as vhost
// wrote it, sets the odd page's bit for nothing.
func mergeable(m machine.Machine, name string) outcome {
	var bufs [][]Seg
	for i := 0; i < 24; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+2*uint64(i), 3100), 1024))
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
