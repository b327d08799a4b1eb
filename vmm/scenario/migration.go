package scenario

// Scenarios of a migration in progress: logging switched on live, the VMM harvesting
// while vhost logs, several vhost workers on one log (fork.go: the VMM forking).

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/virtq"
)

// liveEnable writes 8 frames with logging off, 8 after switching it on
// with VHOST_SET_FEATURES on the running device, and 8 after switching it
// off again, each phase into its own pages.
func liveEnable(m machine.Machine, name string) outcome {
	return withRig(m, Config{Name: name, LogOff: true}, func(r *Rig, o *outcome) error {
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
			return err
		}
		w, err := r.Written(during)
		if err != nil {
			return err
		}
		allowed := r.UsedPages() // logged while logging was on
		for _, u := range [][]virtq.Used{before, after} {
			a, err := r.Written(u)
			if err != nil {
				return err
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
		return nil
	})
}

// harvestLoop runs the migration sync loop against live traffic.
func harvestLoop(m machine.Machine, name string) outcome {
	return withRig(m, Config{Name: name}, func(r *Rig, o *outcome) error {
		const nbuf = 128
		var bufs [][]Seg
		for i := 0; i < nbuf; i++ {
			bufs = append(bufs, one(pageOff(firstBufPage+uint64(i), 512), 1024))
		}
		heads, err := r.Post(bufs...)
		if err != nil {
			return err
		}
		h := newHarvester(m, r)
		fr := frames(nbuf, frameLen)
		k, used, err := h.windowed(heads, fr)
		if err == nil {
			var rest []virtq.Used
			rest, err = h.race(heads[k:], fr[k:])
			used = append(used, rest...)
		}
		if err == nil {
			err = h.final()
		}
		if err != nil {
			return err
		}
		if h.midTraffic.Load() == 0 {
			// The scenario exists to race harvests against vhost's logging:
			// without a harvest mid-traffic it decides nothing, unless the
			// final log fails anyway (a kernel that logs elsewhere, or not
			// at all, leaves the harvests nothing to catch).
			o.vacuous = fmt.Sprintf("no harvest caught bits while frames were arriving (%d passes): the sync loop never overlapped vhost's logging, so nothing was decided about the race", h.passes)
		}
		h.judgeWindow(o)
		return h.judge(o, used, nbuf)
	})
}

// harvester is the VMM's migration sync loop: it swaps the log's words
// covering the buffer pages out (harvests them) pass after pass while
// vhost logs, and between passes sets bits of pages it dirties itself
// with atomic ORs.
type harvester struct {
	m     machine.Machine
	r     *Rig
	l     oracle.Layout
	mine  []uint64 // pages the VMM dirties itself
	w, lo uint64   // bits per word; the first word harvested
	base  uint64   // its address
	n     int      // words harvested

	seen      map[uint64]int // page -> harvests it appeared in
	harvested int            // bits of pages vhost writes (not the VMM's own)
	// duringTraffic is harvested before the final sync's harvest.
	duringTraffic int
	// passes, busy (passes that caught bits) and set (the VMM's own bits)
	// belong to the loop's goroutine until it is waited for.
	passes, busy, set int
	noOr              bool // no atomic OR for user space here
	midTraffic        atomic.Int64
	trafficDone       atomic.Bool
	err               error
	win               *windowStats // the log-write window's counts, when the kernel has it
}

func newHarvester(m machine.Machine, r *Rig) *harvester {
	h := &harvester{m: m, r: r, l: r.Layout, seen: map[uint64]int{}}
	for p := uint64(1100); p < 1164; p++ {
		h.mine = append(h.mine, p)
	}
	h.w = uint64(h.l.WordBits)
	h.lo = (r.firstBit + firstBufPage) / h.w
	hi := (r.firstBit + h.mine[len(h.mine)-1]) / h.w
	h.base = r.rngAddr + h.lo*h.w/8
	h.n = int(hi - h.lo + 1)
	return h
}

// collect counts the bits of one harvest of the words from word lo.
func (h *harvester) collect(old []byte, lo uint64) {
	for b := uint64(0); b < uint64(len(old))*8; b++ {
		if lo*h.w+b >= h.r.firstBit && oracle.TestBit(old, h.l, b) {
			p := lo*h.w + b - h.r.firstBit
			h.seen[p]++
			if p < h.mine[0] {
				h.harvested++
			}
		}
	}
}

// orPage sets page p's bit as the VMM does, with an atomic OR.
func (h *harvester) orPage(p uint64) error {
	bit := h.r.firstBit + p
	mask := make([]byte, h.w/8)
	oracle.PutBit(mask, h.l, bit%h.w)
	return h.m.OrWord(h.r.rngAddr+(bit/h.w)*h.w/8, mask)
}

// loop harvests until stop is closed and the VMM's own bits are all set.
func (h *harvester) loop(stop <-chan struct{}) {
	for {
		if h.set < len(h.mine) && !h.noOr {
			if err := h.orPage(h.mine[h.set]); errors.Is(err, machine.ErrNoAtomicOr) {
				h.noOr = true
			} else if err != nil {
				h.err = err
				return
			} else {
				h.set++
			}
		}
		old, err := h.m.SwapWords(h.base, h.n)
		if err != nil {
			h.err = err
			return
		}
		h.passes++
		before := h.harvested
		during := !h.trafficDone.Load() // after the swap: still false means the swap ran while frames arrived
		h.collect(old, h.lo)
		if h.harvested > before {
			h.busy++
			if during {
				h.midTraffic.Add(1)
			}
		}
		select {
		case <-stop:
			if h.set == len(h.mine) || h.noOr {
				return
			}
		default:
		}
	}
}

// race sends the frames while the loop runs, then stops the device (the
// final sync) and harvests once more; it returns every used buffer.
// Half the frames, then (for at most a few seconds) until a harvest
// has caught bits vhost logged, then the rest: the sync loop then runs
// while the traffic is not over, however the scheduler treats it.
func (h *harvester) race(heads []uint16, fr [][]byte) ([]virtq.Used, error) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.loop(stop)
	}()
	half := len(fr) / 2
	used, err := deliver(h.r, heads[:half], fr[:half], false)
	for t0 := time.Now(); err == nil && h.midTraffic.Load() == 0 && time.Since(t0) < 5*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		var rest []virtq.Used
		rest, err = deliver(h.r, heads[half:], fr[half:], false)
		used = append(used, rest...)
	}
	h.trafficDone.Store(true)
	close(stop)
	wg.Wait()
	if err == nil {
		err = h.err
	}
	if err == nil {
		err = h.r.Stop() // flushes the worker: the final sync
	}
	return used, err
}

// final harvests what the final sync left.
func (h *harvester) final() error {
	h.duringTraffic = h.harvested
	old, err := h.m.SwapWords(h.base, h.n)
	if err == nil {
		h.collect(old, h.lo)
	}
	return err
}

// judge puts what the oracle judges in o: the union of every harvest, put
// back in the log, and the pages that came back after a harvest cleared
// them.
func (h *harvester) judge(o *outcome, used []virtq.Used, nbuf int) error {
	r := h.r
	duringTraffic := h.duringTraffic
	var err error
	if o.log, err = r.Log(); err != nil {
		return err
	}
	for p := range h.seen {
		oracle.PutBit(o.log.After, h.l, r.firstBit+p)
	}
	w, err := r.Written(used)
	if err != nil {
		return err
	}
	o.expect = oracle.Expect{Written: w, Allowed: r.UsedPages(), Required: map[uint64]bool{}}
	if !h.noOr {
		for _, p := range h.mine {
			o.expect.Allowed[p] = 0
			o.expect.Required[p] = true
		}
	}
	var back []uint64
	for p, k := range h.seen {
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
	o.count("harvest_passes", int64(h.passes))
	o.count("harvests_mid_traffic", h.midTraffic.Load())
	o.notes = append(o.notes, fmt.Sprintf("%d harvest passes of %d words while %d frames arrived, %d of them caught bits (%d while frames were still arriving; %d bits before the final sync, %d at it); the VMM set %d bits of its own",
		h.passes, h.n, len(used), h.busy, h.midTraffic.Load(), duringTraffic, h.harvested-duringTraffic, h.set))
	if h.noOr {
		o.notes = append(o.notes, "no atomic OR for user space here (SPARC v8): the VMM set no bits of its own")
		o.control = clearBit(sortedPages(w)[9])
	} else {
		mine := h.mine
		o.control = control{
			what: fmt.Sprintf("dropping the VMM's own bit of page %d from the harvests", mine[5]),
			mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
				oracle.ClearBit(l.After, l.Layout, l.BitOf(mine[5]))
			},
			want: []oracle.Kind{oracle.Missing},
		}
	}
	return nil
}

func firstFew(p []uint64) []uint64 {
	if len(p) > 8 {
		return p[:8]
	}
	return p
}

func sumCounts(w map[uint64]int) int {
	n := 0
	for _, c := range w {
		n += c
	}
	return n
}
