package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Report
		want record.Status
		code int
	}{
		{"all pass", Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Pass}}}, Pass, 0},
		{"a finding", Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Pass}, {Name: "b", Status: record.Fail}}}, Fail, 1},
		{"a scenario could not decide", Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Fail}, {Name: "b", Status: record.Error, Error: "x"}}}, Error, 2},
		{"run error beats passes", Report{Error: "boot timeout", Scenarios: []record.Scenario{{Name: "a", Status: record.Pass}}}, Error, 2},
		{"nothing ran", Report{}, Error, 2},
		{"everything skipped", Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Skip}, {Name: "b", Status: record.Skip}}}, Error, 2},
		{"skips and a pass", Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Skip}, {Name: "b", Status: record.Pass}}}, Pass, 0},
		{"only a splat decided", Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Skip}, {Name: KernelHealth, Status: record.Fail}}}, Fail, 1},
	} {
		tc.r.Decide()
		if tc.r.Verdict != tc.want || ExitCode(tc.r.Verdict) != tc.code {
			t.Errorf("%s: verdict %s (%d), want %s (%d)", tc.name, tc.r.Verdict, ExitCode(tc.r.Verdict), tc.want, tc.code)
		}
	}
}

// A run-level error set after Decide saw a scenario error stays: the run
// is undecided as a whole, not scenario by scenario.
func TestRunErrorAfterScenarioError(t *testing.T) {
	r := Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Pass}, {Name: "b", Status: record.Error, Error: "x"}}}
	r.Decide()
	if !r.ScenarioUndecided {
		t.Fatalf("%+v", r)
	}
	r.Error = "the VM did not end within 4m0s"
	r.Decide()
	if r.Verdict != Error || r.ScenarioUndecided || r.Error != "the VM did not end within 4m0s" {
		t.Fatalf("the run-level error was lost: %+v", r)
	}
}

func TestOnlyKnownFailures(t *testing.T) {
	r := Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Pass}, {Name: "b", Status: record.Fail, Known: "the source's own bug"}}}
	r.Decide()
	if r.Verdict != Fail || !r.OnlyKnown || r.ExitCode() != ExitKnown {
		t.Fatalf("verdict %s, only known %v, exit %d", r.Verdict, r.OnlyKnown, r.ExitCode())
	}
	r.Scenarios = append(r.Scenarios, record.Scenario{Name: "c", Status: record.Fail})
	r.Decide()
	if r.OnlyKnown || r.ExitCode() != 1 {
		t.Fatalf("a new failure beside a known one: only known %v, exit %d", r.OnlyKnown, r.ExitCode())
	}
}

func TestSplatFailsRun(t *testing.T) {
	r := Report{Scenarios: []record.Scenario{{Name: "a", Status: record.Pass}}}
	r.AddSplat("WARNING: CPU: 1 PID: 57 at drivers/vhost/vhost.c:1903", "quote")
	r.Decide()
	if r.Verdict != Fail || r.Scenarios[1].Name != KernelHealth || r.Scenarios[1].Findings[0].Kind != oracle.Splat {
		t.Fatalf("%+v", r)
	}
}

func TestJSONAndText(t *testing.T) {
	r := Report{Arch: "x86_64", Patches: []string{"rfc-v2"}, Kernel: Kernel{Source: "debian", Version: "6.1.192"},
		Scenarios:  []record.Scenario{{Name: "carry", Status: record.Fail, Findings: []oracle.Finding{{Kind: oracle.Carry, Detail: "carry: page 291 logged 3 times, bit set, page 292 set too"}}}},
		ConsoleLog: "/tmp/c.log", QEMUCmdline: "qemu-system-x86_64 -M q35"}
	r.Decide()
	b, _ := json.Marshal(r)
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"arch", "kernel", "patches", "verdict", "scenarios", "timings", "emulation_note"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	sc := m["scenarios"].([]any)[0].(map[string]any)
	f := sc["findings"].([]any)[0].(map[string]any)
	if sc["status"] != "fail" || f["kind"] != "carry" || f["detail"] == "" {
		t.Errorf("scenario JSON: %v", sc)
	}
	var out bytes.Buffer
	r.WriteText(&out)
	for _, s := range []string{"carry  ", "fail", "verdict: FAIL", "console log: /tmp/c.log", "reproduce: qemu-system-x86_64"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, out.String())
		}
	}
}

func TestMatrix(t *testing.T) {
	a := &Report{Arch: "x86_64", Patches: []string{}, Scenarios: []record.Scenario{{Name: "carry", Status: "pass"}, {Name: "jumbo", Status: "pass"}}}
	b := &Report{Arch: "s390x", Patches: []string{"rfc-v2"}, Error: "boot timeout", Scenarios: []record.Scenario{{Name: "carry", Status: "fail"}}}
	a.Decide()
	b.Decide()
	var out bytes.Buffer
	WriteMatrix(&out, []*Report{a, b})
	got := out.String()
	for _, s := range []string{"SCENARIO  x86_64 baseline  s390x rfc-v2", "carry     ok               FAIL", "jumbo     ok               -", "VERDICT   PASS             ERROR", "s390x rfc-v2 could not decide: boot timeout"} {
		if !strings.Contains(got, s) {
			t.Errorf("matrix lacks %q:\n%s", s, got)
		}
	}
}

func TestJUnitLoads(t *testing.T) {
	a := &Report{Arch: "x86_64", Patches: []string{"rfc-v2"}, Scenarios: []record.Scenario{
		{Name: "carry", Status: "fail", Findings: []oracle.Finding{{Kind: oracle.Carry, Detail: "carry: page 291 logged 3 times, bit set, page 292 set too"}}},
		{Name: "jumbo", Status: "pass"},
		{Name: "used-ring", Status: "error", Error: "vhost used 3 of 300 buffers"},
	}}
	b := &Report{Arch: "s390x", Patches: []string{}, Error: "the VM did not end within 3m0s"}
	a.Decide()
	b.Decide()
	var out bytes.Buffer
	if err := WriteJUnit(&out, []*Report{a, b}); err != nil {
		t.Fatal(err)
	}
	// Read it back as a JUnit consumer would.
	var got struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(got.Suites) != 2 || got.Suites[0].Tests != 3 || got.Suites[0].Failures != 1 || got.Suites[0].Errors != 1 ||
		got.Suites[1].Errors != 1 || got.Suites[0].Cases[0].Failure == nil ||
		!strings.Contains(got.Suites[0].Cases[0].Failure.Message, "page 291") {
		t.Fatalf("%+v\n%s", got, out.String())
	}
}

func TestMarkdown(t *testing.T) {
	a := &Report{Arch: "x86_64", Patches: []string{"rfc-v2"}, EmulationNote: "QEMU does not model caches",
		Scenarios: []record.Scenario{{Name: "carry", Status: "fail", Findings: []oracle.Finding{{Kind: oracle.Carry, Detail: "carry: a | b"}}}}}
	a.Decide()
	var out bytes.Buffer
	WriteMarkdown(&out, []*Report{a})
	for _, s := range []string{"| scenario | x86_64 rfc-v2 |", "|---|:---:|", "| carry | ❌ |", "| **verdict** | **fail** |", "- `carry` carry: a \\| b", "> QEMU does not model caches"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, out.String())
		}
	}
}

// The kernel axis: every rendering names the kernel when the run has one.
func TestNamesTheKernel(t *testing.T) {
	rs := []*Report{
		{Arch: "x86_64", Kernel: Kernel{Name: "6.1"}, Patches: []string{}, Verdict: Fail},
		{Arch: "x86_64", Kernel: Kernel{Name: "6.12"}, Patches: []string{"rfc-v2"}, Verdict: Pass},
	}
	var m, j, k, md strings.Builder
	WriteMatrix(&m, rs)
	WriteJUnit(&j, rs)
	WriteKTAP(&k, rs)
	WriteMarkdown(&md, rs)
	for what, out := range map[string]string{"matrix": m.String(), "junit": j.String(), "ktap": k.String(), "markdown": md.String()} {
		if !strings.Contains(out, "6.12") || !strings.Contains(out, "6.1") {
			t.Errorf("%s does not name the kernels:\n%s", what, out)
		}
	}
	if rs[1].Name() != "x86_64 6.12 rfc-v2" {
		t.Errorf("name %q", rs[1].Name())
	}
}

// A report saved before reports carried a cause still says its kernel did
// not compile: the gate reads saved reports from older runs.
func TestReadJSONLegacyCause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.json")
	old := `[{"arch": "sparc32", "kernel": {"source": "x", "cached": false}, "patches": ["rfc-v2"], "verdict": "error",
	  "error": "kernel build: compile: make zImage failed:\nerror: x", "timings": {}, "emulation_note": "", "scenarios": null},
	 {"arch": "x86_64", "kernel": {"source": "x", "cached": false}, "patches": [], "verdict": "error",
	  "error": "the VM did not end within 4m0s", "timings": {}, "emulation_note": "", "scenarios": null}]`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].CompileFailed() || rs[0].Verdict != Error {
		t.Errorf("legacy compile failure: cause %+v, verdict %s", rs[0].Cause, rs[0].Verdict)
	}
	if rs[1].CompileFailed() || rs[1].Cause != nil {
		t.Errorf("legacy timeout read as %+v", rs[1].Cause)
	}
	b, _ := json.Marshal(rs[0])
	if !strings.Contains(string(b), `"cause":{"stage":"build","step":"compile"}`) {
		t.Errorf("cause not written: %s", b)
	}
}

// Every report on an arch whose hardware aliases says whether the cache
// model was on; the JSON always has alias_model.on.
func TestAliasModelSaid(t *testing.T) {
	off := &Report{Arch: "hppa", Patches: []string{}, Verdict: Pass, EmulationNote: EmulationNote("hppa", true)}
	var b strings.Builder
	off.WriteText(&b)
	if !strings.Contains(b.String(), "alias model: off") || !strings.Contains(off.EmulationNote, "--alias-model; it was off") {
		t.Errorf("model off, not said:\n%s", b.String())
	}
	on := &Report{Arch: "hppa", Patches: []string{"alias-marker"}, Verdict: Pass, EmulationNote: AliasModelNote("hppa"),
		AliasModel: AliasModel{On: true, Line: 32, Alias: 0x400000, Scenarios: []AliasScenario{{Name: "harvest", LogReads: 3, StaleLogReads: 2}}}}
	b.Reset()
	on.WriteText(&b)
	if !strings.Contains(b.String(), "alias model: on (PA-RISC VIPT data cache, 32-byte lines, alias boundary 0x400000): 3 reads of the log by the VMM (calls), 2 stale word loads") {
		t.Errorf("model on, not said:\n%s", b.String())
	}
	js, _ := json.Marshal(&Report{Arch: "x86_64"})
	if !strings.Contains(string(js), `"alias_model":{"on":false}`) {
		t.Errorf("JSON without alias_model.on: %s", js)
	}
}
