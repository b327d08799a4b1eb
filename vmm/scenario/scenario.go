// Package scenario holds the scenarios the agent runs inside the guest. Each
// one builds a vhost-net rig, makes vhost write guest memory, computes what
// must be logged from the used ring and the descriptor chains, checks the
// log with the oracle, and then runs a negative control: the same oracle on
// a copy of the real bitmap mutated the way the bug class it targets would
// mutate it. A control that does not fail makes the scenario an error: a
// scenario that cannot fail proves nothing.
//
// Runs on both sides: in the guest in the Go agent, on the host when it drives the executor.
package scenario

import (
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"sort"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
	"dirtygate/vmm/tap"
	"dirtygate/vmm/virtq"
)

// Scenario is one named check.
type Scenario struct {
	Name string
	Doc  string // what it does, what a pass proves, and its negative control: the README's list
	run  func(m machine.Machine, name string) outcome
	// prepare, if set, runs when a session that will run the scenario
	// starts, before any scenario (compat prestarts its 32-bit agent).
	prepare func(m machine.Machine)
}

// outcome is what a scenario body hands back for judging.
type outcome struct {
	log       oracle.Log
	expect    oracle.Expect
	findings  []oracle.Finding // decided outside the bitmap (ABI, eventfd)
	control   control
	notes     []string
	packets   int
	logEvents uint64 // the log eventfd's counter after the traffic
	err       error  // could not decide
	skip      string // why the scenario does not apply to this kernel
	class     string // record.Class*, for classified scenarios
	// vacuous says the scenario's reason to exist did not happen (no
	// race was run): a log that passes is then an error, never a pass;
	// a log that fails anyway is a fail, the note saying what was missed.
	vacuous string
	// exercised counts what the scenario made happen, for the report.
	exercised map[string]int64
}

// count adds n to one of the outcome's exercised counters.
func (o *outcome) count(what string, n int64) {
	if o.exercised == nil {
		o.exercised = map[string]int64{}
	}
	o.exercised[what] += n
}

// control mutates a copy of the real log (and what was expected of it) the
// way a broken kernel would, and names the finding kinds that must follow.
// A control with no mutate says in what why none could be built: a
// scenario whose log passes is then an error, one whose log fails a fail.
type control struct {
	what   string
	mutate func(l *oracle.Log, e *oracle.Expect, extra *[]oracle.Finding)
	want   []oracle.Kind
	// moot, when set, says why no control is needed: the scenario failed
	// on something outside the bitmap, so it has shown it can fail.
	moot string
}

// All is every scenario, in run order.
func All() []Scenario { return all }

// noisy are the scenarios whose findings name different pages from one
// run of the same kernel to the next (races with the VMM or between
// vhost workers, random fault injection, and compat, which runs the
// racy ones): comparing them by page would see noise as change.
var noisy = map[string]bool{"harvest": true, "concurrent": true, "inject-enosys-half": true,
	"inject-efault-half": true, "compat": true}

// Noisy reports whether a scenario's findings are compared by kind only.
func Noisy(name string) bool { return noisy[name] }

// Run executes one scenario on m and judges it; it never panics.
func Run(m machine.Machine, s Scenario) (res record.Scenario) {
	start := time.Now()
	res.Name = s.Name
	defer func() {
		if p := recover(); p != nil {
			res.Status = record.Error
			res.Error = fmt.Sprintf("agent panic: %v\n%s", p, debug.Stack())
		}
		res.Millis = time.Since(start).Milliseconds()
	}()
	o := s.run(m, s.Name)
	if f, ok := m.(machine.Flusher); ok {
		if err := f.Flush(); err != nil && o.err == nil {
			o.err = err // a call of this scenario failed after it returned
		}
	}
	if errors.Is(o.err, ErrLogAllRefused) {
		logAllRefused(&o)
	}
	describe(&res, o)
	if o.err != nil {
		res.Status = record.Error
		res.Error = o.err.Error()
		return res
	}
	if o.skip != "" {
		res.Status = record.Skip
		res.Notes = append(res.Notes, o.skip)
		return res
	}
	decide(&res, o)
	if res.Status != record.Error {
		checkControl(&res, o)
	}
	return res
}

// logAllRefused turns a kernel's refusal of LOG_ALL into a finding:
// decided, not undecided, since this kernel cannot log, so a VMM cannot
// migrate with it. The injection scenarios, where the helper is made to
// look missing, accept it themselves.
func logAllRefused(o *outcome) {
	o.findings = append(o.findings, oracle.Finding{Kind: oracle.ABI,
		Detail: "abi: " + o.err.Error() + ": a VMM cannot migrate with this device"})
	o.control = control{moot: "the kernel refused LOG_ALL: the scenario failed outside the bitmap"}
	o.err = nil
}

// describe copies what the scenario did (not what it found) to its record.
func describe(res *record.Scenario, o outcome) {
	res.Notes = o.notes
	res.Packets = o.packets
	res.Pages = len(o.expect.Written)
	res.Class = o.class
	res.Exercised = o.exercised
	if o.packets > 0 {
		res.Exercised = maps.Clone(o.exercised)
		if res.Exercised == nil {
			res.Exercised = map[string]int64{}
		}
		res.Exercised["frames"] = int64(o.packets)
		if _, ok := res.Exercised["pages_written"]; !ok {
			res.Exercised["pages_written"] = int64(len(o.expect.Written))
		}
	}
}

// decide runs the oracle on the log the scenario read and sets the status;
// a scenario that read no log and found nothing, or whose reason to exist
// did not happen (vacuous) yet passed, is an error.
func decide(res *record.Scenario, o outcome) {
	res.Findings = append([]oracle.Finding(nil), o.findings...)
	if len(o.log.After) > 0 {
		res.Findings = append(res.Findings, oracle.Check(o.log, o.expect)...)
	} else if len(res.Findings) == 0 && o.control.moot == "" {
		res.Status = record.Error
		res.Error = "the scenario read no log and found nothing: it decided nothing"
		return
	}
	if len(o.log.After) > 0 {
		res.Evidence = record.NewEvidence(o.log, o.expect)
	}
	res.Status = record.Pass
	if len(res.Findings) > 0 {
		res.Status = record.Fail
	}
	if o.vacuous != "" {
		if res.Status == record.Pass {
			res.Status = record.Error
			res.Error = o.vacuous
			return
		}
		res.Notes = append(res.Notes, "the log failed although "+o.vacuous)
	}
}

// checkControl runs the scenario's negative control: a passing scenario
// whose control does not fail could not have failed, so it is an error.
func checkControl(res *record.Scenario, o outcome) {
	ctl, failed := runControl(o)
	res.Control = ctl
	switch {
	case failed:
	case res.Status == record.Fail:
		// The real log already failed: the scenario has shown it can
		// fail, and a mutation of an already wrong log may be explained
		// by the findings it has (a bit set where pages are misplaced
		// reads as misplaced, not stray).
		res.Control = "not conclusive on a log that already failed: " + ctl
	default:
		res.Status = record.Error
		res.Error = "negative control did not fail: " + ctl
		res.Findings = append(res.Findings, oracle.Finding{Kind: oracle.Control, Detail: ctl})
	}
}

// runControl applies the control to copies and reports what the oracle
// said, and whether the control failed as it must (or was moot).
func runControl(o outcome) (string, bool) {
	c := o.control
	if c.moot != "" {
		return c.moot, true
	}
	if c.mutate == nil {
		if c.what != "" {
			return "no negative control: " + c.what, false
		}
		return "no negative control defined", false
	}
	l := o.log
	l.After = append([]byte(nil), o.log.After...)
	l.Before = append([]byte(nil), o.log.Before...)
	e := oracle.Expect{Written: maps.Clone(o.expect.Written), Allowed: maps.Clone(o.expect.Allowed), Required: maps.Clone(o.expect.Required)}
	var extra []oracle.Finding
	c.mutate(&l, &e, &extra)
	got := append(extra, oracle.Check(l, e)...)
	for _, f := range got {
		for _, k := range c.want {
			if f.Kind == k {
				return fmt.Sprintf("%s -> %s", c.what, f.Detail), true
			}
		}
	}
	var kinds []string
	for _, f := range got {
		kinds = append(kinds, string(f.Kind))
	}
	return fmt.Sprintf("%s gave %v, want one of %v", c.what, kinds, c.want), false
}

// sortedPages lists the keys of m in order.
func sortedPages(m map[uint64]int) []uint64 {
	var p []uint64
	for k := range m {
		p = append(p, k)
	}
	sort.Slice(p, func(i, j int) bool { return p[i] < p[j] })
	return p
}

// Controls shared by several scenarios.

// clearBit drops the log bit of page p: a lost write.
func clearBit(p uint64) control {
	return control{
		what: fmt.Sprintf("clearing the bit of written page %d", p),
		mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
			oracle.ClearBit(l.After, l.Layout, l.BitOf(p))
		},
		// On a kernel that already lost the bit another way, the
		// oracle names that way: any lost-bit kind shows it can fail.
		want: []oracle.Kind{oracle.Missing, oracle.Carry, oracle.Misplaced},
	}
}

// setBit adds a bit for page p that nobody wrote.
func setBit(p uint64) control {
	return control{
		what: fmt.Sprintf("setting the bit of unwritten page %d", p),
		mutate: func(l *oracle.Log, _ *oracle.Expect, _ *[]oracle.Finding) {
			oracle.PutBit(l.After, l.Layout, l.BitOf(p))
		},
		want: []oracle.Kind{oracle.Stray},
	}
}

// addInsteadOfOr replays the scenario's log calls as FUTEX_OP_ADD on u32
// words, as the seed patch does.
func addInsteadOfOr() control {
	return control{
		what: "replaying the log calls as adds on u32 words",
		mutate: func(l *oracle.Log, e *oracle.Expect, _ *[]oracle.Finding) {
			l.After = oracle.SimulateAdd(l.Before, l.Layout, l.FirstBit, e.Written)
		},
		want: []oracle.Kind{oracle.Carry},
	}
}

// --- the traffic driver ---

// traffic is what a scenario makes vhost do.
type traffic struct {
	cfg    Config
	bufs   [][]Seg  // posted (offered) once, in order
	frames [][]byte // sent in order
	// rounds, when set, splits the frames: round 0 uses the posted
	// buffers, each later round re-offers the listed buffers (indexes
	// into bufs) first; a round sends one frame per listed buffer.
	rounds [][]int
	// perFrame is how many buffers each frame takes (mergeable); 0 = 1.
	perFrame int
	// ready, when set, runs once the device is set up, before traffic.
	ready func() error
}

// rx drives traffic through a fresh rig, stops the device, computes E from
// the used ring, and lets inspect add checks and the control before the
// rig is closed.
func rx(m machine.Machine, t traffic, inspect func(r *Rig, used []virtq.Used, o *outcome)) outcome {
	return withRig(m, t.cfg, func(r *Rig, o *outcome) error {
		if t.ready != nil {
			if err := t.ready(); err != nil {
				return err
			}
		}
		heads, err := r.Post(t.bufs...)
		if err != nil {
			return err
		}
		used, err := t.send(r, heads)
		if err == nil {
			err = r.Stop()
		}
		if err != nil {
			return err
		}
		o.packets = len(t.frames)
		o.findings = append(o.findings, usedLengths(used, t.frames)...)
		if o.log, err = r.Log(); err != nil {
			return err
		}
		w, err := r.Written(used)
		if err != nil {
			return err
		}
		// The used ring is logged whenever the device logs (VHOST_VRING_F_LOG,
		// as QEMU sets it): its pages may be set, where the log is read.
		o.expect = oracle.Expect{Written: w, Allowed: map[uint64]int{}, Required: map[uint64]bool{}}
		for p := range r.UsedPages() {
			if p >= r.pageBase {
				o.expect.Allowed[p] = 0
			}
		}
		o.logEvents = r.LogEvents()
		note := fmt.Sprintf("%d frames, %d used buffers, %d pages written", len(t.frames), len(used), len(w))
		if t.cfg.LogFD {
			note += fmt.Sprintf(", log eventfd count %d", o.logEvents)
		}
		o.notes = append(o.notes, note)
		if inspect != nil {
			inspect(r, used, o)
		}
		return nil
	})
}

// send delivers the frames and returns every used buffer.
func (t traffic) send(r *Rig, heads []uint16) ([]virtq.Used, error) {
	switch {
	case t.perFrame > 1:
		if err := r.Send(t.frames...); err != nil {
			return nil, err
		}
		return r.WaitUsed(len(t.frames) * t.perFrame)
	case t.rounds != nil:
		var used []virtq.Used
		fr := t.frames
		for i, round := range t.rounds {
			if i > 0 {
				var hs []uint16
				for _, b := range round {
					hs = append(hs, heads[b])
				}
				if err := r.Offer(hs...); err != nil {
					return used, err
				}
			}
			if len(fr) < len(round) {
				return used, fmt.Errorf("round %d needs %d frames, %d left", i, len(round), len(fr))
			}
			if err := r.Send(fr[:len(round)]...); err != nil {
				return used, err
			}
			u, err := r.WaitUsed(len(round))
			used = append(used, u...)
			if err != nil {
				return used, err
			}
			fr = fr[len(round):]
		}
		return used, nil
	}
	return deliver(r, heads, t.frames, len(t.frames) > len(heads))
}

// deliver sends frames through the rig, refilling the given buffers in
// rounds when recycle is set, and returns every used buffer.
func deliver(r *Rig, heads []uint16, frs [][]byte, recycle bool) ([]virtq.Used, error) {
	var used []virtq.Used
	for len(frs) > 0 {
		n := min(len(frs), len(heads))
		if !recycle && len(used)+n > len(heads) {
			return used, fmt.Errorf("more frames than buffers")
		}
		if err := r.Send(frs[:n]...); err != nil {
			return used, err
		}
		u, err := r.WaitUsed(n)
		used = append(used, u...)
		if err != nil {
			return used, err
		}
		frs = frs[n:]
		if recycle && len(frs) > 0 {
			var again []uint16
			for _, x := range u {
				again = append(again, uint16(x.ID))
			}
			if err := r.Offer(again...); err != nil {
				return used, err
			}
		}
	}
	return used, nil
}

// usedLengths checks the bytes the used ring says vhost wrote against the
// frames sent (each with its vnet header): the expected log is computed
// from those lengths, so a kernel that under-reports them would shrink
// what must be logged and hide missing bits.
func usedLengths(used []virtq.Used, frs [][]byte) []oracle.Finding {
	var got, want uint64
	for _, u := range used {
		got += uint64(u.Len)
	}
	for _, f := range frs {
		want += uint64(headerSize + len(f))
	}
	if got == want {
		return nil
	}
	return []oracle.Finding{{Kind: oracle.ABI, Detail: fmt.Sprintf(
		"abi: the used ring reports %d bytes written for %d frames that hold %d bytes with their vnet headers: the pages that must be logged cannot be trusted from it",
		got, len(frs), want)}}
}

// frames makes n frames of size bytes.
func frames(n, size int) [][]byte {
	f := make([][]byte, n)
	for i := range f {
		f[i] = tap.Frame(size, uint32(i))
	}
	return f
}

// one returns a buffer of a single descriptor.
func one(off, n int) []Seg { return []Seg{{Off: off, Len: n}} }

// pageOff is the guest memory offset of byte b of page p.
func pageOff(p uint64, b int) int { return OffOfPage(p) + b }

// withRig is the prologue of a hand-driven scenario: it builds a rig with
// cfg, runs body with it and closes it. A rig that cannot be built, or an
// error body returns, makes the scenario undecided (outcome.err); what
// body put in the outcome before is kept.
func withRig(m machine.Machine, cfg Config, body func(r *Rig, o *outcome) error) outcome {
	var o outcome
	r, err := NewRig(m, cfg)
	if err != nil {
		o.err = err
		return o
	}
	defer r.Close()
	if err := body(r, &o); err != nil {
		o.err = err
	}
	return o
}
