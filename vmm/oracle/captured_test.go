package oracle_test

import (
	"os"
	"strings"
	"testing"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Consoles captured from real runs: the agent booted on Debian's 6.1.192
// x86_64 and s390x tinyconfig kernels, without and with the rfc-v2 patch. Each
// scenario record carries its bitmap, judged here again.
func replay(t *testing.T, file string) map[string][]oracle.Finding {
	t.Helper()
	b, err := os.ReadFile("../record/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := record.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]oracle.Finding{}
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
		// The guest's own findings came from the oracle of its day; the
		// live host cross-check compares same-version oracles, this
		// fixture checks today's oracle against the bitmaps.
		got := oracle.Check(l, e)
		out[s.Name] = got
	}
	return out
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
