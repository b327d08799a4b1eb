package oracle_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Consoles captured from real runs: the agent booted on Debian's 6.1.192
// x86_64 and s390x tinyconfig kernels, without and with the rfc-v2 patch
// (the -6.1-inject- ones with --inject and today's canaried log ranges).
// Each scenario record carries its bitmap, judged here again.
func replay(t *testing.T, file string) map[string][]oracle.Finding {
	t.Helper()
	out := map[string][]oracle.Finding{}
	for _, c := range captured(t, "../record/testdata/"+file) {
		// The guest's own findings came from the oracle of its day; the
		// live host cross-check compares same-version oracles, this
		// fixture checks today's oracle against the bitmaps.
		out[c.scenario] = oracle.Check(c.log, c.want)
	}
	return out
}

// capture is one scenario record's bitmap and expectation.
type capture struct {
	file, scenario string
	log            oracle.Log
	want           oracle.Expect
}

// captured reads the scenario records that carry evidence in files.
func captured(t testing.TB, files ...string) []capture {
	t.Helper()
	var out []capture
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		st, err := record.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range st.Records {
			if r.Type != record.TypeScenario {
				continue
			}
			var s record.Scenario
			if err := r.Into(&s); err != nil {
				t.Fatal(err)
			}
			if s.Evidence == nil {
				continue
			}
			l, e, err := s.Evidence.Oracle()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, capture{filepath.Base(file), s.Name, l, e})
		}
	}
	return out
}

// allCaptured is every captured console's records.
func allCaptured(t testing.TB) []capture {
	files, err := filepath.Glob("../record/testdata/console-*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured consoles: %v", err)
	}
	return captured(t, files...)
}

func TestCapturedBaselineIsClean(t *testing.T) {
	for _, file := range []string{"console-x86_64-baseline.txt", "console-s390x-baseline.txt"} {
		res := replay(t, file)
		if len(res) < 10 {
			t.Fatalf("%s: only %d scenarios with evidence", file, len(res))
		}
		for name, f := range res {
			if len(f) != 0 {
				t.Errorf("%s %s: %+v", file, name, f)
			}
		}
	}
}

// On big-endian 64-bit s390x the seed's u32 words put every page at
// page XOR 32 of where a reader of unsigned longs looks.
func TestCapturedRFCv2BigEndian(t *testing.T) {
	res := replay(t, "console-s390x-rfc-v2.txt")
	for _, name := range []string{"rx-spread", "bit-position", "jumbo", "misaligned-4"} {
		if len(res[name]) != 1 || res[name][0].Kind != oracle.Misplaced || !strings.Contains(res[name][0].Detail, "XOR 32") {
			t.Errorf("%s: want one XOR-32 misplacement, got %+v", name, res[name])
		}
	}
	var kinds []string
	for _, f := range res["carry"] {
		kinds = append(kinds, string(f.Kind))
	}
	if !strings.Contains(strings.Join(kinds, ","), "carry") {
		t.Errorf("carry: no carry finding in %v", kinds)
	}
}

func TestCapturedRFCv2Carries(t *testing.T) {
	res := replay(t, "console-x86_64-rfc-v2.txt")
	for _, name := range []string{"carry", "preset", "used-ring"} {
		var kinds []string
		for _, f := range res[name] {
			kinds = append(kinds, string(f.Kind))
		}
		if !strings.Contains(strings.Join(kinds, ","), "carry") {
			t.Errorf("%s: no carry finding in %v", name, kinds)
		}
	}
	for _, name := range []string{"rx-spread", "bit-position", "misaligned-4", "jumbo"} {
		if len(res[name]) != 0 {
			t.Errorf("%s: each page logged once, yet %+v", name, res[name])
		}
	}
}

// With u32 words established on BE64, carries are named per page at the
// positions the kernel used.
func TestCapturedBigEndianCarryPerPage(t *testing.T) {
	res := replay(t, "console-s390x-rfc-v2.txt")
	var all []string
	for _, f := range res["carry"] {
		all = append(all, f.Detail)
	}
	j := strings.Join(all, "\n")
	for _, want := range []string{"carry: page 291 logged 3 times, bit set, page 292's bit (read as page 260) set too", "carry left the 32-bit word"} {
		if !strings.Contains(j, want) {
			t.Errorf("no %q in\n%s", want, j)
		}
	}
}

// setBits is the reference the checker's bit sets (and Bits, built on
// them) are held to: raw's whole words read bit by bit with TestBit.
func setBits(raw []byte, l oracle.Layout) map[uint64]bool {
	out := map[uint64]bool{}
	for b := uint64(0); b < uint64(oracle.Words(raw, l)*l.WordBits); b++ {
		if oracle.TestBit(raw, l, b) {
			out[b] = true
		}
	}
	return out
}

// The checker reads bits through the raw logs (no map of every set bit):
// on every captured log, and on it shortened to end inside a word, it
// must see exactly the bits a bit-by-bit read finds.
func TestBitSetsAgreeWithBits(t *testing.T) {
	for _, c := range allCaptured(t) {
		l := c.log
		after := setBits(l.After, l.Layout)
		if got, want := oracle.Bits(l.After, l.Layout), sortedBits(after, nil); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s %s: Bits = %v, bit by bit %v", c.file, c.scenario, got, want)
		}
		for _, cut := range []int{0, 3} {
			before := l.Before[:max(0, len(l.Before)-cut)]
			inBefore := setBits(before, l.Layout)
			if got, want := oracle.BitsWithout(l.After, before, l.Layout), sortedBits(after, inBefore); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s (before cut by %d): after without before = %v, bit by bit %v", c.file, c.scenario, cut, got, want)
			}
			for b := uint64(0); b < uint64(len(before)+8)*8; b++ {
				if oracle.HasBit(before, l.Layout, b) != inBefore[b] {
					t.Fatalf("%s %s (cut by %d): bit %d: has %v, bit by bit %v", c.file, c.scenario, cut, b, !inBefore[b], inBefore[b])
				}
			}
		}
	}
}

// sortedBits lists the bits of a not in b, in order.
func sortedBits(a, b map[uint64]bool) []uint64 {
	var out []uint64
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// BenchmarkCheck judges every captured log once per iteration; the agent
// runs the oracle twice a scenario (the log and its negative control),
// under TCG where it was once the largest part of a scenario's time.
func BenchmarkCheck(b *testing.B) {
	cs := allCaptured(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cs {
			oracle.Check(c.log, c.want)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cs)), "ns/check")
}
