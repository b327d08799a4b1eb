package scenario

// The log-write window of kernels/patches/alias-window.patch (applied by
// --alias-model): a debugfs switch that holds vhost's log write open twice,
// after it took the log page or address and before it stored the bit, and
// after the store, until the VMM says it has read its log. Under the cache
// model that makes harvest read the log between the pin's flush and the
// kernel's store on every run: without it the VMM met that interval only
// by chance (3 runs in 4 on 6.1), and a gate between two kernels that
// write through the kernel's alias could flip.

import (
	"fmt"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/virtq"
)

const windowDir = "/sys/kernel/debug/vhost_log_window/"

// harvestWindows is how many log writes harvest may hold open, in its
// first two frames: 6.1 and futex-fixed make 2 per frame (the buffer page,
// then the used ring); 6 leaves room for a kernel that logs more.
const harvestWindows, harvestWindowFrames = 6, 2

// windowStats is what the switch counted.
type windowStats struct {
	opened, kmap, futex, acked, timedout, late uint64
	served                                     int           // phases the VMM read its log in
	took                                       time.Duration // the windowed frames, armed to disarmed
}

// hasWindow says whether the kernel has the switch.
func hasWindow(m machine.Machine) bool {
	fd, err := m.Open(windowDir + "reset")
	if err != nil {
		return false
	}
	m.Close(fd)
	return true
}

// armWindows resets the switch and arms n windows, each phase held up to
// 20 s: on a loaded host one round trip over the console can take 5.
func armWindows(m machine.Machine, n int) error {
	for _, s := range [][2]string{{"reset", "1"}, {"timeout_ms", "20000"}, {"windows", fmt.Sprint(n)}} {
		if err := writeFile(m, windowDir+s[0], s[1]); err != nil {
			return fmt.Errorf("arming the log-write window: %w", err)
		}
	}
	return nil
}

// serveWindows reads the log (read) in every phase the kernel opens, and
// acknowledges it, until no phase opens for a second (the switch's wait);
// before the first phase it waits up to patience seconds (a loaded host
// may take that long to get the frames to vhost).
func serveWindows(m machine.Machine, read func() error, patience int) (served int, err error) {
	for idle := 0; ; {
		line, err := readFile(m, windowDir+"wait")
		if err != nil {
			return served, err
		}
		var seq, phase int
		var path string
		if _, err := fmt.Sscanf(line, "%d %d %s", &seq, &phase, &path); err != nil {
			return served, fmt.Errorf("%swait holds %q: %w", windowDir, line, err)
		}
		if seq == 0 {
			if idle++; served > 0 || idle >= patience {
				return served, nil
			}
			continue
		}
		if err := read(); err != nil {
			return served, err
		}
		if err := writeFile(m, windowDir+"ack", fmt.Sprintf("%d %d", seq, phase)); err != nil {
			return served, err
		}
		served++
	}
}

// readWindow reads the switch's counters.
func readWindow(m machine.Machine) (windowStats, error) {
	var w windowStats
	for _, c := range []struct {
		name string
		v    *uint64
	}{{"opened", &w.opened}, {"kmap", &w.kmap}, {"futex", &w.futex}, {"acked", &w.acked}, {"timedout", &w.timedout}, {"late", &w.late}} {
		var err error
		if *c.v, err = counter(m, windowDir+c.name); err != nil {
			return w, err
		}
	}
	return w, nil
}

// problem says why the windows decided nothing, or "": none opened (the
// log path passed neither hook), or a phase ended before the VMM read.
func (w windowStats) problem() string {
	switch {
	case w.opened == 0:
		return "no log write opened a window (the log path reached neither kmap_atomic nor arch_futex_atomic_op_inuser in vhost.c, the switch's hooks): the VMM's reads could not be placed inside a log write, so nothing was decided about aliases"
	case w.timedout > 0 || w.late > 0 || w.acked != 2*w.opened || uint64(w.served) != w.acked:
		return fmt.Sprintf("of the %d phases of %d windows, %d were acknowledged in time, %d timed out, %d acknowledgements came late (the VMM served %d): a VMM read may have fallen outside the log write", 2*w.opened, w.opened, w.acked, w.timedout, w.late, w.served)
	}
	return ""
}

func (w windowStats) note() string {
	return fmt.Sprintf("log-write window (alias-window.patch): the VMM harvested the log inside %d log writes (%d through kmap_atomic, %d through the futex helper), before and after each store (%d phases, all acknowledged in time)",
		w.opened, w.kmap, w.futex, w.acked)
}

// windowed sends harvest's first frames with the switch armed and harvests
// the whole log (from its first word, so the used ring's words too) in
// every phase of every log write they make; it returns how many frames it
// sent and their used buffers. Without the switch it does nothing.
func (h *harvester) windowed(heads []uint16, fr [][]byte) (int, []virtq.Used, error) {
	if !hasWindow(h.m) {
		return 0, nil, nil
	}
	k, t0 := harvestWindowFrames, time.Now()
	if err := armWindows(h.m, harvestWindows); err != nil {
		return 0, nil, err
	}
	// Disarmed on every path: an armed window would stall later scenarios.
	defer writeFile(h.m, windowDir+"windows", "0")
	lo := h.r.firstBit / h.w
	read := func() error {
		old, err := h.m.SwapWords(h.r.rngAddr+lo*h.w/8, int(h.lo+uint64(h.n)-lo))
		if err == nil {
			h.collect(old, lo)
		}
		return err
	}
	if err := h.r.Send(fr[:k]...); err != nil {
		return 0, nil, err
	}
	served, err := serveWindows(h.m, read, 10)
	var more int
	if err == nil {
		// A window taken just before the disarm is still served.
		if err = writeFile(h.m, windowDir+"windows", "0"); err == nil {
			more, err = serveWindows(h.m, read, 1)
		}
	}
	var w windowStats
	if err == nil {
		w, err = readWindow(h.m)
	}
	if err != nil {
		return 0, nil, err
	}
	w.served, w.took = served+more, time.Since(t0)
	h.win = &w
	used, err := h.r.WaitUsed(k)
	return k, used, err
}

// judgeWindow notes what the windows did. Windows that decided nothing
// make the run vacuous: an error, unless the log fails anyway.
func (h *harvester) judgeWindow(o *outcome) {
	if h.win == nil {
		return
	}
	o.count("window_log_writes", int64(h.win.opened))
	o.count("window_ms", h.win.took.Milliseconds())
	p := h.win.problem()
	switch {
	case p == "":
		o.notes = append(o.notes, h.win.note())
	case o.vacuous == "":
		o.vacuous = p
	default:
		o.vacuous += "; and " + p
	}
}
