package htmlreport

import (
	"fmt"
	"sort"
	"strings"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Cell classes: what a bit of the checked range shows. The oracle's
// findings decide the marked ones; the rest is the decoded bitmap.
const (
	ClassOK         = "ok"          // as expected (set or clear)
	ClassAllowed    = "allowed"     // may be set (used-ring pages), is
	ClassMissing    = "missing"     // a missing finding names it
	ClassStray      = "stray"       // a stray finding names it, or a canary bit set that was clear
	ClassCarried    = "carried"     // a carry finding names it or its word
	ClassMisplaced  = "misplaced"   // a misplaced finding's page: its bit moved away
	ClassLanded     = "landed"      // where a misplaced page's bit landed
	ClassPresetLost = "preset-lost" // a pre-set bit (or canary) cleared
	ClassDiffers    = "differs"     // wrong, but no finding's page list names it (lists are bounded)
	ClassCanary     = "canary"      // a canary bit, intact
)

// Cell is one bit of the checked range: a page of the log, or a canary.
type Cell struct {
	Bit      uint64 // from the start of the range, set_bit numbering
	Page     uint64 // valid when InLog
	InLog    bool
	Expected bool // set before, or written, or required
	Allowed  bool // may be set either way
	Got      bool
	Class    string
	Why      string // the finding that marked it, for the hover text
}

// Arrow is a misplaced page's move, from its bit to where it landed.
type Arrow struct {
	From, To uint64 // bits
	Name     string // "page XOR 32"
}

// Drawing is the model of one scenario's log picture: rows are the
// target's unsigned longs; runs of rows with nothing to see are gaps.
type Drawing struct {
	Layout   oracle.Layout
	Rows     []Row
	Arrows   []Arrow
	Window   bool // PageBase != 0: the range is a window of a larger log
	PageBase uint64
	FirstBit uint64 // the log's first page's bit; below it and past Pages, canaries
	Pages    uint64
	Hidden   int // rows with something to see that were left out (cap)
}

// Row is one word, or a gap of words not drawn.
type Row struct {
	Word  int // index from the start of the range
	Gap   int // > 0: this many words not drawn, Cells empty
	Cells []Cell
}

// maxRows bounds a drawing; interesting rows past it are counted in Hidden.
const maxRows = 40

// NewDrawing decodes a scenario's evidence with the oracle's layout and
// marks the cells its findings name.
func NewDrawing(s record.Scenario) (*Drawing, error) {
	if s.Evidence == nil {
		return nil, fmt.Errorf("%s: no bitmap evidence", s.Name)
	}
	log, want, err := s.Evidence.Oracle()
	if err != nil {
		return nil, fmt.Errorf("%s: evidence: %v", s.Name, err)
	}
	if log.WordBits != 32 && log.WordBits != 64 {
		return nil, fmt.Errorf("%s: word size %d", s.Name, log.WordBits)
	}
	d := &Drawing{Layout: log.Layout, Window: log.PageBase != 0, PageBase: log.PageBase, FirstBit: log.FirstBit, Pages: log.Pages}
	n := uint64(8*len(log.After)) / uint64(log.WordBits) * uint64(log.WordBits)
	cells := make([]Cell, n)
	for b := uint64(0); b < n; b++ {
		c := &cells[b]
		c.Bit, c.Got = b, oracle.TestBit(log.After, log.Layout, b)
		c.Expected = oracle.TestBit(log.Before, log.Layout, b)
		if b >= log.FirstBit && b < log.FirstBit+log.Pages {
			c.InLog, c.Page = true, b-log.FirstBit+log.PageBase
			_, wr := want.Written[c.Page]
			_, al := want.Allowed[c.Page]
			c.Expected = c.Expected || wr || want.Required[c.Page]
			c.Allowed = al && !c.Expected
		}
	}
	d.mark(cells, log, s.Findings)
	d.rows(cells, log)
	return d, nil
}

// mark applies the findings to the cells, then classes what is left from
// the bitmap alone.
func (d *Drawing) mark(cells []Cell, log oracle.Log, fs []oracle.Finding) {
	// set marks bit b; a page several findings name (a misplaced page
	// that was also logged repeatedly and carried) keeps the first class
	// and names every finding on hover.
	set := func(b uint64, class, why string, named bool) {
		if b >= uint64(len(cells)) {
			return
		}
		if len(why) > 120 { // the hover names the finding; the list above has it whole
			why = why[:117] + "..."
		}
		c := &cells[b]
		switch {
		case c.Class == "":
			c.Class, c.Why = class, why
		case named && !strings.Contains(c.Why, why):
			c.Why += "; also " + why
		}
	}
	inLog := func(p uint64) (uint64, bool) {
		b := log.BitOf(p)
		return b, p >= log.PageBase && b < uint64(len(cells))
	}
	for _, f := range fs {
		name, move, ok := oracle.MoveOf(f)
		if !ok {
			continue
		}
		for _, p := range f.Pages {
			if b, ok := inLog(p); ok {
				set(b, ClassMisplaced, f.Detail, true)
				set(move(b), ClassLanded, f.Detail, true)
				d.Arrows = append(d.Arrows, Arrow{From: b, To: move(b), Name: name})
			}
		}
	}
	byKind := map[oracle.Kind]string{oracle.Carry: ClassCarried, oracle.Missing: ClassMissing,
		oracle.Stray: ClassStray, oracle.PresetLost: ClassPresetLost}
	for _, f := range fs {
		class, ok := byKind[f.Kind]
		if !ok {
			continue
		}
		for _, p := range f.Pages {
			if b, ok := inLog(p); ok {
				set(b, class, f.Detail, true)
			}
		}
	}
	for _, f := range fs {
		if f.Kind != oracle.Carry {
			continue
		}
		// A carry's evidence words: every other bit that differs from
		// what the word should hold is the carry's doing (the next page's
		// bit, or the one that left the word).
		for _, w := range f.Words {
			for k := 0; k < log.WordBits; k++ {
				if (w.After^w.Want)>>k&1 != 0 {
					set(uint64(w.Index*log.WordBits+k), ClassCarried, f.Detail, false)
				}
			}
		}
	}
	residual(cells)
}

// residual classes the cells no finding named, from the bitmap alone.
func residual(cells []Cell) {
	for i := range cells {
		c := &cells[i]
		if c.Class != "" {
			continue
		}
		switch {
		case c.Got == c.Expected || (c.Allowed && c.Got):
			c.Class = map[bool]string{true: ClassAllowed, false: ClassOK}[c.Allowed && c.Got]
			if !c.InLog {
				c.Class = ClassCanary
			}
		case !c.InLog && c.Got:
			c.Class, c.Why = ClassStray, "a bit outside the log that was clear is set"
		case !c.InLog:
			c.Class, c.Why = ClassPresetLost, "a canary bit was cleared"
		default:
			c.Class, c.Why = ClassDiffers, "not among the pages the findings list (each names at most 64)"
		}
	}
}

// interesting reports whether a cell is worth drawing its row for.
func interesting(c Cell) bool {
	return c.Class != ClassOK && c.Class != ClassCanary || (c.InLog && (c.Got || c.Expected))
}

// rows keeps the words with something to see, the canary words next to
// the log and the range's last word; the rest become gaps.
func (d *Drawing) rows(cells []Cell, log oracle.Log) {
	wb := uint64(log.WordBits)
	nw := len(cells) / log.WordBits
	// The canary words next to the log and the last word, which the
	// trailing guard page follows.
	keep := map[int]bool{nw - 1: true, int((log.FirstBit + log.Pages) / wb): true}
	if log.FirstBit > 0 {
		keep[int((log.FirstBit-1)/wb)] = true
	}
	var extra []int
	for w := 0; w < nw; w++ {
		if keep[w] {
			continue
		}
		for _, c := range cells[w*log.WordBits : (w+1)*log.WordBits] {
			if interesting(c) {
				extra = append(extra, w)
				break
			}
		}
	}
	if room := maxRows - len(keep); len(extra) > room {
		d.Hidden, extra = len(extra)-room, extra[:max(room, 0)]
	}
	for _, w := range extra {
		keep[w] = true
	}
	var ws []int
	for w := range keep {
		if w >= 0 && w < nw {
			ws = append(ws, w)
		}
	}
	sort.Ints(ws)
	next := 0
	for _, w := range ws {
		if w > next {
			d.Rows = append(d.Rows, Row{Word: next, Gap: w - next})
		}
		d.Rows = append(d.Rows, Row{Word: w, Cells: cells[w*log.WordBits : (w+1)*log.WordBits]})
		next = w + 1
	}
	if next < nw {
		d.Rows = append(d.Rows, Row{Word: next, Gap: nw - next})
	}
}

// Cells lists the drawn cells.
func (d *Drawing) Cells() []Cell {
	var out []Cell
	for _, r := range d.Rows {
		out = append(out, r.Cells...)
	}
	return out
}
