package scenario

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/virtq"
)

// rounds is migration's iterative phase made deterministic: each round
// makes vhost write, puts a barrier (the worker flushed), and harvests the
// log as QEMU's sync does (hw/virtio/vhost.c: vhost_dev_sync_region, each
// word exchanged with 0). Each harvest must hold exactly what vhost wrote
// in its round: a bit that a kernel sets only once per logging session
// (or into an earlier round) is in the union of the harvests and still
// lost, because migration's last pass sends what the last harvest names.
//
// The used ring sits at the last 4 bytes of page 258 (used->flags and
// used->idx) and on page 259 (the 256 entries, then avail_event), so a
// round that writes idx but not flags logs page 258 only through idx, and
// a round that only finds the ring empty logs page 259 only through
// avail_event. VIRTIO_RING_F_EVENT_IDX is acked, as a Linux guest acks it
// through QEMU: then 6.1 writes used->flags only when a backend is
// attached (vhost_vq_init_access) and avail_event only when it finds the
// ring empty with a frame waiting (vhost_enable_notify).

// roundsUsedOff puts used->flags and used->idx on the last 4 bytes of a page.
const roundsUsedOff = 3*4096 - 4

// roundPlan is one round: buffers to offer (indexes into the posted ones),
// frames to send, and how the round ends.
type roundPlan struct {
	what    string
	offer   []int
	send    int
	used    int  // buffers vhost must use in the round
	restart bool // SET_BACKEND -1, then the tap again (QEMU's stop and start)
	final   bool // end with SET_BACKEND -1 (the final sync), not a flush
}

var roundPlans = []roundPlan{
	{what: "8 frames into 8 buffers", offer: []int{0, 1, 2, 3, 4, 5, 6, 7}, send: 8, used: 8},
	{what: "4 frames into buffers 0-3 again", offer: []int{0, 1, 2, 3}, send: 4, used: 4},
	{what: "a frame with the ring empty (vhost publishes avail_event and waits)", send: 1},
	{what: "buffers 4-7 again: the waiting frame and 3 more", offer: []int{4, 5, 6, 7}, send: 3, used: 4},
	{what: "stop and start: VHOST_NET_SET_BACKEND -1, then the tap (vhost writes used->flags)", restart: true},
	{what: "8 frames into all 8 buffers again, then the final stop", offer: []int{0, 1, 2, 3, 4, 5, 6, 7}, send: 8, used: 8, final: true},
}

// roundResult is one round's harvest and what it had to hold.
type roundResult struct {
	log      oracle.Log
	expect   oracle.Expect
	findings []oracle.Finding
	parts    []string // used-ring parts vhost wrote
	used     []virtq.Used
	idxOnly  bool // idx written, flags not: page 258 only through idx
}

func roundsScenario(m machine.Machine, name string) outcome {
	return withRig(m, Config{Name: name, UsedOff: roundsUsedOff, EventIdx: true}, func(r *Rig, o *outcome) error {
		var bufs [][]Seg
		for i := 0; i < 8; i++ {
			bufs = append(bufs, one(pageOff(firstBufPage+uint64(3*i), 256*i), 2048))
		}
		var heads []uint16
		var res []roundResult
		whole := frames(32, frameLen)
		fr := whole
		var used []virtq.Used
		for k, p := range roundPlans {
			rr, err := r.round(k, p, bufs, &heads, fr[:p.send])
			if err != nil {
				return fmt.Errorf("round %d (%s): %w", k+1, p.what, err)
			}
			fr = fr[p.send:]
			o.packets += p.send
			used = append(used, rr.used...)
			res = append(res, rr)
			o.notes = append(o.notes, fmt.Sprintf("round %d, %s: %d pages written, used ring: %v; harvest: %s",
				k+1, p.what, len(rr.expect.Written), rr.parts, verdict(rr.findings)))
		}
		// Every frame was received by the end (round 3's in round 4).
		o.findings = append(o.findings, usedLengths(used, whole[:o.packets])...)
		o.count("rounds", int64(len(res)))
		*o = judgeRounds(r, res, *o)
		return nil
	})
}

// round runs one round and harvests it.
func (r *Rig) round(k int, p roundPlan, bufs [][]Seg, heads *[]uint16, fr [][]byte) (roundResult, error) {
	var rr roundResult
	flagsMark, eventMark, err := r.markUsed()
	if err != nil {
		return rr, err
	}
	start, err := r.RX.UsedIdx()
	if err != nil {
		return rr, err
	}
	switch {
	case k == 0:
		var bs [][]Seg
		for _, i := range p.offer {
			bs = append(bs, bufs[i])
		}
		*heads, err = r.Post(bs...)
	case len(p.offer) > 0:
		var hs []uint16
		for _, i := range p.offer {
			hs = append(hs, (*heads)[i])
		}
		err = r.Offer(hs...)
	}
	if err == nil {
		err = r.Send(fr...)
	}
	var used []virtq.Used
	if err == nil && p.used > 0 {
		used, err = r.WaitUsed(p.used)
	}
	if err == nil && p.used == 0 && p.send > 0 {
		err = r.waitAvailEvent(eventMark)
	}
	if err == nil {
		err = r.barrier(p)
	}
	if err != nil {
		return rr, err
	}
	if len(used) != p.used {
		return rr, fmt.Errorf("vhost used %d buffers, the round expects %d", len(used), p.used)
	}
	written, err := r.Written(used)
	if err != nil {
		return rr, err
	}
	flagsNow, eventNow, err := r.usedMarks()
	if err != nil {
		return rr, err
	}
	rr.used = used
	rr.expect = oracle.Expect{Written: written, Allowed: map[uint64]int{}, Required: map[uint64]bool{}}
	ring := func(part string, off int) {
		rr.parts = append(rr.parts, part)
		pg := r.Page(r.RX.UsedOff + off)
		rr.expect.Allowed[pg] = 0
		rr.expect.Required[pg] = true
	}
	if flagsNow != flagsMark {
		ring("flags", 0)
	}
	if len(used) > 0 {
		for i := 0; i < len(used); i++ {
			ring(fmt.Sprintf("entry %d", (int(start)+i)%ringNum), 4+8*((int(start)+i)%ringNum))
		}
		ring("idx", 2)
		// Round 1's harvest also holds the set-up's attach, which wrote flags.
		rr.idxOnly = flagsNow == flagsMark && k > 0
	}
	if eventNow != eventMark {
		ring("avail_event", 4+8*ringNum)
	}
	rr.parts = compactEntries(rr.parts)
	if rr.log, err = r.harvest(); err != nil {
		return rr, err
	}
	rr.findings = oracle.Check(rr.log, rr.expect)
	return rr, nil
}

// barrier makes every log write of the round done before the harvest.
// QEMU takes none mid-migration (a late bit goes to the next round); its
// final sync follows VHOST_NET_SET_BACKEND -1 (hw/net/vhost_net.c:
// vhost_net_stop_one), and so does the last round here.
func (r *Rig) barrier(p roundPlan) error {
	switch {
	case p.final:
		return r.Stop()
	case p.restart:
		if err := r.Net.SetBackend(rxQueue, -1); err != nil {
			return err
		}
		if err := r.Net.SetBackend(rxQueue, r.Tap.Fd()); err != nil {
			return err
		}
	}
	return r.Flush()
}

// Flush waits until the vhost worker has done all queued work: 6.1's
// vhost_net_set_backend (drivers/vhost/net.c) flushes whenever a backend
// was attached, and with the same tap it changes nothing else (no
// vhost_vq_init_access, so used->flags is not written).
func (r *Rig) Flush() error { return r.Net.SetBackend(rxQueue, r.Tap.Fd()) }

// markUsed writes values vhost never writes into used->flags (0x8000)
// and avail_event (the avail index with its top bit flipped), so the
// round can see which of them vhost wrote. vhost never reads either.
func (r *Rig) markUsed() (flags, event uint16, err error) {
	a, err := r.Mem.Read(r.RX.AvailOff+2, 2)
	if err != nil {
		return 0, 0, err
	}
	flags, event = 0x8000, binary.LittleEndian.Uint16(a)^0x8000
	b := make([]byte, 2)
	binary.LittleEndian.PutUint16(b, flags)
	if err := r.Mem.Write(r.RX.UsedOff, b); err != nil {
		return 0, 0, err
	}
	binary.LittleEndian.PutUint16(b, event)
	return flags, event, r.Mem.Write(r.RX.UsedOff+4+8*ringNum, b)
}

// usedMarks reads used->flags and avail_event.
func (r *Rig) usedMarks() (flags, event uint16, err error) {
	f, err := r.Mem.Read(r.RX.UsedOff, 2)
	if err != nil {
		return 0, 0, err
	}
	e, err := r.Mem.Read(r.RX.UsedOff+4+8*ringNum, 2)
	if err != nil {
		return 0, 0, err
	}
	return binary.LittleEndian.Uint16(f), binary.LittleEndian.Uint16(e), nil
}

// waitAvailEvent waits until vhost has overwritten the avail_event mark.
func (r *Rig) waitAvailEvent(mark uint16) error {
	deadline := time.Now().Add(waitUsed)
	for nap := time.Millisecond; ; nap = min(2*nap, 20*time.Millisecond) {
		_, e, err := r.usedMarks()
		if err != nil || e != mark {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vhost did not write avail_event within %v after a frame found the ring empty", waitUsed)
		}
		time.Sleep(nap)
	}
}

// harvest reads the log as QEMU's sync does: each word of the log
// exchanged with 0 (the canaries around it are read, not cleared). The
// device is idle, so the words read and the words exchanged agree.
func (r *Rig) harvest() (oracle.Log, error) {
	l, err := r.Log()
	if err != nil {
		return l, err
	}
	w := uint64(r.Layout.WordBits)
	if r.firstBit%w != 0 || (r.firstBit+r.pages)%w != 0 || r.pageBase != 0 {
		return l, fmt.Errorf("harvest needs a log of whole words (first bit %d, %d pages)", r.firstBit, r.pages)
	}
	lo, n := r.firstBit/w, r.pages/w
	old, err := r.M.SwapWords(r.rngAddr+lo*w/8, int(n))
	if err != nil {
		return l, err
	}
	copy(l.After[lo*w/8:], old)
	return l, nil
}

// judgeRounds picks the evidence (the first failing round, else the round
// whose page 258 only idx could set) and the control.
func judgeRounds(r *Rig, res []roundResult, o outcome) outcome {
	ev := -1
	var failed []int
	for k, rr := range res {
		if len(rr.findings) > 0 {
			failed = append(failed, k+1)
			if ev < 0 {
				ev = k
			}
		}
	}
	checks := map[string]bool{}
	for k, rr := range res {
		has := map[string]bool{}
		for _, p := range rr.parts {
			has[p] = true
		}
		checks["idx alone"] = checks["idx alone"] || rr.idxOnly
		checks["avail_event alone"] = checks["avail_event alone"] || has["avail_event"] && !has["idx"]
		checks["flags alone"] = checks["flags alone"] || has["flags"] && !has["idx"]
		if ev < 0 && rr.idxOnly && k > 0 {
			ev = k
		}
	}
	for _, c := range []string{"idx alone", "avail_event alone", "flags alone"} {
		if !checks[c] {
			o.err = fmt.Errorf("no round had vhost write the used ring's %s: the scenario decided nothing about it (%v)", c, o.notes)
			return o
		}
		o.count("rounds_"+strings.ReplaceAll(c, " ", "_"), 1)
	}
	if ev < 0 {
		o.err = fmt.Errorf("no round after the first wrote used->idx without used->flags")
		return o
	}
	o.log, o.expect = res[ev].log, res[ev].expect
	o.notes = append(o.notes, fmt.Sprintf("evidence: round %d's harvest", ev+1))
	idxPage := r.Page(r.RX.UsedOff + 2)
	what := fmt.Sprintf("dropping page %d (used->idx) from round %d's harvest", idxPage, ev+1)
	if len(failed) == 0 {
		what += ", as a kernel that logs idx once per session would; the union of the harvests still holds it"
	}
	o.control = control{
		what: what,
		mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
			oracle.ClearBit(l.After, l.Layout, l.BitOf(idxPage))
		},
		want: []oracle.Kind{oracle.Missing},
	}
	if len(failed) > 0 {
		o.notes = append(o.notes, fmt.Sprintf("rounds whose harvest was wrong: %v%s", failed, unionNote(res)))
	}
	return o
}

// unionNote says whether the union of the harvests would have passed: a
// check of the union alone would not have seen a per-round loss.
func unionNote(res []roundResult) string {
	for _, rr := range res {
		for _, f := range rr.findings {
			if f.Kind != oracle.Missing {
				return ""
			}
		}
	}
	got := map[uint64]bool{}
	for _, rr := range res {
		for _, b := range oracle.Bits(rr.log.After, rr.log.Layout) {
			got[b-rr.log.FirstBit] = true
		}
	}
	for _, rr := range res {
		for p := range rr.expect.Written {
			if !got[p] {
				return ""
			}
		}
		for p := range rr.expect.Required {
			if !got[p] {
				return ""
			}
		}
	}
	return "; the union of the harvests holds every page: only the per-round check sees the loss"
}

// compactEntries folds "entry N" parts into one "entries A-B".
func compactEntries(parts []string) []string {
	var out []string
	first, last := "", ""
	for _, p := range parts {
		if len(p) > 6 && p[:6] == "entry " {
			if first == "" {
				first = p[6:]
			}
			last = p[6:]
			continue
		}
		if first != "" {
			out = append(out, "entries "+first+"-"+last)
			first = ""
		}
		out = append(out, p)
	}
	if first != "" {
		out = append(out, "entries "+first+"-"+last)
	}
	return out
}

func verdict(f []oracle.Finding) string {
	if len(f) == 0 {
		return "exactly the round's pages"
	}
	s := f[0].Detail
	if len(f) > 1 {
		s += fmt.Sprintf(" (and %d more findings)", len(f)-1)
	}
	return s
}
