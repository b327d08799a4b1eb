package htmlreport

import (
	"fmt"
	"html"
	"strings"
)

// Geometry of a drawing, in pixels.
const (
	cellW  = 12
	pitch  = 14 // cellW plus the space between cells
	halfH  = 8  // the expected half above, the got half below
	rowH   = 44 // room above each row for the arcs of its moves
	gapH   = 18
	bandH  = 16
	labelW = 230
)

// classStyle is how each class is drawn: the got half's fill when set,
// and the cell's outline. Shared by the cells and the legend.
var classStyle = map[string]struct{ fill, stroke, what string }{
	ClassOK:         {"#444", "#999", "as expected"},
	ClassAllowed:    {"#2a9d8f", "#999", "allowed (used ring) and set"},
	ClassMissing:    {"#fff", "#d62728", "missing: written, no bit"},
	ClassStray:      {"#ff7f0e", "#ff7f0e", "stray: set, nobody wrote it"},
	ClassCarried:    {"#9467bd", "#9467bd", "carried: an add, not an or"},
	ClassMisplaced:  {"#fff", "#1f77b4", "misplaced: the bit moved away"},
	ClassLanded:     {"#1f77b4", "#1f77b4", "landed: where the moved bit went"},
	ClassPresetLost: {"#fff", "#8c564b", "preset lost: a pre-set bit cleared"},
	ClassDiffers:    {"#e377c2", "#e377c2", "wrong, not named by a finding's page list"},
	ClassCanary:     {"#bbb", "#bbb", "canary bit (intact)"},
}

// SVG renders the drawing; id prefixes the arrowhead marker's id so
// several drawings can share a page.
func (d *Drawing) SVG(id string) string {
	wb := d.Layout.WordBits
	width := labelW + wb*pitch + 10
	var b strings.Builder
	y := bandH + 4
	body := &strings.Builder{}
	lead, leadWhat := d.leadBand()
	d.band(body, 2, width, lead, leadWhat)
	pos := map[uint64][2]int{} // bit -> x, y of the cell's top left
	for _, r := range d.Rows {
		if r.Gap > 0 {
			fmt.Fprintf(body, `<text class="gap" x="%d" y="%d">⋮ %d word(s) not drawn</text>`+"\n", labelW, y+12, r.Gap)
			y += gapH
			continue
		}
		y0 := y + rowH - 2*halfH - 2
		fmt.Fprintf(body, `<text class="lbl" x="4" y="%d">%s</text>`+"\n", y0+2*halfH-2, html.EscapeString(d.rowLabel(r)))
		for i, c := range r.Cells {
			x := labelW + i*pitch
			pos[c.Bit] = [2]int{x, y0}
			d.cell(body, c, x, y0)
		}
		y += rowH
	}
	d.band(body, y+6, width, "guard page", "guard page (PROT_NONE): the checked range ends at it, so a write past the canary faults")
	y += bandH + 10
	for _, a := range d.Arrows {
		f, ok1 := pos[a.From]
		t, ok2 := pos[a.To]
		if !ok1 || !ok2 {
			continue
		}
		x1, x2 := f[0]+cellW/2, t[0]+cellW/2
		path := fmt.Sprintf("M%d %d Q%d %d %d %d", x1, f[1], (x1+x2)/2, f[1]-24, x2, t[1]-1)
		if f[1] != t[1] {
			path = fmt.Sprintf("M%d %d L%d %d", x1, f[1]+halfH, x2, t[1]+halfH)
		}
		fmt.Fprintf(body, `<path class="move" d="%s" marker-end="url(#%s-head)" data-from="%s" data-to="%s" data-to-bit="%d"><title>%s</title></path>`+"\n",
			path, id, d.bitName(a.From), d.bitName(a.To), a.To, html.EscapeString(d.bitName(a.From)+" -> "+d.bitName(a.To)+" ("+a.Name+")"))
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="log" width="%d" height="%d" viewBox="0 0 %d %d" data-word-bits="%d">`+"\n", width, y, width, y, wb)
	b.WriteString(`<style>.cell>rect{stroke:#aaa;stroke-width:.6}.cell>.m{fill:none;stroke-width:2}</style>`)
	fmt.Fprintf(&b, `<defs><marker id="%s-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#1f77b4"/></marker>`, id)
	b.WriteString(`<pattern id="` + id + `-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="3"/></pattern></defs>` + "\n")
	b.WriteString(strings.ReplaceAll(body.String(), "url(#hatch)", "url(#"+id+"-hatch)"))
	b.WriteString("</svg>\n")
	return b.String()
}

// leadBand says what lies before the range.
func (d *Drawing) leadBand() (string, string) {
	if d.Window {
		return "log not read", fmt.Sprintf("the log's pages below %d: not read (the range is a window of a log too large to read whole)", d.PageBase)
	}
	return "guard page", "guard page (PROT_NONE): the checked range begins right after it (vmm/scenario/rig.go), canaries up to the log"
}

// band draws what lies outside the range (a guard page, the unread part
// of a log); label is its short name, what the hover text.
func (d *Drawing) band(b *strings.Builder, y, width int, label, what string) {
	fmt.Fprintf(b, `<g class="band"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" fill="url(#hatch)" stroke="#999"/><text class="lbl" x="4" y="%d">%s</text></g>`+"\n",
		html.EscapeString(what), labelW, y, width-labelW-10, bandH-4, y+bandH-6, html.EscapeString(label))
}

// cell draws one bit: the expected half above, the got half below.
func (d *Drawing) cell(b *strings.Builder, c Cell, x, y int) {
	st := classStyle[c.Class]
	exp, got := "#fff", "#fff"
	if c.Expected {
		exp = "#444"
		if !c.InLog {
			exp = "#bbb"
		}
	} else if c.Allowed {
		exp = "#cfe"
	}
	if c.Got {
		got = st.fill
		if got == "#fff" {
			got = "#444"
		}
	}
	fmt.Fprintf(b, `<g class="cell" transform="translate(%d %d)" data-bit="%d"%s data-class="%s" data-expected="%t" data-got="%t"><title>%s</title>`,
		x, y, c.Bit, d.pageAttr(c), c.Class, c.Expected, c.Got, html.EscapeString(d.hover(c)))
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="%s"/><rect y="%d" width="%d" height="%d" fill="%s"/>`,
		cellW, halfH, exp, halfH, cellW, halfH, got)
	if c.Class != ClassOK && c.Class != ClassCanary && c.Class != ClassAllowed {
		// The mark: an outline in the class's colour.
		fmt.Fprintf(b, `<rect class="m" width="%d" height="%d" style="stroke:%s"/>`, cellW, 2*halfH, st.stroke)
	}
	b.WriteString("</g>\n")
}

func (d *Drawing) pageAttr(c Cell) string {
	if !c.InLog {
		return "" // a canary
	}
	return fmt.Sprintf(` data-page="%d"`, c.Page)
}

// bitName names a bit as the oracle does: a page, or a canary position.
func (d *Drawing) bitName(bit uint64) string {
	for _, r := range d.Rows {
		for _, c := range r.Cells {
			if c.Bit == bit {
				return d.cellName(c)
			}
		}
	}
	return fmt.Sprintf("bit %d", bit)
}

func onOff(v bool) string {
	if v {
		return "set"
	}
	return "clear"
}

// cellName names a cell as the oracle names bits: a page, or a canary
// bit before the log or past its last page.
func (d *Drawing) cellName(c Cell) string {
	switch {
	case c.InLog:
		return fmt.Sprintf("page %d", c.Page)
	case c.Bit < d.FirstBit:
		return fmt.Sprintf("canary: bit %d before the log", d.FirstBit-c.Bit)
	}
	return fmt.Sprintf("canary: bit %d past the last page", c.Bit-(d.FirstBit+d.Pages))
}

// hover is the cell's <title>: its page, expected vs got, and why it is marked.
func (d *Drawing) hover(c Cell) string {
	s := d.cellName(c)
	exp := onOff(c.Expected)
	if c.Allowed {
		exp = "may be set"
	}
	s += fmt.Sprintf(": expected %s, got %s; %s", exp, onOff(c.Got), classStyle[c.Class].what)
	if c.Why != "" {
		s += " — " + c.Why
	}
	return s
}

func (d *Drawing) rowLabel(r Row) string {
	var first, last *Cell
	for i := range r.Cells {
		if r.Cells[i].InLog {
			if first == nil {
				first = &r.Cells[i]
			}
			last = &r.Cells[i]
		}
	}
	switch {
	case first == nil:
		return fmt.Sprintf("word %d: canary", r.Word)
	case first.Page == last.Page:
		return fmt.Sprintf("word %d: page %d", r.Word, first.Page)
	}
	return fmt.Sprintf("word %d: pages %d-%d", r.Word, first.Page, last.Page)
}

// Legend draws every class, the two halves, the moves and the guard page.
func Legend() string {
	var b strings.Builder
	order := []string{ClassOK, ClassAllowed, ClassMissing, ClassStray, ClassCarried, ClassMisplaced, ClassLanded, ClassPresetLost, ClassDiffers, ClassCanary}
	h := 22*(len(order)+3) + 4
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="640" height="%d">`+"\n", h)
	b.WriteString(`<defs><marker id="legend-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#1f77b4"/></marker>`)
	b.WriteString(`<pattern id="legend-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="3"/></pattern></defs>` + "\n")
	y := 4
	b.WriteString(`<rect x="4" y="4" width="11" height="7" fill="#444"/><rect x="4" y="11" width="11" height="7" fill="#fff" stroke="#999"/>`)
	fmt.Fprintf(&b, `<text x="24" y="%d">each cell is a page: upper half expected, lower half got (dark: set)</text>`+"\n", y+12)
	y += 22
	for _, cl := range order {
		st := classStyle[cl]
		fill := st.fill
		fmt.Fprintf(&b, `<g class="key" data-class="%s"><rect x="4" y="%d" width="11" height="14" fill="%s" stroke="%s" stroke-width="2"/><text x="24" y="%d">%s</text></g>`+"\n",
			cl, y, fill, st.stroke, y+12, html.EscapeString(st.what))
		y += 22
	}
	fmt.Fprintf(&b, `<path d="M4 %d Q40 %d 76 %d" stroke="#1f77b4" fill="none" marker-end="url(#legend-head)"/><text x="90" y="%d">a misplaced page's move (page XOR 32, XOR 24, XOR 56)</text>`+"\n", y+14, y-2, y+14, y+12)
	y += 22
	fmt.Fprintf(&b, `<rect x="4" y="%d" width="72" height="12" fill="url(#legend-hatch)" stroke="#999"/><text x="90" y="%d">guard page (PROT_NONE) or a part of the log not read</text>`+"\n", y, y+11)
	b.WriteString("</svg>\n")
	return b.String()
}
