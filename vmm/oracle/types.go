// Package oracle decides whether a dirty log read back from the kernel is
// correct, following docs/dirty-log-abi.md. It is pure logic: it gets
// the raw bytes of the log before and after a scenario, the target's word
// size and byte order, and what the scenario made vhost write, and returns
// classified findings. It never looks at the host it runs on.
//
// Runs on both sides: in the guest after each scenario, and on the host, which re-runs it on every scenario's evidence.
package oracle

// Kind classifies a finding.
type Kind string

const (
	Missing    Kind = "missing"     // a written page has no bit: lost memory after migration
	Stray      Kind = "stray"       // a bit for a page nobody wrote, outside the log, or on a canary
	Carry      Kind = "carry"       // bits consistent with an add instead of an or
	Misplaced  Kind = "misplaced"   // the bit landed at a known bijection of the right page
	PresetLost Kind = "preset-lost" // a bit set before the scenario was cleared
	ABI        Kind = "abi"         // an ioctl answered differently from the 6.1 ABI
	EventFD    Kind = "eventfd"     // the log eventfd was not signalled
	Splat      Kind = "splat"       // the kernel printed BUG/WARNING/Oops/panic (host side)
	Control    Kind = "control"     // a negative control did not fail: the scenario cannot fail
	// Resurrected: a bit the VMM harvested (exchanged with 0) came back
	// without a new write; decided from the sequence of harvests, not
	// from one bitmap.
	Resurrected Kind = "resurrected"
	// SilentLoss: under fault injection LOG_ALL stayed accepted, bits
	// went missing, and nothing was reported on the error eventfd.
	SilentLoss Kind = "silent-loss"
	// ChildCopy: a bit logged after a fork landed in the child's
	// copy-on-write copy of the log; decided from the child's view, not
	// from the VMM's bitmap.
	ChildCopy Kind = "child-copy"
	// Alias: the VMM read a log word through its own address while its
	// cached copy (or memory) was older than what the kernel wrote through
	// another, non-equivalent, virtual alias: on a virtually indexed cache
	// those bits are invisible to that read. Decided by the cache model
	// (harness/aliasmodel), never from the bitmap, which emulation keeps
	// coherent.
	Alias Kind = "alias"
)

// OutsideBitmap reports whether findings of kind k are decided from
// something other than the final bitmap (ioctl results, eventfds, harvest
// sequences, the console): the host's re-run of the oracle cannot see them.
func OutsideBitmap(k Kind) bool {
	switch k {
	case ABI, EventFD, Control, Splat, Resurrected, SilentLoss, ChildCopy, Alias:
		return true
	}
	return false
}

// Layout is how the target's kernel lays out the bitmap: native unsigned
// long words, set_bit numbering.
type Layout struct {
	WordBits  int  // 32 or 64
	BigEndian bool // the target's byte order, never the host's
}

// Log is the memory around the dirty log, as raw bytes, before and after.
type Log struct {
	Layout
	// Before and After cover the same range, starting at a word-aligned
	// address at or below the log base. Before holds what userspace put
	// there (pre-set bits, canaries); After what it read back.
	Before, After []byte
	// FirstBit is the bit number, in set_bit numbering from Before[0], of
	// guest page 0: 8 * (log base - start of the range).
	FirstBit uint64
	// Pages is the number of guest pages the log covers; bits at or past
	// FirstBit+Pages, and below FirstBit, belong to nobody.
	Pages uint64
	// PageBase is the guest page whose bit is FirstBit: 0 for a range
	// that starts at the log, the first page of a window for a log too
	// large to read whole (guest memory above 16 TiB puts the last bits
	// 512 MiB in). Pages then counts from it; the Expect and the
	// findings still name absolute pages.
	PageBase uint64
}

// Expect is what the scenario made vhost do.
type Expect struct {
	// Written maps each page vhost was made to write (RX data, E) to how
	// many times it was logged between the clear and the read, as far as
	// the scenario can count (at least 1).
	Written map[uint64]int
	// Allowed are pages that may be set without being in Written: used
	// ring pages, which the kernel logs when VHOST_VRING_F_LOG is set.
	// Counts as in Written (0 when unknown).
	Allowed map[uint64]int
	// Required are Allowed pages that must be set (used-ring logging
	// scenarios); a missing one is a Missing finding.
	Required map[uint64]bool
}

// Finding is one classified problem with its evidence.
type Finding struct {
	Kind   Kind     `json:"kind"`
	Detail string   `json:"detail"` // one line, e.g. "carry: page 258 logged 3 times, bit clear, bit 259 set"
	Pages  []uint64 `json:"pages,omitempty"`
	Words  []Word   `json:"words,omitempty"`
	Cause  string   `json:"cause,omitempty"` // for Misplaced/Carry: the known mechanism
}

// Word is one log word as evidence: its index from the start of the range
// and its value (in the target's byte order) before, after, and as expected.
type Word struct {
	Index  int    `json:"index"`
	Before uint64 `json:"before"`
	After  uint64 `json:"after"`
	Want   uint64 `json:"want"`
}

// BitOf is the bit number, from Before[0], of guest page p.
func (l Log) BitOf(p uint64) uint64 { return l.FirstBit + p - l.PageBase }
