package scenario

// The inject-* scenarios arm the switch of kernels/patches/inject-log-op.patch
// (applied by --inject): a debugfs directory that makes the futex-style log
// helper (arch_futex_atomic_op_inuser) fail every Nth call with -ENOSYS or
// -EFAULT, counts the calls, and traces each call's log word and result. It
// needs no fail_function, so the scenarios run on every arch, through the
// agent and through the executor (plain open, read and write).

import (
	"errors"
	"fmt"
	"strings"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
	"dirtygate/vmm/virtq"
)

const injectDir = "/sys/kernel/debug/vhost_log_inject/"

// injectCall is one call of the helper as the switch traced it.
type injectCall struct {
	seq      uint64
	uaddr    uint64 // the u32 log word
	op       int    // FUTEX_OP_*
	oparg    uint32
	ret      int // what the caller got: 0, or a negative errno
	injected bool
}

// injection is what the switch saw during one scenario.
type injection struct {
	calls, injected, dropped uint64
	armedAt                  uint64 // calls before the failures were armed
	trace                    []injectCall
}

// readFile reads a small control file on the machine.
func readFile(m machine.Machine, path string) (string, error) {
	fd, err := m.Open(path)
	if err != nil {
		return "", err
	}
	defer m.Close(fd)
	var out []byte
	for {
		b, err := m.Read(fd, 16384)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", path, err)
		}
		if len(b) == 0 {
			return strings.TrimSpace(string(out)), nil
		}
		out = append(out, b...)
	}
}

// writeFile writes a small control file on the machine.
func writeFile(m machine.Machine, path, value string) error {
	fd, err := m.Open(path)
	if err != nil {
		return err
	}
	defer m.Close(fd)
	if _, err := m.Write(fd, []byte(value)); err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return nil
}

// armInjection resets the switch and makes every Nth call fail with errno
// (0: armed later with setEvery). It returns a skip reason when the kernel
// has no switch, and a disarm function.
func armInjection(m machine.Machine, errno string, every int) (skip string, disarm func(), err error) {
	if fd, err := m.Open(injectDir + "reset"); err != nil {
		return "this kernel has no vhost_log_inject switch in debugfs: run with --inject (it applies kernels/patches/inject-log-op.patch)", nil, nil
	} else {
		m.Close(fd)
	}
	disarm = func() {
		writeFile(m, injectDir+"every", "0")
		writeFile(m, injectDir+"errno", "none")
	}
	for _, s := range [][2]string{{"every", "0"}, {"reset", "1"}, {"errno", errno}, {"every", fmt.Sprint(every)}} {
		if err := writeFile(m, injectDir+s[0], s[1]); err != nil {
			disarm()
			return "", nil, fmt.Errorf("arming the injection: %w", err)
		}
	}
	return "", disarm, nil
}

// counter reads one of a debugfs switch's counters (path: its file).
func counter(m machine.Machine, path string) (uint64, error) {
	s, err := readFile(m, path)
	if err != nil {
		return 0, err
	}
	var n uint64
	if _, err := fmt.Sscan(s, &n); err != nil {
		return 0, fmt.Errorf("%s holds %q: %w", path, s, err)
	}
	return n, nil
}

// readInjection reads the counters and the trace after the device stopped.
func readInjection(m machine.Machine, armedAt uint64) (injection, error) {
	in := injection{armedAt: armedAt}
	var err error
	for _, c := range []struct {
		name string
		v    *uint64
	}{{"calls", &in.calls}, {"injected", &in.injected}, {"dropped", &in.dropped}} {
		if *c.v, err = counter(m, injectDir+c.name); err != nil {
			return in, fmt.Errorf("reading the injection counters: %w", err)
		}
	}
	text, err := readFile(m, injectDir+"trace")
	if err != nil {
		return in, err
	}
	in.trace, err = parseTrace(text)
	return in, err
}

// parseTrace reads the switch's trace: "seq uaddr op oparg ret injected"
// per line, uaddr and oparg in hex.
func parseTrace(text string) ([]injectCall, error) {
	var out []injectCall
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var c injectCall
		var inj int
		if _, err := fmt.Sscanf(line, "%d %x %d %x %d %d", &c.seq, &c.uaddr, &c.op, &c.oparg, &c.ret, &inj); err != nil {
			return nil, fmt.Errorf("injection trace line %q: %w", line, err)
		}
		c.injected = inj != 0
		out = append(out, c)
	}
	return out, nil
}

// notExercised says why the scenario decided nothing, or "": the helper was
// never called (6.1's kmap path, or a candidate that stopped using it:
// nothing to fail, a skip) or no call was failed after arming (an error:
// the scenario could not do what it exists for).
func (in injection) notExercised() (skip string, err error) {
	switch {
	case in.calls == 0:
		return "not exercised: the kernel's log path never called arch_futex_atomic_op_inuser, so there was nothing to fail (6.1's kmap path, or a candidate that does not use the helper)", nil
	case in.calls == in.armedAt:
		return fmt.Sprintf("not exercised: the helper was called %d time(s) while the device was set up (a probe) and never by the log path once the failures were armed", in.calls), nil
	case in.injected == 0:
		return "", fmt.Errorf("the helper was called %d time(s) after arming but no call was failed: the injection was not exercised", in.calls-in.armedAt)
	}
	return "", nil
}

// futex ops whose oparg is the bits they set; any other op may touch every
// bit of its word.
const (
	futexOpSet = 0
	futexOpAdd = 1
	futexOpOr  = 2
)

// pages lists the guest pages whose log bits the call asked for: the bits
// of oparg in the u32 at uaddr (stored in the target's byte order), for the
// ops that set bits, every bit of the word for the others. base is the
// user address of the first byte of l.
func (c injectCall) pages(l oracle.Log, base uint64) []uint64 {
	mask := uint32(0xffffffff)
	if c.op == futexOpSet || c.op == futexOpAdd || c.op == futexOpOr {
		mask = c.oparg
	}
	var out []uint64
	for k := 0; k < 32; k++ {
		if mask&(1<<k) == 0 {
			continue
		}
		b := uint64(k / 8)
		if l.BigEndian {
			b = 3 - b
		}
		addr := c.uaddr + b
		if addr < base || addr >= base+uint64(len(l.After)) {
			continue
		}
		if p, ok := pageOfBit(l, addr-base, uint(k%8)); ok {
			out = append(out, p)
		}
	}
	return out
}

// pageOfBit inverts set_bit's placement: the page whose bit is bit b of
// byte off of the log range, if that bit belongs to a page.
func pageOfBit(l oracle.Log, off uint64, b uint) (uint64, bool) {
	w := uint64(l.WordBits / 8)
	inWord := off % w
	if l.BigEndian {
		inWord = w - 1 - inWord
	}
	n := off/w*w*8 + inWord*8 + uint64(b)
	if n < l.FirstBit || n-l.FirstBit >= l.Pages {
		return 0, false
	}
	return n - l.FirstBit + l.PageBase, true
}

// explained lists the pages whose bit a failed call (injected, or a real
// fault) asked for and no successful call did: the only pages a kernel
// that reports its failures may lose.
func (in injection) explained(l oracle.Log, base uint64) map[uint64]bool {
	failed, done := map[uint64]bool{}, map[uint64]bool{}
	for _, c := range in.trace {
		for _, p := range c.pages(l, base) {
			if c.ret != 0 {
				failed[p] = true
			} else {
				done[p] = true
			}
		}
	}
	for p := range done {
		delete(failed, p)
	}
	return failed
}

// unexplained returns a silent-loss finding for the written pages missing
// from l that no failed call explains.
func unexplained(l oracle.Log, written map[uint64]int, ok map[uint64]bool) []oracle.Finding {
	var lost []uint64
	for _, p := range missing(l, written) {
		if !ok[p] {
			lost = append(lost, p)
		}
	}
	if len(lost) == 0 {
		return nil
	}
	lost = sortedPages(pageSet(lost))
	return []oracle.Finding{{Kind: oracle.SilentLoss, Pages: lost, Detail: fmt.Sprintf(
		"silent-loss: %d written page(s) have no bit and no failed call of the helper asked for it (pages %v): bits dropped, cleared or set elsewhere that no injected failure explains", len(lost), firstFew(lost))}}
}

func pageSet(ps []uint64) map[uint64]int {
	m := map[uint64]int{}
	for _, p := range ps {
		m[p] = 1
	}
	return m
}

// injectBufs are the buffers of the injection scenarios: 32 pages.
func injectBufs() [][]Seg {
	var bufs [][]Seg
	for i := 0; i < 32; i++ {
		bufs = append(bufs, one(pageOff(firstBufPage+uint64(2*i), 128*(i%16)), 2048))
	}
	return bufs
}

// injectENOSYS fails every Nth call of the helper with -ENOSYS: every
// call from before the device is set up (every == 1, as on an arch without
// the helper), or every other call once it is set up (so a probe at
// VHOST_SET_FEATURES cannot make the outcome depend on the phase).
func injectENOSYS(every int) func(machine.Machine, string) outcome {
	return func(m machine.Machine, name string) outcome { return injectRun(m, name, every) }
}

// armedRx arms the switch (at once for every == 1, once the device is set
// up otherwise), runs the injection traffic, and reads what the switch saw.
func armedRx(m machine.Machine, name, errno string, every int, judge func(r *Rig, in injection, o *outcome)) outcome {
	early := every
	if every > 1 {
		early = 0
	}
	skip, disarm, err := armInjection(m, errno, early)
	if skip != "" || err != nil {
		return outcome{skip: skip, err: err}
	}
	defer disarm()
	var armedAt uint64
	t := traffic{cfg: Config{Name: name}, bufs: injectBufs(), frames: frames(32, frameLen)}
	if early != every {
		t.ready = func() error {
			if armedAt, err = counter(m, injectDir+"calls"); err != nil {
				return err
			}
			return writeFile(m, injectDir+"every", fmt.Sprint(every))
		}
	}
	var in injection
	o := rx(m, t, func(r *Rig, _ []virtq.Used, o *outcome) {
		if in, o.err = readInjection(m, armedAt); o.err == nil {
			o.count("helper_calls", int64(in.calls))
			o.count("injected", int64(in.injected))
			judge(r, in, o)
		}
	})
	if errors.Is(o.err, ErrLogAllRefused) {
		in, err = readInjection(m, armedAt)
		switch {
		case err != nil:
			o.err = err
		case in.injected > 0:
			// The helper looked missing when the device was set up and
			// the kernel said so: the safe answer, not a finding.
			o.notes = append(o.notes, fmt.Sprintf("LOG_ALL refused or not offered: with the helper failing -%s (%d of %d calls failed) the kernel declined to log (%v)", errno, in.injected, in.calls, o.err))
			o.control = control{moot: "LOG_ALL was refused, so nothing was logged: the scenario decided outside the bitmap"}
			o.class = record.ClassRefused
			o.count("injected", int64(in.injected))
			o.err = nil
		}
		// Refused with no failed call: not the injection's doing; Run
		// makes it an abi finding.
	}
	return o
}

func injectRun(m machine.Machine, name string, every int) outcome {
	return armedRx(m, name, "ENOSYS", every, func(r *Rig, in injection, o *outcome) {
		if o.skip, o.err = in.notExercised(); o.skip != "" || o.err != nil {
			return
		}
		lost := len(missing(o.log, o.expect.Written))
		class := "bits correct: a fallback worked"
		o.class = record.ClassCorrect
		switch errs := r.ErrEvents(); {
		case lost > 0 && errs == 0:
			o.class = record.ClassSilentLoss
			class = fmt.Sprintf("silent loss: LOG_ALL accepted, %d of %d bits missing, nothing on the error eventfd", lost, len(o.expect.Written))
			o.findings = append(o.findings, oracle.Finding{Kind: oracle.SilentLoss,
				Detail: "silent-loss: under -ENOSYS from the log helper, " + strings.TrimPrefix(class, "silent loss: ")})
		case lost > 0:
			o.class = record.ClassReported
			class = fmt.Sprintf("reported: %d bits missing, the error eventfd signalled %d time(s)", lost, errs)
		}
		o.notes = append(o.notes, fmt.Sprintf("the helper was called %d times (%d before arming), %d failed with -ENOSYS (%s): %s",
			in.calls, in.armedAt, in.injected, everyText(every), class))
		o.control = clearBit(sortedPages(o.expect.Written)[4])
	})
}

func everyText(every int) string {
	if every == 1 {
		return "every call"
	}
	return fmt.Sprintf("1 call in %d after arming", every)
}

// injectEFAULT fails every other call of the helper with -EFAULT. Losing
// the bits a failed call asked for is what 6.1 itself does on a real fault
// (log-readonly), so it is reported, not a finding; losing any other bit is
// (the log path dropped, cleared or misplaced a bit no failure explains).
func injectEFAULT(m machine.Machine, name string) outcome {
	return armedRx(m, name, "EFAULT", 2, func(r *Rig, in injection, o *outcome) {
		if o.skip, o.err = in.notExercised(); o.skip != "" || o.err != nil {
			return
		}
		if in.dropped > 0 {
			o.err = fmt.Errorf("the injection trace kept %d of %d calls: losses cannot be matched to failed calls", len(in.trace), in.calls)
			return
		}
		base, _ := r.LogRange()
		ok := in.explained(o.log, base)
		written := o.expect.Written
		o.count("pages_written", int64(len(written)))
		o.expect.Written = map[uint64]int{}
		for p := range written {
			o.expect.Allowed[p] = 0 // judged below, against the failed calls
		}
		o.findings = append(o.findings, unexplained(o.log, written, ok)...)
		o.notes = append(o.notes, fmt.Sprintf("the helper was called %d times, %d failed with -EFAULT on purpose (every other call after arming); %d of %d bits missing, %d page(s) explained by failed calls; the error eventfd signalled %d time(s)",
			in.calls, in.injected, len(missing(o.log, written)), len(written), len(ok), r.ErrEvents()))
		var victims []uint64
		for _, p := range sortedPages(written) {
			if !ok[p] && oracle.TestBit(o.log.After, o.log.Layout, o.log.BitOf(p)) {
				victims = append(victims, p)
			}
		}
		if len(victims) == 0 {
			// No control can be built. A log that loses bits no failed
			// call explains has failed anyway (rfc-v2 on s390x, whose
			// bits all land misplaced: it was "could not decide" in 1 of
			// 16 cells of a make run); one that passes is an error.
			o.control = control{what: "no written page was logged by a successful call, so no loss could be told apart from an injected one"}
			return
		}
		victim := victims[len(victims)/2]
		o.control = control{
			what: fmt.Sprintf("clearing the bit of page %d, which no failed call asked for", victim),
			mutate: func(l *oracle.Log, _ *oracle.Expect, extra *[]oracle.Finding) {
				oracle.ClearBit(l.After, l.Layout, l.BitOf(victim))
				*extra = append(*extra, unexplained(*l, written, ok)...)
			},
			want: []oracle.Kind{oracle.SilentLoss},
		}
	})
}
