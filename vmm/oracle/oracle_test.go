package oracle

import (
	"strings"
	"testing"
)

var layouts = []Layout{{64, false}, {64, true}, {32, false}, {32, true}}

const pages = 1280

// mk builds a log range of n bytes with the given bits set (absolute).
func mk(l Layout, n int, bits ...uint64) []byte {
	b := make([]byte, n)
	for _, x := range bits {
		PutBit(b, l, x)
	}
	return b
}

func written(ps ...uint64) map[uint64]int {
	m := map[uint64]int{}
	for _, p := range ps {
		m[p]++
	}
	return m
}

// logOf sets the bits of pages (and extra absolute bits) after.
func logOf(l Layout, fb uint64, before []uint64, pagesSet []uint64) Log {
	n := int((fb+pages)/8) + 64
	n = (n + 7) &^ 7
	bf := mk(l, n, before...)
	af := append([]byte(nil), bf...)
	for _, p := range pagesSet {
		PutBit(af, l, fb+p)
	}
	return Log{Layout: l, Before: bf, After: af, FirstBit: fb, Pages: pages}
}

func kinds(fs []Finding) string {
	var k []string
	for _, f := range fs {
		k = append(k, string(f.Kind))
	}
	return strings.Join(k, ",")
}

func TestBitLayouts(t *testing.T) {
	for _, tc := range []struct {
		l    Layout
		bit  uint64
		byte int
		mask byte
	}{
		{Layout{64, false}, 0, 0, 0x01},
		{Layout{64, true}, 0, 7, 0x01},
		{Layout{64, true}, 63, 0, 0x80},
		{Layout{64, true}, 32, 3, 0x01},
		{Layout{64, true}, 64, 15, 0x01},
		{Layout{32, true}, 0, 3, 0x01},
		{Layout{32, true}, 31, 0, 0x80},
		{Layout{32, false}, 9, 1, 0x02},
	} {
		b := mk(tc.l, 16, tc.bit)
		if b[tc.byte] != tc.mask {
			t.Errorf("%+v bit %d: got % x, want byte %d = %#x", tc.l, tc.bit, b, tc.byte, tc.mask)
		}
		if got := Bits(b, tc.l); len(got) != 1 || got[0] != tc.bit {
			t.Errorf("%+v: Bits = %v, want [%d]", tc.l, got, tc.bit)
		}
		if !TestBit(b, tc.l, tc.bit) {
			t.Errorf("%+v: TestBit(%d) false", tc.l, tc.bit)
		}
		ClearBit(b, tc.l, tc.bit)
		if len(Bits(b, tc.l)) != 0 {
			t.Errorf("%+v: ClearBit left % x", tc.l, b)
		}
	}
}

func TestCorrectLogsPass(t *testing.T) {
	ps := []uint64{256, 320, 325, 351, 352, 357, 383, 1279}
	for _, l := range layouts {
		for _, mis := range []uint64{0, 1, 2, 3, 4} {
			fb := 8 * (64 + mis)
			canary := []uint64{0, 2, 4, fb - 2, fb + pages + 1}
			lg := logOf(l, fb, canary, ps)
			allowed := map[uint64]int{258: 0, 259: 0}
			PutBit(lg.After, l, fb+258) // an allowed page set, the other not
			if f := Check(lg, Expect{Written: written(ps...), Allowed: allowed}); len(f) != 0 {
				t.Errorf("%+v misaligned %d: findings on a correct log: %+v", l, mis, f)
			}
		}
	}
}

func TestMissingStrayLost(t *testing.T) {
	for _, l := range layouts {
		fb := uint64(512)
		lg := logOf(l, fb, []uint64{3, fb + 700}, []uint64{300})
		ClearBit(lg.After, l, 3)        // canary cleared
		PutBit(lg.After, l, fb+pages+5) // past the log
		PutBit(lg.After, l, fb+900)     // unwritten page
		f := Check(lg, Expect{Written: written(300, 301)})
		if got := kinds(f); got != "missing,stray,preset-lost" {
			t.Fatalf("%+v: kinds %q, want missing,stray,preset-lost: %+v", l, got, f)
		}
		if f[0].Pages[0] != 301 || !strings.Contains(f[1].Detail, "page 900") || !strings.Contains(f[1].Detail, "past the last page") {
			t.Errorf("%+v: details %q / %q", l, f[0].Detail, f[1].Detail)
		}
		if len(f[0].Words) == 0 || f[0].Words[0].Want == f[0].Words[0].After {
			t.Errorf("%+v: missing finding lacks evidence: %+v", l, f[0].Words)
		}
	}
}

func TestCarrySignatures(t *testing.T) {
	for _, l := range layouts {
		fb := uint64(512)
		lg := logOf(l, fb, []uint64{fb + 400}, nil)
		counts := map[uint64]int{258: 3, 319: 2, 300: 2, 400: 1}
		lg.After = SimulateAdd(lg.Before, l, fb, counts)
		f := Check(lg, Expect{Written: counts})
		var details []string
		for _, x := range f {
			details = append(details, x.Detail+" | "+x.Cause)
		}
		all := strings.Join(details, "\n")
		if l.BigEndian && l.WordBits == 64 {
			// u32 words on BE64: no page logged once shows the XOR-32
			// move by itself, but the add replay establishes u32 words,
			// so carries are named per page where the kernel put them.
			for _, want := range []string{
				"carry: page 258 logged 3 times, bit set, page 259's bit (read as page 291) set too",
				"carry: page 300 logged 2 times, bit clear, page 301's bit (read as page 269) set",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("%+v: no %q in\n%s", l, want, all)
				}
			}
			if strings.Contains(kinds(f), string(Misplaced)) {
				t.Errorf("%+v: a misplacement claimed from pages logged more than once:\n%s", l, all)
			}
			continue
		}
		for _, x := range f {
			if x.Kind != Carry {
				t.Errorf("%+v: non-carry finding %+v", l, x)
			}
		}
		for _, want := range []string{
			"carry: page 258 logged 3 times, bit set, page 259 set too",
			"carry: page 319 logged 2 times, bit clear, carry left the 32-bit word",
			"carry: page 300 logged 2 times, bit clear, page 301 set",
			"carry: page 400 already dirty and logged 1 more time(s), bit clear, page 401 set",
			"reproduces every word whose log counts are known",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("%+v: no %q in\n%s", l, want, all)
			}
		}
	}
}

// The used ring is logged twice per completion (entry, then used->idx)
// with unknown counts: under an add its bit ends clear and the next set.
// That alone is also what a kernel logging one page too far does, so it
// is named a carry only where adds are proven elsewhere in the log (a
// word of known counts that ORs would not give); when the next page is
// the ring's too (also allowed), the bit is only missing.
func TestUsedRingCarry(t *testing.T) {
	l := Layout{64, false}
	fb := uint64(512)
	lg := logOf(l, fb, nil, nil)
	lg.After = SimulateAdd(lg.Before, l, fb, map[uint64]int{258: 2})
	ring := Expect{Written: map[uint64]int{}, Allowed: map[uint64]int{258: 0}, Required: map[uint64]bool{258: true}}
	if f := Check(lg, ring); kinds(f) != "missing,stray" {
		t.Fatalf("ambiguous (off by one, or adds): got %+v", f)
	}
	proven := Expect{Written: map[uint64]int{300: 2}, Allowed: ring.Allowed, Required: ring.Required}
	lg.After = SimulateAdd(lg.Before, l, fb, map[uint64]int{258: 2, 300: 2})
	f := Check(lg, proven)
	if len(f) < 2 || f[0].Kind != Carry || !strings.Contains(f[0].Detail, "count unknown") {
		t.Fatalf("adds proven by page 300: got %+v", f)
	}
	lg.After = SimulateAdd(lg.Before, l, fb, map[uint64]int{258: 2})
	f = Check(lg, Expect{Written: map[uint64]int{}, Allowed: map[uint64]int{258: 0, 259: 0}, Required: map[uint64]bool{258: true}})
	if kinds(f) != "missing" {
		t.Fatalf("got %+v", f)
	}
}

// A kernel that logs one page too far after the used ring (its bit set,
// the next page's too) is not named a carry.
func TestOffByOneIsNotACarry(t *testing.T) {
	l := Layout{64, false}
	fb := uint64(512)
	lg := logOf(l, fb, nil, nil)
	PutBit(lg.After, l, fb+258)
	PutBit(lg.After, l, fb+259)
	f := Check(lg, Expect{Written: map[uint64]int{}, Allowed: map[uint64]int{258: 0}, Required: map[uint64]bool{258: true}})
	if kinds(f) != "stray" {
		t.Fatalf("got %+v", f)
	}
}

// A bit dropped from a page logged twice, next to a page written anyway,
// is missing: nothing shows an add there.
func TestDroppedBitIsNotACarry(t *testing.T) {
	for _, l := range layouts {
		fb := uint64(512)
		lg := logOf(l, fb, nil, nil)
		PutBit(lg.After, l, fb+301)
		f := Check(lg, Expect{Written: map[uint64]int{300: 2, 301: 1}})
		if kinds(f) != "missing" {
			t.Errorf("%+v: got %+v", l, f)
		}
	}
}

// A dense carry pattern on a 32-bit big-endian log must not be read as
// the byte-wise XOR-24 misplacement (hppa's rfc-v2 iotlb once was).
func TestDenseCarriesAreNotMisplaced(t *testing.T) {
	l := Layout{32, true}
	fb := uint64(512)
	lg := logOf(l, fb, nil, nil)
	counts := map[uint64]int{}
	for p := uint64(256); p < 320; p++ {
		counts[p] = 2 + int(p%4)
	}
	lg.After = SimulateAdd(lg.Before, l, fb, counts)
	f := Check(lg, Expect{Written: counts})
	for _, x := range f {
		if x.Kind != Carry {
			t.Errorf("%+v", x)
		}
	}
}

// Consecutive pages logged many times cascade carries; with the used
// ring's counts unknown, the replay still explains the data words.
func TestCascadingCarries(t *testing.T) {
	l := Layout{64, false}
	fb := uint64(512)
	lg := logOf(l, fb, nil, nil)
	counts := map[uint64]int{}
	for p := uint64(288); p < 352; p++ {
		counts[p] = 4 + int(p%2)
	}
	lg.After = SimulateAdd(lg.Before, l, fb, counts)
	PutBit(lg.After, l, fb+258) // a used-ring page, count unknown
	f := Check(lg, Expect{Written: counts, Allowed: map[uint64]int{258: 0, 259: 0}})
	for _, x := range f {
		if x.Kind != Carry {
			t.Fatalf("non-carry finding %+v in %s", x, kinds(f))
		}
	}
	if !strings.Contains(f[len(f)-1].Cause, "reproduces these words exactly") {
		t.Fatalf("no replay finding: %+v", f[len(f)-1])
	}
}

// The seed patch's u32 words: misplaced at XOR 32 on BE64 only.
func TestSeedLayoutMisplacement(t *testing.T) {
	ps := []uint64{320, 357, 383, 416, 389, 447}
	for _, l := range layouts {
		fb := uint64(512)
		lg := logOf(l, fb, nil, nil)
		lg.After = SimulateAdd(lg.Before, l, fb, written(ps...))
		f := Check(lg, Expect{Written: written(ps...)})
		if l.BigEndian && l.WordBits == 64 {
			if kinds(f) != "misplaced" || !strings.Contains(f[0].Detail, "XOR 32") || len(f[0].Pages) != len(ps) {
				t.Errorf("%+v: want one XOR-32 misplacement of %d pages, got %+v", l, len(ps), f)
			}
			continue
		}
		if len(f) != 0 {
			t.Errorf("%+v: u32 words agree with the ABI here, got %+v", l, f)
		}
	}
}

func TestByteWiseMisplacement(t *testing.T) {
	for _, l := range []Layout{{64, true}, {32, true}} {
		fb := uint64(512)
		lg := logOf(l, fb, nil, nil)
		ps := []uint64{260, 300, 333}
		for _, p := range ps {
			// the vhost-user formula: byte p/8, bit p%8, from the log base
			b := fb + p
			lg.After[b/8] |= 1 << (b % 8)
		}
		f := Check(lg, Expect{Written: written(ps...)})
		want := map[int]string{64: "XOR 56", 32: "XOR 24"}[l.WordBits]
		if kinds(f) != "misplaced" || !strings.Contains(f[0].Detail, want) {
			t.Errorf("%+v: want %s misplacement, got %+v", l, want, f)
		}
	}
}

func TestNothingSwallowed(t *testing.T) {
	// Hundreds of missing pages aggregate into one finding that counts them all.
	l := Layout{64, false}
	lg := logOf(l, 512, nil, nil)
	w := map[uint64]int{}
	for p := uint64(300); p < 700; p++ {
		w[p] = 1
	}
	f := Check(lg, Expect{Written: w})
	if kinds(f) != "missing" || !strings.Contains(f[0].Detail, "400 written page(s)") || len(f[0].Words) > maxWords {
		t.Fatalf("got %+v", f)
	}
}

// A page logged once whose bit is missing is a lost write, not a carry,
// even when its neighbour is set.
func TestSingleLogMissingIsNotCarry(t *testing.T) {
	l := Layout{64, false}
	lg := logOf(l, 512, nil, []uint64{301})
	f := Check(lg, Expect{Written: written(300, 301)})
	if kinds(f) != "missing" {
		t.Fatalf("got %+v", f)
	}
}

// A window of a log too large to read whole (guest memory past 16 TiB):
// findings name absolute pages, and a page whose bit wrapped to the
// window's own low bits reads as missing plus stray, never as a pass.
func TestWindowNamesAbsolutePages(t *testing.T) {
	const base = 1<<32 - 32 // page 2^32 - 32 is bit 64 of the window
	for _, l := range layouts {
		mkWin := func(pagesSet ...uint64) Log {
			bf := mk(l, 64, 0, 2, 4) // canary bits below FirstBit
			af := append([]byte(nil), bf...)
			for _, p := range pagesSet {
				PutBit(af, l, 64+p-base)
			}
			return Log{Layout: l, Before: bf, After: af, FirstBit: 64, Pages: 128, PageBase: base}
		}
		want := Expect{Written: written(base+2, 1<<32+5), Allowed: map[uint64]int{}, Required: map[uint64]bool{}}
		if f := Check(mkWin(base+2, 1<<32+5), want); len(f) != 0 {
			t.Fatalf("%+v: a right window gave %+v", l, f)
		}
		f := Check(mkWin(base+2, 1<<32+7), want)
		if len(f) != 2 || f[0].Kind != Missing || f[1].Kind != Stray ||
			!strings.Contains(f[0].Detail, "page 4294967301") || f[0].Pages[0] != 1<<32+5 ||
			!strings.Contains(f[1].Detail, "page 4294967303") {
			t.Fatalf("%+v: got %+v", l, f)
		}
		if b := mkWin().BitOf(1<<32 + 5); b != 64+37 {
			t.Fatalf("BitOf = %d", b)
		}
	}
}

func TestMoveOfNamesTheFindingsBijection(t *testing.T) {
	l := Layout{WordBits: 64, BigEndian: true}
	before := make([]byte, 16)
	after := make([]byte, 16)
	PutBit(after, l, 3^32) // page 3 landed at 35
	fs := Check(Log{Layout: l, Before: before, After: after, Pages: 128}, Expect{Written: map[uint64]int{3: 1}})
	if len(fs) != 1 || fs[0].Kind != Misplaced {
		t.Fatalf("findings %+v, want one misplaced", fs)
	}
	name, mv, ok := MoveOf(fs[0])
	if !ok || name != "page XOR 32" || mv(3) != 35 {
		t.Fatalf("MoveOf = %q, ok %v", name, ok)
	}
	if _, _, ok := MoveOf(Finding{Kind: Missing}); ok {
		t.Fatal("MoveOf accepted a missing finding")
	}
}
