package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/arches"
	"dirtygate/harness/report"
)

// The real thing: build Debian's 6.1 (cold: several minutes per arch;
// cached afterwards in $DIRTYGATE_CACHE or ~/.cache/dirtygate, shared with
// `make run`), boot it under QEMU with the agent, and check the verdicts
// through the command line a developer types. x86_64 with the Go agent in
// the guest, and hppa, big-endian and the arch the seed patch was written
// for, where the scenarios run on the host and drive the C executor over
// the console. (s390x, where the seed patch also misplaces bits by XOR 32,
// runs in `make run`; its captured consoles are in the oracle's tests.)
//
// The two run in parallel: kernel builds take the cache's lock one at a
// time, and hppa's console-bound scenarios overlap the x86_64 build.
func TestEndToEndX86(t *testing.T) { t.Parallel(); endToEnd(t, "x86_64") }

func TestEndToEndHppa(t *testing.T) { t.Parallel(); endToEnd(t, "hppa") }

func endToEnd(t *testing.T, arch string) {
	if testing.Short() {
		t.Skip("builds and boots a real kernel")
	}
	a, err := arches.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "dirtygate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	out := t.TempDir()
	dg := func(args ...string) (int, *report.Report, string) {
		t.Helper()
		js := filepath.Join(out, strings.ReplaceAll(strings.Join(args, "_"), "/", "_")+".json")
		// 6.1 explicitly: the assertions below are about 6.1.192 (its own
		// iotlb-used-split bug), and one kernel keeps make test's budget.
		cmd := exec.Command(bin, append([]string{"run", "--arch", arch, "--kernel", "6.1", "--json", js, "--out", out}, args...)...)
		cmd.Stderr = testWriter{t}
		stdout, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var r report.Report
		if b, err := os.ReadFile(js); err == nil {
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("report %s: %v", js, err)
			}
		}
		t.Logf("dirtygate run %s: exit %d, build %.1fs boot %.1fs agent %.1fs total %.1fs (%s)\n%s",
			strings.Join(args, " "), code, r.Timings.Build, r.Timings.Boot, r.Timings.Agent, r.Timings.Total, r.Accel, stdout)
		return code, &r, string(stdout)
	}

	// 6.1.192 itself fails one scenario: under a device IOTLB, log_used()
	// logs only the first piece of a used-ring write that crosses an
	// IOTLB entry (kernels/patches/log-used-iotlb.patch fixes it).
	const known61 = "iotlb-used-split"
	skips := a.Skips()
	if a.WordBits == 32 {
		skips["regions-high"] = "64-bit VMMs only"
	}
	code, base, _ := dg()
	if code != 1 || base.Verdict != report.Fail {
		t.Fatalf("baseline: exit %d, verdict %s (%s); want the one known 6.1 failure", code, base.Verdict, base.Error)
	}
	if len(base.Scenarios) < 30 {
		t.Fatalf("baseline ran %d scenarios", len(base.Scenarios))
	}
	if a.UsesExecutor() && (base.Agent == nil || !strings.Contains(base.Agent.Agent, "executor") || base.Transport == "") {
		t.Errorf("%s ran without the executor: agent %+v, transport %q", arch, base.Agent, base.Transport)
	}
	// passes checks that every scenario passed with a control, except
	// those that skip here (with a reason) and, unless fixed, known61.
	passes := func(r *report.Report, what string, fixed bool) {
		t.Helper()
		for _, s := range r.Scenarios {
			_, skip := skips[s.Name]
			switch {
			case (skip || strings.HasPrefix(s.Name, "inject-")) && s.Status == "skip" && len(s.Notes) > 0:
				// inject-* needs --inject
			case s.Name == known61 && !fixed:
				if s.Status != "fail" || len(s.Findings) != 1 || s.Findings[0].Kind != "missing" {
					t.Errorf("%s %s: %s %+v, want 6.1's missing used-ring page", what, s.Name, s.Status, s.Findings)
				}
			case s.Status != "pass" || s.Control == "":
				t.Errorf("%s %s: %s %+v (control %q)", what, s.Name, s.Status, s.Findings, s.Control)
			}
		}
	}
	passes(base, "baseline", false)
	if base.Kernel.Version != "6.1.192" && !strings.HasPrefix(base.Kernel.Version, "6.1.") {
		t.Errorf("kernel version %q", base.Kernel.Version)
	}

	code, rfc, text := dg("--patch", "rfc-v2")
	if code != 1 || rfc.Verdict != report.Fail {
		t.Fatalf("rfc-v2: exit %d, verdict %s (%s)", code, rfc.Verdict, rfc.Error)
	}
	find := func(scenario, kind, substr string) {
		t.Helper()
		for _, s := range rfc.Scenarios {
			if s.Name != scenario {
				continue
			}
			for _, f := range s.Findings {
				if string(f.Kind) == kind && strings.Contains(f.Detail, substr) {
					return
				}
			}
			t.Errorf("rfc-v2 %s: no %s finding with %q in %+v", scenario, kind, substr, s.Findings)
			return
		}
		t.Errorf("rfc-v2: no scenario %s", scenario)
	}
	find("carry", "carry", "")
	if !a.BigEndian {
		find("carry", "carry", "logged 3 times")
		find("carry", "carry", "carry left the 32-bit word")
	}
	find("misaligned-1", "abi", "EINVAL")
	find("misaligned-3", "abi", "EINVAL")
	if a.BigEndian && a.WordBits == 64 {
		find("bit-position", "misplaced", "XOR 32")
	} else {
		for _, s := range rfc.Scenarios {
			if s.Name == "bit-position" && s.Status != "pass" {
				t.Errorf("rfc-v2 bit-position on %s (u32 words agree with the ABI here): %+v", arch, s.Findings)
			}
		}
	}
	if !strings.Contains(text, "verdict: FAIL") || !strings.Contains(text, "carry: page") {
		t.Errorf("text report lacks the verdict or the carry:\n%s", text)
	}

	// The seed patch as its review asked for it, with the fix of 6.1's
	// used-ring logging, passes everything: the gate is not just red.
	code, fixed, _ := dg("--patch", "futex-fixed", "--patch", "log-used-iotlb")
	if code != 0 || fixed.Verdict != report.Pass {
		t.Errorf("futex-fixed + log-used-iotlb: exit %d, verdict %s (%s)", code, fixed.Verdict, fixed.Error)
	}
	passes(fixed, "futex-fixed + log-used-iotlb", true)

	// A patch that does not apply names its hunk and decides nothing.
	bad := filepath.Join(out, "bad.patch")
	os.WriteFile(bad, []byte("--- a/drivers/vhost/vhost.c\n+++ b/drivers/vhost/vhost.c\n@@ -1,3 +1,3 @@\n-no such line one\n-no such line two\n+x\n+y\n no such line three\n"), 0o644)
	code, br, _ := dg("--patch", bad)
	if code != 2 || br.Verdict != report.Error || !strings.Contains(br.Error, "hunk #1 of drivers/vhost/vhost.c") {
		t.Fatalf("bad patch: exit %d, verdict %s, error %q", code, br.Verdict, br.Error)
	}
	// ... and leaves the tree clean: the baseline is still cached and passes.
	code, again, _ := dg("--only", "rx-spread")
	if code != 0 || !again.Kernel.Cached {
		t.Fatalf("baseline after a bad patch: exit %d, cached %v (%s)", code, again.Kernel.Cached, again.Error)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
