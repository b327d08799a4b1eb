package oracle

import (
	"fmt"
	"sort"
	"strings"
)

// bijection is a known way bits get misplaced, applied to absolute bit
// numbers (from the start of the checked range, which is word-aligned).
type bijection struct {
	name  string
	cause string
	f     func(uint64) uint64
	fits  func(Layout) bool
}

var bijections = []bijection{
	{"page XOR 32", "u32 words where the ABI has unsigned long (64-bit big-endian)",
		func(b uint64) uint64 { return b ^ 32 }, func(l Layout) bool { return l.BigEndian && l.WordBits == 64 }},
	{"page XOR 56", "byte-wise writes (the vhost-user formula) on a 64-bit big-endian host",
		func(b uint64) uint64 { return b ^ 56 }, func(l Layout) bool { return l.BigEndian && l.WordBits == 64 }},
	{"page XOR 24", "byte-wise writes (the vhost-user formula) on a 32-bit big-endian host",
		func(b uint64) uint64 { return b ^ 24 }, func(l Layout) bool { return l.BigEndian && l.WordBits == 32 }},
}

// Evidence and listing bounds keep reports readable.
const (
	maxWords = 8
	maxPages = 64
	maxShown = 8
)

// checker holds one Check's state: bit sets and what is still unexplained.
type checker struct {
	log     Log
	want    Expect
	after   bitSet
	before  bitSet
	missing map[uint64]bool // absolute bits expected set and clear
	stray   map[uint64]bool // absolute bits set that nobody may set
	lost    map[uint64]bool // absolute bits pre-set and now clear
	// land maps a bit to where the kernel under test puts it: identity,
	// or XOR 32 once u32 words on a BE64 host are established.
	land func(uint64) uint64
	u32  bool
	// The add replay, computed once (it depends only on log and want).
	replayed     bool
	replayAgree  wordSet
	replayExact  bool
	replayProven bool // exact, and some word differs from what ORs give
}

// Check compares the log with what the scenario made vhost do and returns
// classified findings, in a deterministic order. No finding means the log
// is exactly right: every written page set, nothing else changed.
func Check(log Log, want Expect) []Finding {
	if log.PageBase != 0 {
		want = rebase(want, log.PageBase)
	}
	c := &checker{log: log, want: want, after: newBitSet(log.After, log.Layout), before: newBitSet(log.Before, log.Layout),
		missing: map[uint64]bool{}, stray: map[uint64]bool{}, lost: map[uint64]bool{},
		land: func(b uint64) uint64 { return b }}
	fb := log.FirstBit
	for p := range want.Written {
		if !c.after.has(fb + p) {
			c.missing[fb+p] = true
		}
	}
	for p := range want.Required {
		if !c.after.has(fb + p) {
			c.missing[fb+p] = true
		}
	}
	for _, b := range c.after.without(c.before) {
		if b >= fb && b < fb+log.Pages {
			p := b - fb
			if _, ok := want.Written[p]; ok {
				continue
			}
			if _, ok := want.Allowed[p]; ok {
				continue
			}
		}
		c.stray[b] = true
	}
	for _, b := range c.before.without(c.after) {
		c.lost[b] = true
	}
	var out []Finding
	out = append(out, c.misplaced()...)
	if !c.u32 && log.BigEndian && log.WordBits == 64 && c.addsProven() {
		// Adds on u32 words reproduce the log where ORs would not: the
		// kernel writes u32 words, which a reader of 64-bit big-endian
		// words sees at page XOR 32, even with no page logged once to
		// show the move by itself.
		c.land, c.u32 = bijections[0].f, true
	}
	out = append(out, c.carries()...)
	out = append(out, c.explainedByAdds()...)
	out = append(out, c.rest()...)
	return out
}

func sorted(m map[uint64]bool) []uint64 {
	var s []uint64
	for k, v := range m {
		if v {
			s = append(s, k)
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// page names absolute bit b as a page number (or its position outside the log).
func (c *checker) page(b uint64) string {
	fb := c.log.FirstBit
	switch {
	case b < fb:
		return fmt.Sprintf("bit %d before the log", fb-b)
	case b >= fb+c.log.Pages:
		return fmt.Sprintf("bit %d past the last page", b-(fb+c.log.Pages))
	}
	return fmt.Sprintf("page %d", b-fb+c.log.PageBase)
}

// rebase shifts every page of e down by base: the checker works in pages
// from the window's first page. Pages below base cannot be in the window;
// they are kept at the top of the range, so they read as missing bits
// "past the last page" rather than vanish.
func rebase(e Expect, base uint64) Expect {
	shift := func(m map[uint64]int) map[uint64]int {
		out := make(map[uint64]int, len(m))
		for p, n := range m {
			out[p-base] = n
		}
		return out
	}
	r := Expect{Written: shift(e.Written), Allowed: shift(e.Allowed), Required: map[uint64]bool{}}
	for p, ok := range e.Required {
		r.Required[p-base] = ok
	}
	return r
}

// misplaced explains missing bits whose image under a known bijection is
// a stray bit. Only bijections that can happen on this layout are tried,
// and only on pages logged exactly once and clear before: a page logged
// several times under an add leaves a dense pattern of cleared and carried
// bits in which a bijection can match by chance.
func (c *checker) misplaced() []Finding {
	var out []Finding
	for _, bj := range bijections {
		if !bj.fits(c.log.Layout) {
			continue
		}
		var from, to []uint64
		for _, b := range sorted(c.missing) {
			if !c.once(b) {
				continue
			}
			if t := bj.f(b); c.stray[t] {
				from = append(from, b)
				to = append(to, t)
			}
		}
		if len(from) == 0 {
			continue
		}
		var eg []string
		for i := range from {
			if i == maxShown {
				break
			}
			eg = append(eg, fmt.Sprintf("%s -> %s", c.page(from[i]), c.page(to[i])))
		}
		pages := c.pages(from)
		out = append(out, Finding{
			Kind:   Misplaced,
			Detail: fmt.Sprintf("misplaced: %d page(s) landed at %s (%s), e.g. %s", len(from), bj.name, bj.cause, strings.Join(eg, ", ")),
			Pages:  pages,
			Cause:  bj.cause,
			Words:  c.words(append(append([]uint64(nil), from...), to...)),
		})
		for i := range from {
			delete(c.missing, from[i])
			delete(c.stray, to[i])
		}
		if bj.name == "page XOR 32" {
			c.land, c.u32 = bj.f, true
		}
	}
	return out
}

// once reports whether absolute bit b is a page logged exactly once that
// was clear before.
func (c *checker) once(b uint64) bool {
	fb := c.log.FirstBit
	if b < fb || b >= fb+c.log.Pages || c.before.has(b) {
		return false
	}
	n, ok := c.want.Written[b-fb]
	if _, alsoAllowed := c.want.Allowed[b-fb]; alsoAllowed {
		return false
	}
	return ok && n == 1
}

// count is how many times page p was logged, 0 when unknown.
func (c *checker) count(p uint64) (int, bool) {
	if n, ok := c.want.Written[p]; ok {
		return n, true
	}
	if n, ok := c.want.Allowed[p]; ok {
		return n, true
	}
	return 0, false
}

// carries explains anomalies the way an add (instead of an or) makes
// them: a page logged more than once (or already dirty and logged again)
// loses its bit and carries into the next one, or out of its 32-bit word.
func (c *checker) carries() []Finding {
	fb := c.log.FirstBit
	var out []Finding
	var sources []uint64
	for p := range c.want.Written {
		sources = append(sources, p)
	}
	for p := range c.want.Allowed {
		if _, dup := c.want.Written[p]; !dup {
			sources = append(sources, p)
		}
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i] < sources[j] })
	agree, addExplains := c.addReplay()
	for _, p := range sources {
		b := fb + p
		n, _ := c.count(p)
		wasSet := c.before.has(b)
		repeated := n >= 2 || n == 0 || wasSet // 0: unknown, as for used-ring pages
		if !repeated {
			continue
		}
		// lb and next are where this page's bit and the carry out of it
		// land under the kernel's word layout.
		lb, next := c.land(b), c.land(b+1)
		cleared := (c.missing[b] || c.lost[b]) && !c.after.has(lb)
		nextHit := c.stray[next] || c.lost[next]
		// A neighbour that was itself written or allowed is set anyway, so
		// it cannot prove the carry; but a page logged more than once whose
		// bit vanished next to a set bit has no other known explanation.
		nextSet := c.after.has(next) && !c.before.has(next)
		wordEnd := b%32 == 31
		nextName := c.page(next)
		if c.u32 {
			nextName = fmt.Sprintf("page %d's bit (read as %s)", p+1+c.log.PageBase, c.page(next))
		}
		// Where the neighbour's bit proves nothing by itself (it was
		// written anyway, or the carry left the word), or the count is
		// unknown, only an add replay that reproduces the word names a
		// carry: a plain dropped bit, or an off-by-one stray after the
		// used ring, is reported as what it is.
		replayed := agree.has(p / 32)
		var what string
		switch {
		case cleared && nextHit && (n > 0 || replayed || c.addsProven()):
			what = fmt.Sprintf("bit clear, %s %s", nextName, map[bool]string{true: "(pre-set) cleared", false: "set"}[c.lost[next]])
		case cleared && nextSet && n > 0 && replayed:
			what = fmt.Sprintf("bit clear, %s set (also written, so set either way)", nextName)
		case cleared && wordEnd && n > 0 && replayed:
			what = "bit clear, carry left the 32-bit word (p % 32 == 31)"
		case !cleared && c.stray[next] && c.after.has(lb) && n >= 3:
			what = fmt.Sprintf("bit set, %s set too", nextName)
		default:
			continue
		}
		times := fmt.Sprintf("logged %d times", n)
		switch {
		case wasSet:
			times = fmt.Sprintf("already dirty and logged %d more time(s)", n)
		case n == 0:
			times = "logged more than once (count unknown)"
		}
		cause := "log operation adds instead of setting bits (a FUTEX_OP_ADD-style read-modify-write)"
		if addExplains {
			cause += "; replaying every log call as an add on u32 words reproduces every word whose log counts are known"
		}
		out = append(out, Finding{
			Kind:   Carry,
			Detail: fmt.Sprintf("carry: page %d %s, %s", p+c.log.PageBase, times, what),
			Pages:  []uint64{p + c.log.PageBase},
			Cause:  cause,
			Words:  c.words([]uint64{b, next}),
		})
		delete(c.missing, b)
		delete(c.lost, b)
		delete(c.stray, next)
		delete(c.lost, next)
	}
	return out
}

// addReplay replays the known log counts as adds on u32 words (the seed
// patch's mechanism) and returns the set of u32 words (by index from the
// log base) where the replay agrees with the log read back, leaving out
// words holding pages whose count is unknown (used-ring pages). exact is
// true when it agrees everywhere it can be compared.
func (c *checker) addReplay() (agree wordSet, exact bool) {
	if !c.replayed {
		c.replayAgree, c.replayExact, c.replayProven = c.replayAdds()
		c.replayed = true
	}
	return c.replayAgree, c.replayExact
}

// addsProven: the replay is exact and, in some word it compared, adds
// give another value than ORs would: the log shows adds, not just the
// absence of anything else (pages logged once look the same either way).
func (c *checker) addsProven() bool {
	c.addReplay()
	return c.replayProven
}

func (c *checker) replayAdds() (agree wordSet, exact, proven bool) {
	if c.log.FirstBit%32 != 0 || c.log.Layout.WordBits == 0 {
		return nil, false, false
	}
	counts := map[uint64]int{}
	unknown := map[uint64]bool{} // u32 word indices from the log base
	for p, n := range c.want.Written {
		counts[p] += n
	}
	for p, n := range c.want.Allowed {
		if n == 0 {
			unknown[p/32] = true
			continue
		}
		counts[p] += n
	}
	sim := SimulateAdd(c.log.Before, c.log.Layout, c.log.FirstBit, counts)
	ors := SimulateOr(c.log.Before, c.log.Layout, c.log.FirstBit, counts)
	base := int(c.log.FirstBit / 8)
	agree = make(wordSet, max(0, (len(sim)-base)/4))
	exact = true
	for off := base; off+4 <= len(sim) && off+4 <= len(c.log.After); off += 4 {
		j := uint64(off-base) / 4
		if unknown[j] {
			continue
		}
		if string(sim[off:off+4]) == string(c.log.After[off:off+4]) {
			agree[j] = true
			// Where the replay differs from ORs, the adds showed
			// themselves.
			if string(sim[off:off+4]) != string(ors[off:off+4]) {
				proven = true
			}
		} else {
			exact = false
		}
	}
	return agree, exact, exact && proven
}

// explainedByAdds folds what the add replay explains and the per-page
// rules did not into one carry finding.
func (c *checker) explainedByAdds() []Finding {
	agree, exact := c.addReplay()
	if !exact {
		return nil
	}
	fb := c.log.FirstBit
	var bits []uint64
	for _, m := range []map[uint64]bool{c.missing, c.stray, c.lost} {
		for _, b := range sorted(m) {
			if b >= fb && agree.has((b-fb)/32) {
				bits = append(bits, b)
				delete(m, b)
			}
		}
	}
	if len(bits) == 0 {
		return nil
	}
	sort.Slice(bits, func(i, j int) bool { return bits[i] < bits[j] })
	return []Finding{{
		Kind:   Carry,
		Detail: fmt.Sprintf("carry: %d more bit(s) wrong where pages were logged repeatedly: %s", len(bits), c.list(bits)),
		Pages:  c.pages(bits),
		Cause:  "replaying every log call as an add on u32 words reproduces these words exactly",
		Words:  c.words(bits),
	}}
}

// rest reports what no mechanism explained.
func (c *checker) rest() []Finding {
	var out []Finding
	if m := sorted(c.missing); len(m) > 0 {
		out = append(out, Finding{Kind: Missing,
			Detail: fmt.Sprintf("missing: %d written page(s) have no bit: %s", len(m), c.list(m)),
			Pages:  c.pages(m), Words: c.words(m)})
	}
	if s := sorted(c.stray); len(s) > 0 {
		out = append(out, Finding{Kind: Stray,
			Detail: fmt.Sprintf("stray: %d bit(s) set that nobody wrote: %s", len(s), c.list(s)),
			Pages:  c.pages(s), Words: c.words(s)})
	}
	if l := sorted(c.lost); len(l) > 0 {
		out = append(out, Finding{Kind: PresetLost,
			Detail: fmt.Sprintf("preset-lost: %d bit(s) set before the run were cleared: %s", len(l), c.list(l)),
			Pages:  c.pages(l), Words: c.words(l)})
	}
	return out
}

// list names the first few bits as pages.
func (c *checker) list(bits []uint64) string {
	var s []string
	for i, b := range bits {
		if i == maxShown {
			s = append(s, fmt.Sprintf("... (%d more)", len(bits)-maxShown))
			break
		}
		s = append(s, c.page(b))
	}
	return strings.Join(s, ", ")
}

// pages converts absolute bits inside the log to page numbers, bounded.
func (c *checker) pages(bits []uint64) []uint64 {
	var p []uint64
	for _, b := range bits {
		if b >= c.log.FirstBit && b < c.log.FirstBit+c.log.Pages && len(p) < maxPages {
			p = append(p, b-c.log.FirstBit+c.log.PageBase)
		}
	}
	return p
}

// words gives the evidence for the words holding bits: before, after,
// and what they should hold.
func (c *checker) words(bits []uint64) []Word {
	l := c.log.Layout
	seen := map[int]bool{}
	var idx []int
	for _, b := range bits {
		i := int(b / uint64(l.WordBits))
		if !seen[i] && i < Words(c.log.After, l) && i < Words(c.log.Before, l) {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	if len(idx) > maxWords {
		idx = idx[:maxWords]
	}
	var out []Word
	for _, i := range idx {
		out = append(out, Word{Index: i, Before: WordAt(c.log.Before, l, i), After: WordAt(c.log.After, l, i), Want: c.wantWord(i)})
	}
	return out
}

// wantWord is word i as it should be: before, plus written and required
// pages, plus allowed pages as they are.
func (c *checker) wantWord(i int) uint64 {
	l := c.log.Layout
	w := WordAt(c.log.Before, l, i)
	lo := uint64(i * l.WordBits)
	for k := uint64(0); k < uint64(l.WordBits); k++ {
		b := lo + k
		if b < c.log.FirstBit || b >= c.log.FirstBit+c.log.Pages {
			continue
		}
		p := b - c.log.FirstBit
		_, wr := c.want.Written[p]
		_, al := c.want.Allowed[p]
		if wr || c.want.Required[p] || (al && c.after.has(b)) {
			w |= 1 << k
		}
	}
	return w
}
