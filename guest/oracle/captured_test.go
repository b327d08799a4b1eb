package oracle_test

import (
	"os"
	"strings"
	"testing"

	"dirtygate/guest/oracle"
	"dirtygate/guest/record"
)

// Consoles captured from real runs: the agent booted on Debian's 6.1.192
// x86_64 tinyconfig kernel, without and with the rfc-v2 patch. Each
// scenario record carries its bitmap; the oracle must judge them again
// exactly as the guest did.
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
		got := oracle.Check(l, e)
		var guestBitmap []oracle.Finding
		for _, f := range s.Findings {
			if f.Kind != oracle.ABI && f.Kind != oracle.EventFD {
				guestBitmap = append(guestBitmap, f)
			}
		}
		if len(got) != len(guestBitmap) {
			t.Errorf("%s/%s: host oracle found %d, guest %d", file, s.Name, len(got), len(guestBitmap))
		}
		out[s.Name] = got
	}
	return out
}

func TestCapturedBaselineIsClean(t *testing.T) {
	res := replay(t, "console-x86_64-baseline.txt")
	if len(res) < 10 {
		t.Fatalf("only %d scenarios with evidence", len(res))
	}
	for name, f := range res {
		if len(f) != 0 {
			t.Errorf("%s: %+v", name, f)
		}
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
