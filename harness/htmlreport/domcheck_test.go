package htmlreport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"dirtygate/harness/report"
	"dirtygate/vmm/oracle"
)

// The page is read back the way a browser shows it: sections by id, the
// drawing's cells and moves by their attributes. The same reader checks
// the generated page (fast test) and Chromium's DOM (htmltest).

var (
	tagRe      = regexp.MustCompile(`<(g class="cell"|path class="move")[^>]*>`)
	attrRe     = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	wordBitsRe = regexp.MustCompile(`data-word-bits="(\d+)"`)
)

type domCell struct {
	page      string
	class     string
	exp, got  bool
	bit       uint64
	hasFields bool
}

// move is an arrow: the page it starts at, where it lands, and that bit.
type move struct {
	from, to string
	toBit    uint64
}

type domSection struct {
	wordBits uint64
	cells    []domCell
	moves    []move
}

// readSections splits a page (or a DOM dump) into its sections' drawings.
func readSections(t tb, page string) map[string]domSection {
	out := map[string]domSection{}
	parts := strings.Split(page, `<section id="`)
	for _, p := range parts[1:] {
		id := p[:strings.IndexByte(p, '"')]
		var s domSection
		if m := wordBitsRe.FindStringSubmatch(p); m != nil {
			s.wordBits, _ = strconv.ParseUint(m[1], 10, 64)
		}
		for _, tag := range tagRe.FindAllString(p, -1) {
			a := map[string]string{}
			for _, m := range attrRe.FindAllStringSubmatch(tag, -1) {
				a[m[1]] = m[2]
			}
			if strings.HasPrefix(tag, "<path") {
				to, err := strconv.ParseUint(a["data-to-bit"], 10, 64)
				if err != nil {
					t.Fatalf("section %s: move %s: %v", id, tag, err)
				}
				s.moves = append(s.moves, move{a["data-from"], a["data-to"], to})
				continue
			}
			bit, err := strconv.ParseUint(a["data-bit"], 10, 64)
			if err != nil {
				t.Fatalf("section %s: cell %s: %v", id, tag, err)
			}
			s.cells = append(s.cells, domCell{page: a["data-page"], class: a["data-class"], bit: bit,
				exp: a["data-expected"] == "true", got: a["data-got"] == "true", hasFields: a["data-class"] != ""})
		}
		out[id] = s
	}
	return out
}

// tb is what the checks need of a test, so a test can show they fail.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// kindClass is the cell class a finding of each kind marks its pages with.
var kindClass = map[oracle.Kind]string{oracle.Missing: ClassMissing, oracle.Stray: ClassStray,
	oracle.Carry: ClassCarried, oracle.Misplaced: ClassMisplaced, oracle.PresetLost: ClassPresetLost}

// checkDrawings checks every failing scenario's drawing against its
// findings: each page a finding names is drawn with its class (moves for
// misplaced pages), every marked cell is named by a finding of its kind
// (or lies in a carry's evidence word, or is where a move lands), no cell
// is "differs", and the expected/got halves agree with the evidence. It
// returns how many finding pages it matched.
func checkDrawings(t tb, page string, runs []*report.Report) int {
	t.Helper()
	secs := readSections(t, page)
	matched := 0
	for ri, r := range runs {
		for si, s := range r.Scenarios {
			id := fmt.Sprintf("d%d-%d", ri, si)
			sec, drawn := secs[id]
			if s.Status != "fail" && s.Status != "error" {
				if drawn {
					t.Errorf("%s: %s is %s but has a section", r.Name(), s.Name, s.Status)
				}
				continue
			}
			if !drawn {
				t.Errorf("%s: %s (%s) has no section", r.Name(), s.Name, s.Status)
				continue
			}
			matched += checkSection(t, r.Name()+" "+s.Name, sec, s.Findings, s.Evidence != nil)
		}
	}
	return matched
}

func checkSection(t tb, name string, sec domSection, fs []oracle.Finding, evidence bool) int {
	t.Helper()
	byPage := map[string]domCell{}
	for _, c := range sec.cells {
		if c.page != "" {
			byPage[c.page] = c
		}
	}
	bitmapFindings := false
	named := map[string]map[string]bool{} // class -> pages
	carryWords := map[uint64]bool{}
	matched := 0
	type pageClass struct{ page, class, detail string }
	var pending []pageClass
	for _, f := range fs {
		cl, ok := kindClass[f.Kind]
		if !ok {
			continue
		}
		bitmapFindings = true
		if named[cl] == nil {
			named[cl] = map[string]bool{}
		}
		for _, p := range f.Pages {
			ps := fmt.Sprint(p)
			named[cl][ps] = true
			if _, ok := byPage[ps]; !ok {
				continue // in a row left out (the drawing says how many)
			}
			pending = append(pending, pageClass{ps, cl, f.Detail})
			matched++
		}
		if f.Kind == oracle.Carry {
			for _, w := range f.Words {
				carryWords[uint64(w.Index)] = true
			}
		}
	}
	// A page several findings name (misplaced and carried) is drawn as
	// one of them.
	for _, p := range pending {
		if c := byPage[p.page]; !named[c.class][p.page] {
			t.Errorf("%s: page %s drawn %q, finding %q says %s", name, p.page, c.class, p.detail, p.class)
		}
	}
	if bitmapFindings && evidence && len(sec.cells) == 0 {
		t.Errorf("%s: bitmap findings but no cells drawn", name)
	}
	landed := map[uint64]bool{}
	for _, m := range sec.moves {
		from := strings.TrimPrefix(m.from, "page ")
		if c, ok := byPage[from]; !ok || c.class != ClassMisplaced {
			t.Errorf("%s: a move starts at %q, not a misplaced page", name, m.from)
		}
		landed[m.toBit] = true
	}
	checkCells(t, name, sec, named, carryWords, landed)
	return matched
}

// checkCells: every marked cell is named by a finding of its kind (or lies
// in a carry's evidence word, or is where a move lands), none is
// "differs", and the halves agree with the class.
func checkCells(t tb, name string, sec domSection, named map[string]map[string]bool, carryWords, landed map[uint64]bool) {
	t.Helper()
	for _, c := range sec.cells {
		switch c.class {
		case ClassOK, ClassCanary, ClassAllowed:
			if c.exp != c.got && c.class != ClassAllowed {
				t.Errorf("%s: bit %d drawn %s but expected %v got %v", name, c.bit, c.class, c.exp, c.got)
			}
		case ClassDiffers:
			t.Errorf("%s: bit %d (page %q) is wrong and no finding names it", name, c.bit, c.page)
		case ClassLanded:
			if !landed[c.bit] {
				t.Errorf("%s: page %s drawn as landed, no move ends there", name, c.page)
			}
		case ClassCarried:
			if !named[ClassCarried][c.page] && !carryWords[c.bit/sec.wordBits] {
				t.Errorf("%s: bit %d (page %s) drawn as carried, no carry finding names it or its word", name, c.bit, c.page)
			}
		case ClassMissing, ClassMisplaced, ClassPresetLost, ClassStray:
			if c.page != "" && !named[c.class][c.page] {
				t.Errorf("%s: page %s drawn as %s, no such finding names it", name, c.page, c.class)
			}
		}
		if (c.class == ClassMissing || c.class == ClassMisplaced) && (!c.exp || c.got) {
			t.Errorf("%s: page %s is %s but expected %v got %v", name, c.page, c.class, c.exp, c.got)
		}
		if (c.class == ClassStray || c.class == ClassLanded) && !c.got {
			t.Errorf("%s: page %s is %s but its bit is clear", name, c.page, c.class)
		}
	}
}
