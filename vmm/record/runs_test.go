package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand"
	"testing"

	"dirtygate/vmm/oracle"
)

// Any bitmap comes back from its runs as it was: repeats shorter than,
// as long as and longer than minRun, at either end, alone, and none.
func TestRunsRoundTrip(t *testing.T) {
	cases := []string{"", "55", "5555", "555555", "55555555", "5555555500", "0055555555", "a1b2c3", "00000000a1"}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		var b []byte
		for len(b) < rng.Intn(64) {
			c := byte(rng.Intn(3)) * 0x55 // few values: many repeats
			for n := rng.Intn(2 * minRun); n >= 0; n-- {
				b = append(b, c)
			}
		}
		cases = append(cases, hex.EncodeToString(b))
	}
	for _, h := range cases {
		b, _ := hex.DecodeString(h)
		r := bitmapRuns(b)
		back, err := runsHex(r)
		if err != nil || back != h {
			t.Fatalf("%q -> runs %q -> %q, %v", h, r, back, err)
		}
	}
	b := append(append(bytes.Repeat([]byte{0x55}, 1000), 1, 2), make([]byte, 7)...)
	if r := bitmapRuns(b); r != "1000*55,0102,7*00" {
		t.Errorf("runs %q", r)
	}
}

// Malformed runs are refused, as is a count that would expand past the
// bound: the host never guesses a bitmap.
func TestRunsRefused(t *testing.T) {
	for _, r := range []string{",", "55,", ",55", "5", "5g", "AB", "3*55", "04*55", "+4*55", "-4*55", "4*5", "4*555", "4*GG",
		"4*55*55", "4*", "*55", "99999999999*55", "40000000*55"} {
		if h, err := runsHex(r); err == nil {
			t.Errorf("runs %q accepted as %q", r, h)
		}
	}
	var ev Evidence
	if err := json.Unmarshal([]byte(`{"before":"55","before_runs":"4*55","after_runs":""}`), &ev); err == nil {
		t.Error("evidence with both before and before_runs accepted")
	}
	if err := json.Unmarshal([]byte(`{"before_runs":"3*55"}`), &ev); err == nil {
		t.Error("evidence with a malformed run accepted")
	}
}

// Real evidence (a captured x86_64 run) goes as runs, a small fraction of
// its hex, and reads back the same (TestResentCapturedRecords sends it
// through a Writer and Parse).
func TestCapturedEvidenceAsRuns(t *testing.T) {
	hexBytes, wireBytes, n := 0, 0, 0
	for _, s := range capturedScenarios(t) {
		if s.Evidence == nil {
			continue
		}
		n++
		asHex, _ := json.Marshal(s)
		asWire, _ := json.Marshal(s.wire())
		var keys struct{ Evidence map[string]any }
		json.Unmarshal(asWire, &keys)
		if _, runs := keys.Evidence["before_runs"]; !runs || keys.Evidence["before"] != nil || keys.Evidence["after"] != nil {
			t.Fatalf("%s: the wire form's evidence is not runs: %v", s.Name, keys.Evidence)
		}
		var back Scenario
		if err := json.Unmarshal(asWire, &back); err != nil || back.Evidence.Before != s.Evidence.Before || back.Evidence.After != s.Evidence.After {
			t.Fatalf("%s: runs did not read back: %v", s.Name, err)
		}
		// NewEvidence's runs, made from the bitmaps, are those of the hex.
		l, e, err := s.Evidence.Oracle()
		if err != nil {
			t.Fatal(err)
		}
		fresh := s
		fresh.Evidence = NewEvidence(l, e)
		if fromBitmaps, _ := json.Marshal(fresh.wire()); string(fromBitmaps) != string(asWire) {
			t.Fatalf("%s: runs from the bitmaps\n%.400s\ndiffer from those of the hex\n%.400s", s.Name, fromBitmaps, asWire)
		}
		hexBytes += len(asHex)
		wireBytes += len(asWire)
	}
	if n < 10 || wireBytes*10 > hexBytes {
		t.Errorf("%d scenarios: %d bytes of JSON as hex, %d as runs", n, hexBytes, wireBytes)
	}
	t.Logf("%d scenarios: %d bytes of JSON as hex, %d as runs", n, hexBytes, wireBytes)
}

// Whatever runsHex accepts is canonical hex whose bitmap bitmapRuns writes
// back to runs reading the same.
func FuzzRuns(f *testing.F) {
	for _, s := range []string{"", "4*55", "1000*55,0102,7*00", "a1b2", "5*00,ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, r string) {
		h, err := runsHex(r)
		if err != nil {
			return
		}
		b, err := hex.DecodeString(h)
		if err != nil || hex.EncodeToString(b) != h {
			t.Fatalf("%q -> non-canonical hex %q", r, h)
		}
		if again, err := runsHex(bitmapRuns(b)); err != nil || again != h {
			t.Fatalf("%q -> %q -> runs %q -> %q, %v", r, h, bitmapRuns(b), again, err)
		}
	})
}

// Evidence edited after NewEvidence (a control mutating its copy, say) is
// sent as it is now, not as the runs NewEvidence made.
func TestEditedEvidenceSentAsItIs(t *testing.T) {
	before := bytes.Repeat([]byte{0x55}, 64)
	after := append([]byte(nil), before...)
	after[9] = 0x57
	ev := NewEvidence(oracle.Log{Layout: oracle.Layout{WordBits: 64}, Before: before, After: after, Pages: 512}, oracle.Expect{Written: map[uint64]int{73: 1}})
	after[9] = 0x55
	ev.After = hex.EncodeToString(after) // the stray bit edited out
	st, err := Parse(stream(t, Scenario{Name: "edited", Status: Pass, Evidence: ev}))
	if err != nil {
		t.Fatal(err)
	}
	var got Scenario
	if err := st.Records[1].Into(&got); err != nil || got.Evidence.After != ev.After {
		t.Fatalf("sent %+v, %v; want After %s", got.Evidence, err, ev.After)
	}
}
