package scenario

// The rig's dirty log: mapped between guard pages and canaries, read back as a
// whole or as a window, and the eventfds that report on it.

import (
	"fmt"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
)

// mapLog maps the log between two PROT_NONE guard pages, writes canaries
// around it and the preset bits into it, and keeps a copy as Before.
func (r *Rig) mapLog() error {
	ps := r.M.ABI().PageSize
	logBytes := int((r.pages + 7) / 8)
	// The log ends at least canary bytes before the trailing guard page;
	// the checked range runs from the leading guard page to the trailing
	// one, so every byte a stray write could reach without faulting is
	// a canary that is read back.
	tailSpan := (r.Cfg.LogMisalign + logBytes + canary + 7) &^ 7
	pages := (canary + tailSpan + ps - 1) / ps
	span := pages * ps
	if logBytes > sparseLog && (len(r.extra) == 0 || r.Cfg.LogMisalign != 0 || len(r.Cfg.Preset) > 0 || !r.Cfg.LazyLog) {
		return &SetupError{"map log", fmt.Errorf("a log of %d bytes is read only as a window: it needs LazyLog, extra regions, no preset bits, an aligned base", logBytes)}
	}
	mmap := r.M.Mmap
	if r.Cfg.LazyLog {
		mmap = r.M.MmapLazy
	}
	addr, err := mmap((pages + 2) * ps)
	if err != nil {
		return &SetupError{"mmap log", err}
	}
	r.logMap, r.logMapSize = addr, (pages+2)*ps
	guard := machine.Later(r.M, "guard page") // they travel with the device's open
	if err := guard.Mprotect(addr, ps, machine.ProtNone); err != nil {
		return &SetupError{"guard page", err}
	}
	if err := guard.Mprotect(addr+uint64((pages+1)*ps), ps, machine.ProtNone); err != nil {
		return &SetupError{"guard page", err}
	}
	// The checked range is everything between the guard pages, so a bit
	// written past the canaries faults instead of landing unseen.
	r.rngAddr = addr + uint64(ps)
	r.firstBit = uint64(8 * (span - tailSpan + r.Cfg.LogMisalign))
	r.logBase = r.rngAddr + r.firstBit/8
	if logBytes > sparseLog {
		return r.sparse(span)
	}
	r.rng = make([]byte, span)
	// Canaries: every other bit of the words before and after the log.
	canaries(r.rng, r.Layout, 0, r.firstBit)
	canaries(r.rng, r.Layout, r.firstBit+r.pages+1, uint64(8*len(r.rng)))
	for _, p := range r.Cfg.Preset {
		oracle.PutBit(r.rng, r.Layout, r.firstBit+p)
	}
	r.before = append([]byte(nil), r.rng...)
	if r.Cfg.LazyLog {
		// Only the canaries, in whole words (on big-endian targets a
		// canary bit after the log may sit in an earlier byte of the last
		// word): the log pages between them stay untouched.
		w := uint64(r.Layout.WordBits)
		head := int(r.firstBit / w * w / 8)
		tail := int((r.firstBit + r.pages) / w * w / 8)
		if err := r.M.WriteMem(r.rngAddr, r.rng[:head]); err != nil {
			return &SetupError{"write log canaries", err}
		}
		if err := r.M.WriteMem(r.rngAddr+uint64(tail), r.rng[tail:]); err != nil {
			return &SetupError{"write log canaries", err}
		}
		return nil
	}
	if err := r.M.WriteMem(r.rngAddr, r.rng); err != nil {
		return &SetupError{"write log canaries", err}
	}
	return nil
}

// canaries sets every other bit of b in [from, to).
func canaries(b []byte, l oracle.Layout, from, to uint64) {
	for x := from; x < to; x += 2 {
		oracle.PutBit(b, l, x)
	}
}

// sparseLog is the largest log read whole; past it (guest memory above
// 16 TiB puts bits 512 MiB in), the log is mapped lazily and only a
// window is checked: from 64 pages below the lowest extra region to the
// end of the log and the canary after it. Main memory's bits, near the
// log base, are then not read: a bit that wrapped there from above shows
// as missing in the window.
const sparseLog = 1 << 20

// sparse sets up the window of a log too large to read (see sparseLog),
// given the span of the whole range.
func (r *Rig) sparse(span int) error {
	low := r.extra[0].GPA >> pageShift
	for _, x := range r.extra {
		low = min(low, x.GPA>>pageShift)
	}
	w := uint64(r.Layout.WordBits)
	r.pageBase = (low - 64) / w * w
	head := make([]byte, r.firstBit/8) // the canary before the log, written but not read back
	canaries(head, r.Layout, 0, r.firstBit)
	if err := r.M.WriteMem(r.rngAddr, head); err != nil {
		return &SetupError{"write log canaries", err}
	}
	skip := int(r.firstBit/8 + r.pageBase/8)
	r.rngAddr += uint64(skip)
	r.rng = make([]byte, span-skip)
	r.firstBit = 0
	canaries(r.rng, r.Layout, r.pages-r.pageBase+1, uint64(8*len(r.rng)))
	r.before = append([]byte(nil), r.rng...)
	tail := int((r.pages - r.pageBase) / w * w / 8)
	if err := r.M.WriteMem(r.rngAddr+uint64(tail), r.rng[tail:]); err != nil {
		return &SetupError{"write log canaries", err}
	}
	return nil
}

// LogBase is the user address handed to VHOST_SET_LOG_BASE.
func (r *Rig) LogBase() uint64 {
	return r.logBase
}

// ErrEvents reads and resets the error eventfd's counter (0 without one).
func (r *Rig) ErrEvents() uint64 { return r.count(r.errFD) }

// LogPageOf is the host page of the log holding guest page p's bit.
func (r *Rig) LogPageOf(p uint64) uint64 {
	ps := uint64(r.M.ABI().PageSize)
	return (r.logBase + p/8) &^ (ps - 1)
}

// StopAndLog stops the device (the final sync) and reads the log back.
func (r *Rig) StopAndLog() (oracle.Log, error) {
	if err := r.Stop(); err != nil {
		return oracle.Log{}, err
	}
	return r.Log()
}

// LogEvents reads and resets the log eventfd's counter.
func (r *Rig) LogEvents() uint64 { return r.count(r.logFD) }

// count reads and resets an eventfd's counter; 0 when it was never
// signalled (a non-blocking read fails) or there is none.
func (r *Rig) count(fd int) uint64 {
	if fd < 0 {
		return 0
	}
	b, err := r.M.Read(fd, 8)
	if err != nil || len(b) != 8 {
		return 0
	}
	return r.M.ABI().ByteOrder.Uint64(b)
}

// Log returns the checked range before and now, for the oracle.
// LogRange is the memory Log reads: the log with its canaries.
func (r *Rig) LogRange() (uint64, int) { return r.rngAddr, len(r.rng) }

func (r *Rig) Log() (oracle.Log, error) {
	for _, p := range r.Cfg.ProtectLog {
		if err := r.M.Mprotect(r.LogPageOf(p), r.M.ABI().PageSize, machine.ProtRW); err != nil {
			return oracle.Log{}, fmt.Errorf("restoring the log page: %w", err)
		}
	}
	after, err := r.M.ReadMem(r.rngAddr, len(r.rng))
	if err != nil {
		return oracle.Log{}, fmt.Errorf("reading the log back: %w", err)
	}
	return oracle.Log{
		Layout:   r.Layout,
		Before:   append([]byte(nil), r.before...),
		After:    after,
		FirstBit: r.firstBit,
		Pages:    r.pages - r.pageBase,
		PageBase: r.pageBase,
	}, nil
}
