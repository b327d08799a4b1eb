package scenario

// The VMM forking while vhost logs: copy-on-write must not take the log away.

import (
	"fmt"
	"slices"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/virtq"
)

// forkCOW forks the agent twice while vhost logs: 8 frames before any
// fork, 8 while a child that left its copies alone waits, 8 while a child
// that first wrote its copy of every log page waits. Every bit must be in
// the parent's log; a child's view holds what the log was at its fork.
func forkCOW(m machine.Machine, name string) outcome {
	return withRig(m, Config{Name: name}, func(r *Rig, o *outcome) error {
		var bufs [][]Seg
		for i := 0; i < 24; i++ {
			bufs = append(bufs, one(pageOff(firstBufPage+uint64(2*i), 64*i), 2048))
		}
		heads, err := r.Post(bufs...)
		if err != nil {
			return err
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
			return err
		}
		var pages [3]map[uint64]int
		written := map[uint64]int{}
		for k, u := range phases {
			if pages[k], err = r.Written(u); err != nil {
				return err
			}
			for p, c := range pages[k] {
				written[p] += c
			}
		}
		o.packets = 24
		o.findings = append(o.findings, usedLengths(slices.Concat(phases[:]...), frames(24, frameLen))...)
		o.expect = oracle.Expect{Written: written, Allowed: r.UsedPages(), Required: map[uint64]bool{}}
		o.logEvents = r.LogEvents()
		childViews(o, views, pages, written)
		last := views[1]
		o.control = control{
			what: "reading the last child's copy of the log instead of the parent's",
			mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
				l.After = append([]byte(nil), last...)
			},
			want: []oracle.Kind{oracle.Missing},
		}
		return nil
	})
}

// childViews says, for each child, how many bits its view of the log
// holds from before and after its fork; one logged after it is a
// child-copy finding. Child k forked after phases 0..k.
func childViews(o *outcome, views [2][]byte, pages [3]map[uint64]int, written map[uint64]int) {
	for k, how := range []string{"left its copies alone", "wrote its copy of the log first"} {
		var before, after int
		for p := range written {
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
}
