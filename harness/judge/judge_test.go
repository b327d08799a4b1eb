package judge

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/report"
	"dirtygate/vmm/record"
)

func captured(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func judged(in Input) *report.Report {
	r := &report.Report{}
	if in.VM != nil {
		in.VM.Timeout = 120 * time.Second
	}
	Judge(r, in)
	r.Decide()
	return r
}

func TestJudgeCapturedRuns(t *testing.T) {
	base := captured(t, "../../vmm/record/testdata/console-x86_64-baseline.txt")
	if r := judged(Input{Console: base}); r.Verdict != report.Pass || len(r.Scenarios) != 14 || r.Agent == nil {
		t.Fatalf("baseline: %s %q, %d scenarios", r.Verdict, r.Error, len(r.Scenarios))
	}
	rfc := captured(t, "../../vmm/record/testdata/console-x86_64-rfc-v2.txt")
	if r := judged(Input{Console: rfc}); r.Verdict != report.Fail {
		t.Fatalf("rfc-v2: %s %q", r.Verdict, r.Error)
	}
}

func TestJudgeCouldNotDecide(t *testing.T) {
	base := captured(t, "../../vmm/record/testdata/console-x86_64-baseline.txt")
	cut := base[:bytes.Index(base, []byte("DGR1 9 "))]
	for name, tc := range map[string]struct {
		in    Input
		want  string
		stage report.Stage
	}{
		"lost output": {Input{Console: cut, VM: &VM{}}, "incomplete", report.StageTransport},
		"timeout":     {Input{Console: cut, VM: &VM{TimedOut: true}}, "did not end within 2m0s", report.StageBoot},
		"panic":       {Input{Console: captured(t, "../console/testdata/panic-x86_64.txt"), VM: &VM{}}, "kernel crashed", report.StageBoot},
		"nothing":     {Input{VM: &VM{Stderr: []byte("qemu: could not load kernel")}}, "QEMU said: qemu: could not load kernel", report.StageBoot},
	} {
		r := judged(tc.in)
		if r.Verdict != report.Error || !strings.Contains(r.Error, tc.want) {
			t.Errorf("%s: verdict %s, error %q, want error with %q", name, r.Verdict, r.Error, tc.want)
		}
		if r.Cause == nil || r.Cause.Stage != tc.stage {
			t.Errorf("%s: cause %+v, want stage %s", name, r.Cause, tc.stage)
		}
	}
}

// A VM stopped after the guest's last word is judged on its records (and
// says it was stopped): complete, they decide; cut, the run cannot.
func TestJudgeStoppedAfterEnd(t *testing.T) {
	base := captured(t, "../../vmm/record/testdata/console-x86_64-baseline.txt")
	r := judged(Input{Console: base, VM: &VM{StoppedAfter: 30 * time.Second}})
	if r.Verdict != report.Pass || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "did not end by itself within 30s") {
		t.Errorf("complete records: %s %q, notes %q; want a pass that says the VM was stopped", r.Verdict, r.Error, r.Problems)
	}
	cut := base[:bytes.Index(base, []byte("DGR1 9 "))]
	if r := judged(Input{Console: cut, VM: &VM{StoppedAfter: 30 * time.Second}}); r.Verdict != report.Error || !strings.Contains(r.Error, "incomplete") {
		t.Errorf("cut records: %s %q; want could not decide", r.Verdict, r.Error)
	}
}

// A warning an arch lists as a boot artifact is reported as one before the
// agent starts, and is a finding after.
func TestJudgeBootArtifact(t *testing.T) {
	base := captured(t, "../../vmm/record/testdata/console-x86_64-baseline.txt")
	warn := []byte("WARNING: CPU: 0 PID: 0 at firmware_quirk+0x4/0x8\n")
	at := bytes.Index(base, []byte("DGR1 0 "))
	before := append(append(append([]byte(nil), base[:at]...), warn...), base[at:]...)
	a := &arches.Arch{Name: "x", Boot: arches.Boot{Artifacts: []arches.BootArtifact{{Match: "at firmware_quirk", Why: "the firmware"}}}}
	if r := judged(Input{Arch: a, Console: before}); r.Verdict != report.Pass || len(r.Artifacts) != 1 {
		t.Errorf("before the agent: verdict %s, artifacts %q", r.Verdict, r.Artifacts)
	}
	after := append(append([]byte(nil), base...), warn...)
	if r := judged(Input{Arch: a, Console: after}); r.Verdict == report.Pass || len(r.Artifacts) != 0 {
		t.Errorf("after the agent: verdict %s, artifacts %q", r.Verdict, r.Artifacts)
	}
}

// A guest whose findings do not match its own evidence is not believed.
func TestCrossCheckCatchesATamperedResult(t *testing.T) {
	rfc := captured(t, "../../vmm/record/testdata/console-x86_64-rfc-v2.txt")
	st, err := record.Parse(rfc)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range st.Records {
		var s record.Scenario
		if rec.Type != record.TypeScenario || rec.Into(&s) != nil || s.Name != "carry" {
			continue
		}
		if msg := CrossCheck(s); msg != "" {
			t.Fatalf("honest record rejected: %s", msg)
		}
		s.Findings, s.Status = nil, record.Pass
		if msg := CrossCheck(s); !strings.Contains(msg, "disagrees") {
			t.Fatalf("tampered record accepted: %q", msg)
		}
		return
	}
	t.Fatal("no carry scenario in the captured console")
}
