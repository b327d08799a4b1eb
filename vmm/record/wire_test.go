package record

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"testing"
)

// kernelLine is real printk output seen on the console of a 6.1 guest.
const kernelLine = "[    1.234567] tun: Universal TUN/TAP device driver, 1.6\r\n"

func stream(t testing.TB, bodies ...any) []byte {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Send(TypeHello, Hello{Agent: "test", WordBits: 64}); err != nil {
		t.Fatal(err)
	}
	for _, x := range bodies {
		if err := w.Send(TypeScenario, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Send(TypeFinal, Final{Records: w.Count(), Scenarios: len(bodies)}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	st, err := Parse(stream(t, Scenario{Name: "a", Status: Pass}, Scenario{Name: "b", Status: Fail}))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 4 || st.Final == nil || st.Final.Scenarios != 2 || len(st.Problems) != 0 {
		t.Fatalf("got %+v", st)
	}
	var s Scenario
	if err := st.Records[2].Into(&s); err != nil || s.Name != "b" || s.Status != Fail {
		t.Fatalf("record 2: %+v %v", s, err)
	}
}

// A kernel message inserted at any byte of one copy is recovered from the
// other copy and noted as a problem.
func TestKernelMessageAtEveryPosition(t *testing.T) {
	frames, _ := Encode(0, TypeHello, Hello{Agent: "x"})
	fr := string(frames[0])
	fin, _ := Encode(1, TypeFinal, Final{Records: 1})
	for i := 1; i < len(fr)-1; i++ {
		torn := fr[:i] + kernelLine + fr[i:]
		console := "boot\n" + torn + fr + string(fin[0]) + string(fin[0])
		st, err := Parse([]byte(console))
		if err != nil {
			t.Fatalf("position %d: %v", i, err)
		}
		if len(st.Records) != 2 {
			t.Fatalf("position %d: %d records", i, len(st.Records))
		}
	}
}

func TestBothCopiesTorn(t *testing.T) {
	frames, _ := Encode(0, TypeHello, Hello{Agent: "x"})
	fr := string(frames[0])
	fin, _ := Encode(1, TypeFinal, Final{Records: 1})
	torn := fr[:20] + kernelLine + fr[20:]
	_, err := Parse([]byte(torn + torn + string(fin[0])))
	if err == nil || !strings.Contains(err.Error(), "record 0 lost") {
		t.Fatalf("err = %v, want record 0 lost", err)
	}
}

func TestLostRecordIsAGap(t *testing.T) {
	full := stream(t, Scenario{Name: "a"}, Scenario{Name: "b"})
	var keep []string
	for _, l := range strings.Split(string(full), "\n") {
		if !strings.HasPrefix(l, "DGR1 2 ") {
			keep = append(keep, l)
		}
	}
	_, err := Parse([]byte(strings.Join(keep, "\n")))
	if err == nil || !strings.Contains(err.Error(), "record 2 lost") {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingFinal(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Send(TypeHello, Hello{})
	w.Send(TypeScenario, Scenario{Name: "a"})
	_, err := Parse(b.Bytes())
	if err == nil || !strings.Contains(err.Error(), "no final record") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse([]byte("Kernel panic - not syncing: Attempted to kill init!\n")); err == nil {
		t.Fatal("a console with no records parsed without error")
	}
}

func TestFinalCountMismatch(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Send(TypeHello, Hello{})
	w.Send(TypeFinal, Final{Records: 5})
	if _, err := Parse(b.Bytes()); err == nil || !strings.Contains(err.Error(), "counts 5") {
		t.Fatalf("err = %v", err)
	}
}

func TestDisagreeingCopies(t *testing.T) {
	a, _ := Encode(0, TypeHello, Hello{Agent: "a"})
	b, _ := Encode(0, TypeHello, Hello{Agent: "b"})
	fin, _ := Encode(1, TypeFinal, Final{Records: 1})
	_, err := Parse([]byte(string(a[0]) + string(b[0]) + string(fin[0])))
	if err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("err = %v", err)
	}
}

func TestRecordsAfterFinal(t *testing.T) {
	s := stream(t)
	extra, _ := Encode(2, TypeScenario, Scenario{Name: "late"})
	if _, err := Parse(append(s, extra[0]...)); err == nil || !strings.Contains(err.Error(), "after the final") {
		t.Fatalf("err = %v", err)
	}
}

func TestCRLFAndFragments(t *testing.T) {
	// Random text: deflate cannot shrink it below 30 frames.
	rnd := make([]byte, 15600)
	rand.New(rand.NewSource(1)).Read(rnd)
	big := Scenario{Name: "big", Notes: []string{base64.StdEncoding.EncodeToString(rnd)}}
	s := stream(t, big)
	if n := bytes.Count(s, []byte("DGR1 1 ")); n < 2*30 {
		t.Fatalf("a 20 KB body made only %d frames", n)
	}
	crlf := bytes.ReplaceAll(s, []byte("\n"), []byte("\r\n"))
	st, err := Parse(crlf)
	if err != nil {
		t.Fatal(err)
	}
	var got Scenario
	if err := st.Records[1].Into(&got); err != nil || got.Notes[0] != big.Notes[0] {
		t.Fatalf("fragmented body did not survive: %v", err)
	}
	// Drop one fragment in both copies.
	var keep []string
	for _, l := range strings.Split(string(s), "\n") {
		if !strings.HasPrefix(l, "DGR1 1 7/") {
			keep = append(keep, l)
		}
	}
	if _, err := Parse([]byte(strings.Join(keep, "\n"))); err == nil || !strings.Contains(err.Error(), "fragment 7") {
		t.Fatalf("err = %v", err)
	}
}

// A scenario record of more than compressAbove bytes is sent deflated in
// a few frames and comes back as it was; small records stay plain. The
// bitmap here has no repeats (a real one is mostly the canary byte 0x55
// and goes as a few runs, TestResentCapturedRecords), so its 32 KB of hex
// make the record big.
func TestDeflatedBitmaps(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	noRepeats := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Intn(255))
			if i > 0 && b[i] >= b[i-1] {
				b[i]++ // never the byte before it
			}
		}
		return fmt.Sprintf("%x", b)
	}
	ev := &Evidence{WordBits: 64, Pages: 1 << 17, Before: noRepeats(1 << 14), After: noRepeats(1 << 14)}
	s := stream(t, Scenario{Name: "big", Status: Pass, Evidence: ev})
	if n := bytes.Count(s, []byte("DGR1 1 ")); n < 2*2 {
		t.Errorf("a record of 64 KB of hex made %d frames", n)
	}
	if !bytes.Contains(s, []byte(" scenario+deflate ")) || bytes.Contains(s, []byte(" hello+deflate ")) {
		t.Errorf("want the scenario deflated and the hello plain:\n%s", s)
	}
	st, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	var got Scenario
	if err := st.Records[1].Into(&got); err != nil || st.Records[1].Type != TypeScenario || got.Evidence.After != ev.After || got.Evidence.Before != ev.Before {
		t.Fatalf("record 1: type %q, %v", st.Records[1].Type, err)
	}
}

// A deflated frame that inflates past maxInflated is refused, not read.
func TestDeflateBombRefused(t *testing.T) {
	var z bytes.Buffer
	zw, _ := flate.NewWriter(&z, flate.BestCompression)
	zw.Write([]byte(`"`)) // valid JSON but for its size: one long string
	zw.Write(bytes.Repeat([]byte("a"), maxInflated))
	zw.Write([]byte(`"`))
	zw.Close()
	part := base64.StdEncoding.EncodeToString(z.Bytes())
	var console strings.Builder
	n := (len(part) + maxPayload - 1) / maxPayload
	for i := 0; i < n; i++ {
		p := part[i*maxPayload : min(len(part), (i+1)*maxPayload)]
		head := fmt.Sprintf("0 %d/%d hello+deflate", i, n)
		fmt.Fprintf(&console, "\nDGR1 %s %08x %s\n", head, crc32.ChecksumIEEE([]byte(head+" "+p)), p)
	}
	if _, err := Parse([]byte(console.String())); err == nil || !strings.Contains(err.Error(), "does not decode") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(stream(f, Scenario{Name: "a", Status: Pass}))
	f.Add([]byte("DGR1 0 0/1 hello 00000000 e30=\n"))
	frames, _ := Encode(0, TypeHello, Hello{})
	f.Add(append([]byte(kernelLine), frames[0]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses cleanly is a contiguous, complete, final-terminated
		// stream whose records re-encode to frames the parser accepts.
		if st.Final == nil || st.Final.Records != len(st.Records)-1 {
			t.Fatalf("accepted a stream without a matching final record: %+v", st)
		}
		for i, r := range st.Records {
			if r.Seq != i {
				t.Fatalf("record %d has seq %d", i, r.Seq)
			}
			fr, err := Encode(r.Seq, r.Type, r.Body)
			if err != nil {
				t.Fatalf("re-encode %d: %v", i, err)
			}
			for _, x := range fr {
				if _, ok := parseFrame(strings.Trim(string(x), "\n")); !ok {
					t.Fatalf("re-encoded frame does not verify: %q", x)
				}
			}
		}
	})
}

// Real consoles: kernel messages interleave with the frames.
func TestCapturedConsoles(t *testing.T) {
	for _, f := range []string{"console-x86_64-baseline.txt", "console-x86_64-rfc-v2.txt", "console-s390x-baseline.txt", "console-s390x-rfc-v2.txt"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		st, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st.Final == nil || st.Final.Scenarios != 14 || len(st.Records) != 16 {
			t.Fatalf("%s: %d records, final %+v", f, len(st.Records), st.Final)
		}
		// Cut the console just before the final record: that is a run
		// that could not decide.
		i := bytes.Index(b, []byte("DGR1 15 "))
		if _, err := Parse(b[:bytes.LastIndex(b[:i-1], []byte("\n"))]); err == nil {
			t.Fatalf("%s: truncated console parsed without error", f)
		}
	}
}

// The scenario records of a real x86_64 run, sent again through one
// Writer (so its pooled deflaters are reused, each on another record),
// come back as they were; with OmitEvidence, as they were but for their
// evidence, and the other records untouched.
func TestResentCapturedRecords(t *testing.T) {
	orig := capturedScenarios(t)
	withEvidence := 0
	for _, s := range orig {
		if s.Evidence != nil {
			withEvidence++
		}
	}
	if withEvidence < 10 {
		t.Fatalf("the capture has %d scenarios with evidence", withEvidence)
	}
	for _, omit := range []bool{false, true} {
		var out bytes.Buffer
		w := NewWriter(&out)
		if omit {
			w.OmitEvidence()
		}
		w.Send(TypeHello, Hello{Agent: "test", WordBits: 64})
		for _, s := range orig {
			if err := w.Send(TypeScenario, s); err != nil {
				t.Fatal(err)
			}
		}
		w.Send(TypeFinal, Final{Records: w.Count(), Scenarios: len(orig)})
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("omit %v: %v", omit, err)
		}
		var h Hello
		if err := again.Records[0].Into(&h); err != nil || h.Agent != "test" {
			t.Errorf("omit %v: hello %+v %v", omit, h, err)
		}
		for i, r := range again.Records[1 : len(again.Records)-1] {
			var s Scenario
			if err := r.Into(&s); err != nil {
				t.Fatal(err)
			}
			want := orig[i]
			if omit {
				want.Evidence = nil
			}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("omit %v: scenario %s came back as\n%+v\nwant\n%+v", omit, want.Name, s, want)
			}
		}
	}
}

// capturedScenarios are the scenario records of a real x86_64 run (6.1,
// --inject, the baseline), as the host reads them.
func capturedScenarios(t *testing.T) []Scenario {
	t.Helper()
	b, err := os.ReadFile("testdata/console-x86_64-6.1-inject-baseline.txt")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var out []Scenario
	for _, r := range st.Records {
		if r.Type == TypeScenario {
			var s Scenario
			if err := r.Into(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
	}
	return out
}
