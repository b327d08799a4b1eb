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
// The two run in parallel from the start, each on its own working tree,
// go test's two slots theirs (the selftest subset is a step of x86_64's,
// not a test of its own waiting for that tree in one of them). Building
// x86_64's cold kernel alone first, then hppa's beside x86_64's patch
// swaps, was tried: from empty caches on 2 cores both orders took ~750-770
// s, all of it CPU-bound (README, the make test rows), so the simpler one
// is kept.
func TestEndToEndX86(t *testing.T) {
	t.Parallel()
	bin := endToEnd(t, "x86_64")
	t.Run("selftest", func(t *testing.T) { selftestSubset(t, bin) })
}

func TestEndToEndHppa(t *testing.T) { t.Parallel(); endToEnd(t, "hppa") }

// endToEnd runs arch's steps and returns the CLI it built, for the steps
// that follow it.
func endToEnd(t *testing.T, arch string) string {
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
	// Everything runs with the injection switch, as `make run` and `make
	// bench` do (one kernel per arch serves all three, so none rebuilds
	// what another built), starting with the gate itself.
	cli := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stderr = testWriter{t}
		stdout, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(stdout)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(stdout)
	}
	dg := func(args ...string) (int, *report.Report, string) {
		t.Helper()
		js := filepath.Join(out, strings.ReplaceAll(strings.Join(args, "_"), "/", "_")+".json")
		// 6.1 explicitly: the assertions below are about 6.1.192 (its own
		// iotlb-used-split bug), and one kernel keeps make test's budget.
		argv := []string{"run", "--arch", arch, "--kernel", "6.1", "--inject", "--json", js, "--out", out}
		code, stdout := cli(append(argv, args...)...)
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
	if a.ABI.WordBits == 32 {
		skips["regions-high"] = "64-bit VMMs only"
	}
	base, rfc, text := gateInject(t, cli, out, arch)
	if base.Verdict != report.Fail || !base.OnlyKnown {
		t.Fatalf("baseline: verdict %s (%s); want only the known 6.1 failure", base.Verdict, base.Error)
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
			case skip && s.Status == "skip" && len(s.Notes) > 0:
			case strings.HasPrefix(s.Name, "inject-") && s.Status == "skip" && len(s.Notes) > 0 && !fixed:
				// inject-* needs a kernel that calls the helper (6.1
				// does not: nothing is injected, no verdict)
			case s.Name == known61 && !fixed:
				if s.Status != "fail" || len(s.Findings) != 1 || s.Findings[0].Kind != "missing" || s.Known == "" {
					t.Errorf("%s %s: %s %+v (known %q), want 6.1's missing used-ring page, known", what, s.Name, s.Status, s.Findings, s.Known)
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
	if !a.ABI.BigEndian {
		find("carry", "carry", "logged 3 times")
		find("carry", "carry", "carry left the 32-bit word")
	}
	find("misaligned-1", "abi", "EINVAL")
	find("misaligned-3", "abi", "EINVAL")
	if a.ABI.BigEndian && a.ABI.WordBits == 64 {
		find("bit-position", "misplaced", "XOR 32")
	} else {
		// The used ring is logged as QEMU logs it, so rfc-v2's adds on
		// its words carry into neighbouring pages (strays) here too; what
		// must not appear is a misplacement.
		for _, s := range rfc.Scenarios {
			for _, f := range s.Findings {
				if s.Name == "bit-position" && f.Kind == "misplaced" {
					t.Errorf("rfc-v2 bit-position on %s (u32 words agree with the ABI here): %+v", arch, f)
				}
			}
		}
	}
	find("inject-enosys", "silent-loss", "LOG_ALL accepted")
	if !strings.Contains(text, "carry: page") {
		t.Errorf("text report lacks the carry:\n%s", text)
	}

	// The seed patch as its review asked for it, with the fix of 6.1's
	// used-ring logging, passes everything: the gate is not just red.
	code, fixed, _ := dg("--patch", "futex-fixed", "--patch", "log-used-iotlb")
	for _, s := range fixed.Scenarios {
		if strings.HasPrefix(s.Name, "inject-") && (s.Status != "pass" || s.Exercised["injected"] == 0) {
			t.Errorf("futex-fixed %s: %s, %d injected: the injection must fire and the fallback hold", s.Name, s.Status, s.Exercised["injected"])
		}
	}
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
	return bin
}

// gateInject runs the gate as CI does (`dirtygate gate --inject`) on arch
// with the seed patch as the candidate: it must reject it, and `compare`
// must give the same answer on the reports it saved, and reject a base
// report edited to lose one more page in the known failure.
func gateInject(t *testing.T, cli func(...string) (int, string), out, arch string) (base, cand *report.Report, text string) {
	bj, cj := filepath.Join(out, "gate-base.json"), filepath.Join(out, "gate-candidate.json")
	code, text := cli("gate", "--inject", "--arch", arch, "--kernel", "6.1", "--candidate", "rfc-v2", "--out", filepath.Join(out, "gate"),
		"--json", cj, "--base-json", bj)
	t.Logf("dirtygate gate --inject --candidate rfc-v2: exit %d\n%s", code, text)
	if code != 1 || !strings.Contains(text, "gate: REJECT") {
		t.Fatalf("gate --inject --candidate rfc-v2: exit %d, want 1 (REJECT)", code)
	}
	read := func(path string) *report.Report {
		rs, err := report.ReadJSON(path)
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v (%d reports)", path, err, len(rs))
		}
		return rs[0]
	}
	base, cand = read(bj), read(cj)
	if c, _ := cli("compare", bj, cj); c != 1 {
		t.Errorf("compare base candidate: exit %d, want 1 as the gate", c)
	}
	if c, out := cli("compare", bj, bj); c != 0 {
		t.Errorf("compare base base: exit %d, want 0\n%s", c, out)
	}
	// One more page missing in the known failure is a regression.
	b, _ := os.ReadFile(bj)
	var edited []map[string]any
	if err := json.Unmarshal(b, &edited); err != nil {
		t.Fatal(err)
	}
	touched := false
	for _, s := range edited[0]["scenarios"].([]any) {
		sc := s.(map[string]any)
		if sc["name"] == "iotlb-used-split" {
			sc["findings"] = append(sc["findings"].([]any), map[string]any{"kind": "missing", "detail": "missing: 1 written page(s) have no bit: page 258", "pages": []any{258}})
			touched = true
		}
	}
	if !touched {
		t.Fatalf("the base has no iotlb-used-split")
	}
	worse := filepath.Join(out, "worse.json")
	b, _ = json.Marshal(edited)
	os.WriteFile(worse, b, 0o644)
	if c, out := cli("compare", bj, worse); c != 1 || !strings.Contains(out, "missing page 258") {
		t.Errorf("compare base worse: exit %d, want 1 naming page 258\n%s", c, out)
	}
	return base, cand, text
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
