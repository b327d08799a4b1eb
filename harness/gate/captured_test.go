package gate

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"dirtygate/harness/report"
	"dirtygate/kernels"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Reports captured from real runs (`dirtygate gate --inject --arch x86_64
// --candidate rfc-v2 --base-json ... --json ...` on Debian's 6.1.192 under
// QEMU), gzipped. Each test edits a fresh copy the way a kernel would
// differ, so the cases are real outcomes with one thing changed.
func captured(t *testing.T, name string) *report.Report {
	t.Helper()
	f, err := os.Open("testdata/" + name + ".json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	var rs []*report.Report
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 1 {
		t.Fatalf("%s: %v (%d reports)", name, err, len(rs))
	}
	rs[0].Decide()
	return rs[0]
}

func scenarioOf(t *testing.T, r *report.Report, name string) *record.Scenario {
	t.Helper()
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i]
		}
	}
	t.Fatalf("%s: no scenario %s", r.Name(), name)
	return nil
}

func rowOf(t *testing.T, res Result, name string) Row {
	t.Helper()
	for _, r := range res.Rows {
		if r.Scenario == name {
			return r
		}
	}
	t.Fatalf("no row for %s in %+v", name, res.Rows)
	return Row{}
}

// The same kernel twice: nothing changed, exit 0, and the baseline's own
// failure reads "still fails".
func TestCapturedIdentical(t *testing.T) {
	res := Compare([]*report.Report{captured(t, "x86_64-6.1-base")}, []*report.Report{captured(t, "x86_64-6.1-base")})
	if res.ExitCode() != 0 || res.Regressions != 0 {
		t.Fatalf("identical runs: exit %d, %+v", res.ExitCode(), res.Undecided)
	}
	if r := rowOf(t, res, "iotlb-used-split"); r.Change != StillFails {
		t.Fatalf("iotlb-used-split: %s", r.Change)
	}
}

// fail -> fail with one more missing page is a regression naming it; the
// other way round it improved.
func TestCapturedWorseKnownFailure(t *testing.T) {
	base, cand := captured(t, "x86_64-6.1-base"), captured(t, "x86_64-6.1-base")
	s := scenarioOf(t, cand, "iotlb-used-split")
	s.Findings = append(s.Findings, oracle.Finding{Kind: oracle.Missing, Detail: "missing: 1 written page(s) have no bit: page 258", Pages: []uint64{258}})
	res := Compare([]*report.Report{base}, []*report.Report{cand})
	r := rowOf(t, res, "iotlb-used-split")
	if res.ExitCode() != 1 || r.Change != Regression || !slices.Contains(r.New, "missing page 258") {
		t.Fatalf("exit %d, %s, new %v", res.ExitCode(), r.Change, r.New)
	}
	res = Compare([]*report.Report{cand}, []*report.Report{base})
	if r := rowOf(t, res, "iotlb-used-split"); res.ExitCode() != 0 || r.Change != Improved {
		t.Fatalf("the other way: exit %d, %s", res.ExitCode(), r.Change)
	}
}

// A new kind of finding in a scenario that already failed is new.
func TestCapturedNewKindInFailingScenario(t *testing.T) {
	base, cand := captured(t, "x86_64-6.1-base"), captured(t, "x86_64-6.1-base")
	s := scenarioOf(t, cand, "iotlb-used-split")
	s.Findings = append(s.Findings, oracle.Finding{Kind: oracle.Stray, Detail: "stray: 2 bit(s) set that nobody wrote: page 2, page 3", Pages: []uint64{2, 3}})
	res := Compare([]*report.Report{base}, []*report.Report{cand})
	if r := rowOf(t, res, "iotlb-used-split"); r.Change != Regression || !slices.Contains(r.New, "stray page 2") {
		t.Fatalf("%s, new %v", r.Change, r.New)
	}
}

// A splat the base did not print is a regression, whether the base was
// clean or already splatted (sparc32's Bad page map).
func TestCapturedNewSplat(t *testing.T) {
	base, cand := captured(t, "x86_64-6.1-base"), captured(t, "x86_64-6.1-base")
	cand.AddSplat("WARNING: CPU: 0 PID: 61 at drivers/vhost/vhost.c:1916 log_write+0x5e/0x120", "quote")
	cand.Decide()
	res := Compare([]*report.Report{base}, []*report.Report{cand})
	if r := rowOf(t, res, report.KernelHealth); res.ExitCode() != 1 || r.Change != Regression {
		t.Fatalf("clean base: exit %d, %s", res.ExitCode(), r.Change)
	}
	for _, r := range []*report.Report{base, cand} {
		r.Arch = "sparc32"
		r.AddSplat("BUG: Bad page map in process init  pte:0x1a2b3c4d pmd:0x0040a001", "quote")
		r.Decide()
	}
	res = Compare([]*report.Report{base}, []*report.Report{cand})
	r := rowOf(t, res, report.KernelHealth)
	if res.ExitCode() != 1 || r.Change != Regression || len(r.New) != 1 || !strings.HasPrefix(r.New[0], "splat: WARNING") {
		t.Fatalf("base with a splat of its own: exit %d, %s, new %v", res.ExitCode(), r.Change, r.New)
	}
	// The same splat with other addresses is the same.
	cand2 := captured(t, "x86_64-6.1-base")
	cand2.Arch = "sparc32"
	cand2.AddSplat("BUG: Bad page map in process init  pte:0x55aa55aa pmd:0x0040b001", "quote")
	cand2.Decide()
	if res := Compare([]*report.Report{base}, []*report.Report{cand2}); res.ExitCode() != 0 {
		t.Fatalf("the same splat at other addresses: exit %d, %+v", res.ExitCode(), rowOf(t, res, report.KernelHealth))
	}
}

// The seed patch against the baseline: regressions, each naming what the
// base did not have; compare finds the same rows as the gate's own run.
func TestCapturedSeedRejected(t *testing.T) {
	res := Compare([]*report.Report{captured(t, "x86_64-6.1-base")}, []*report.Report{captured(t, "x86_64-6.1-rfc-v2")})
	if res.ExitCode() != 1 {
		t.Fatalf("exit %d", res.ExitCode())
	}
	for _, name := range []string{"carry", "misaligned-1", "inject-enosys"} {
		if r := rowOf(t, res, name); r.Change != Regression || len(r.New) == 0 {
			t.Errorf("%s: %s, new %v", name, r.Change, r.New)
		}
	}
}

// Noisy scenarios are compared by finding kind: other pages are noise.
func TestCapturedNoisyPagesAreNotNew(t *testing.T) {
	base, cand := captured(t, "x86_64-6.1-rfc-v2"), captured(t, "x86_64-6.1-rfc-v2")
	s := scenarioOf(t, cand, "harvest")
	if s.Status != record.Fail || len(s.Findings) == 0 {
		t.Skipf("harvest did not fail in the capture: %s", s.Status)
	}
	s.Findings[0].Pages = append(s.Findings[0].Pages, 4242)
	s.Findings[0].Detail = strings.Replace(s.Findings[0].Detail, ": ", ": 1 more, ", 1)
	res := Compare([]*report.Report{base}, []*report.Report{cand})
	if r := rowOf(t, res, "harvest"); r.Change != StillFails {
		t.Fatalf("harvest with other pages: %s %v", r.Change, r.New)
	}
	kind := oracle.Resurrected
	if slices.Contains(scenarioKinds(s), string(kind)) {
		kind = oracle.PresetLost
	}
	s.Findings = append(s.Findings, oracle.Finding{Kind: kind, Detail: string(kind) + ": 1 bit"})
	res = Compare([]*report.Report{base}, []*report.Report{cand})
	if r := rowOf(t, res, "harvest"); r.Change != Regression {
		t.Fatalf("harvest with a new kind: %s", r.Change)
	}
}

func scenarioKinds(s *record.Scenario) []string {
	var k []string
	for _, f := range s.Findings {
		k = append(k, string(f.Kind))
	}
	return k
}

// A classified scenario that still passes but with a worse class (the
// kernel now loses the protected page's bits silently where it reported
// them) is a regression.
func TestCapturedWorseClass(t *testing.T) {
	base, cand := captured(t, "x86_64-6.1-base"), captured(t, "x86_64-6.1-base")
	scenarioOf(t, base, "log-readonly").Class = record.ClassReported
	scenarioOf(t, cand, "log-readonly").Class = record.ClassSilentLoss
	res := Compare([]*report.Report{base}, []*report.Report{cand})
	if r := rowOf(t, res, "log-readonly"); res.ExitCode() != 1 || r.Change != Regression {
		t.Fatalf("exit %d, %s", res.ExitCode(), r.Change)
	}
	res = Compare([]*report.Report{cand}, []*report.Report{base})
	if res.ExitCode() != 0 {
		t.Fatalf("a better class: exit %d", res.ExitCode())
	}
}

// The baseline's iotlb-used-split is 6.1's known failure; with one more
// page missing it is not.
func TestCapturedKnownFailure(t *testing.T) {
	known, err := kernels.KnownFailures("6.1")
	if err != nil || len(known) == 0 {
		t.Fatalf("6.1's known failures: %v", err)
	}
	r := captured(t, "x86_64-6.1-base")
	MarkKnown(r, known)
	if s := scenarioOf(t, r, "iotlb-used-split"); s.Known == "" || !r.OnlyKnown || r.ExitCode() != report.ExitKnown {
		t.Fatalf("known %q, only known %v, exit %d", s.Known, r.OnlyKnown, r.ExitCode())
	}
	s := scenarioOf(t, r, "iotlb-used-split")
	s.Findings[0].Pages = append(s.Findings[0].Pages, 258)
	MarkKnown(r, known)
	if s.Known != "" || r.OnlyKnown || r.ExitCode() != 1 {
		t.Fatalf("a changed signature stayed known: %q, exit %d", s.Known, r.ExitCode())
	}
}
