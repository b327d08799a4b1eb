package htmlreport

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"dirtygate/harness/gate"
	"dirtygate/harness/report"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// captured is a real rfc-v2 s390x run (dirtygate run --arch s390x --patch
// rfc-v2 --json, 6.1.192 under QEMU 7.2), trimmed (skipped scenarios keep
// no evidence, local paths dropped) and gzipped: regions' log is 128 KiB
// of mostly zeros.
const captured = "testdata/s390x-rfc-v2.json.gz"

func loadReport(t *testing.T, path string) *report.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if in, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	var r report.Report
	if err := json.NewDecoder(in).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func render(t *testing.T, p Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDrawingsMatchTheFindings(t *testing.T) {
	r := loadReport(t, captured)
	page := render(t, Page{Runs: []*report.Report{r}})
	n := checkDrawings(t, page, []*report.Report{r})
	if n < 100 {
		t.Errorf("only %d finding pages matched to drawn cells; the captured run names hundreds", n)
	}
	secs := readSections(t, page)
	moves := 0
	for _, s := range secs {
		moves += len(s.moves)
	}
	if moves == 0 {
		t.Error("no XOR-32 move drawn for a big-endian s390x rfc-v2 run")
	}
	for _, bad := range []string{"<script", "src=", "http://", "https://", "@import"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.Contains(page[max(0, i-30):i+40], "www.w3.org/2000/svg") {
			t.Errorf("the page is not self-contained: %q at %d: %s", bad, i, page[max(0, i-40):i+40])
		}
	}
	if !strings.Contains(page, "<title>page ") {
		t.Error("no cell is named on hover")
	}
}

// recorder collects what the checks report, to show they can fail.
type recorder struct{ errs []string }

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...) }
func (r *recorder) failed(sub string) bool {
	for _, e := range r.errs {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

func TestTheCheckCatchesAWrongDrawing(t *testing.T) {
	r := loadReport(t, captured)
	page := render(t, Page{Runs: []*report.Report{r}})
	for _, c := range []struct{ from, to, want string }{
		{`data-class="misplaced" data-expected`, `data-class="ok" data-expected`, "finding"},
		{`data-class="landed" data-expected`, `data-class="stray" data-expected`, "no such finding names it"},
		{`data-class="ok" data-expected="true" data-got="true"`, `data-class="differs" data-expected="true" data-got="true"`, "no finding names it"},
		{`<section id="d0-0"`, `<section id="x"`, "has no section"},
	} {
		if !strings.Contains(page, c.from) {
			t.Fatalf("the page has no %s", c.from)
		}
		rec := &recorder{}
		checkDrawings(rec, strings.Replace(page, c.from, c.to, 1), []*report.Report{r})
		if !rec.failed(c.want) {
			t.Errorf("%s -> %s: the check did not fail with %q: %v", c.from, c.to, c.want, rec.errs)
		}
	}
}

func TestGateChangesInTheMatrix(t *testing.T) {
	cand := loadReport(t, captured)
	base := &report.Report{Arch: cand.Arch, Kernel: cand.Kernel, Patches: []string{}, Verdict: report.Pass}
	for _, s := range cand.Scenarios {
		s.Status, s.Findings, s.Evidence = "pass", nil, nil
		base.Scenarios = append(base.Scenarios, s)
	}
	res := gate.Compare([]*report.Report{base}, []*report.Report{cand})
	page := render(t, Page{Runs: []*report.Report{cand}, Gate: &res})
	if res.Regressions == 0 || strings.Count(page, `class="chg REGRESSION"`) != res.Regressions {
		t.Errorf("%d regressions, the matrix marks %d", res.Regressions, strings.Count(page, `class="chg REGRESSION"`))
	}
	if !strings.Contains(page, "gate: REJECT") {
		t.Error("no gate verdict on the page")
	}
}

// A byte-wise misplacement on a 32-bit big-endian host (page XOR 24, as
// the vhost-user formula would put bits on hppa or mips) is drawn as
// arrows too: the drawing takes the move from the oracle's finding.
func TestXOR24MovesAreDrawn(t *testing.T) {
	l := oracle.Layout{WordBits: 32, BigEndian: true}
	before, after := make([]byte, 16), make([]byte, 16)
	written := map[uint64]int{}
	for _, p := range []uint64{3, 9, 40} {
		written[p] = 1
		oracle.PutBit(after, l, 32+p^24) // first bit 32: a one-word canary before the log
	}
	ev := &record.Evidence{WordBits: 32, BigEndian: true, FirstBit: 32, Pages: 64,
		Before: hex.EncodeToString(before), After: hex.EncodeToString(after), Written: written}
	lg, e, err := ev.Oracle()
	if err != nil {
		t.Fatal(err)
	}
	s := record.Scenario{Name: "bit-position", Status: "fail", Evidence: ev, Findings: oracle.Check(lg, e)}
	if len(s.Findings) != 1 || s.Findings[0].Kind != oracle.Misplaced {
		t.Fatalf("findings %+v", s.Findings)
	}
	r := &report.Report{Arch: "hppa", Patches: []string{"x"}, Verdict: "fail", Scenarios: []record.Scenario{s}}
	page := render(t, Page{Runs: []*report.Report{r}})
	checkDrawings(t, page, []*report.Report{r})
	moves := readSections(t, page)["d0-0"].moves
	if len(moves) != 3 || moves[0].from != "page 3" || !strings.Contains(page, "(page XOR 24)") {
		t.Errorf("moves %+v, want 3 from page 3 and XOR 24", moves)
	}
}
