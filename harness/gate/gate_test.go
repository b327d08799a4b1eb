package gate

import (
	"bytes"
	"strings"
	"testing"

	"dirtygate/harness/report"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

func run(arch string, statuses ...string) *report.Report {
	r := &report.Report{Arch: arch, Patches: []string{}}
	for i := 0; i+1 < len(statuses); i += 2 {
		s := record.Scenario{Name: statuses[i], Status: record.Status(statuses[i+1])}
		if s.Status == "fail" {
			s.Findings = []oracle.Finding{{Kind: oracle.Carry, Detail: "carry: " + s.Name}}
		}
		r.Scenarios = append(r.Scenarios, s)
	}
	r.Decide()
	return r
}

func TestCompare(t *testing.T) {
	base := []*report.Report{run("x86_64", "carry", "pass", "jumbo", "pass", "old", "fail", "older", "fail"), run("s390x", "carry", "pass")}
	cand := []*report.Report{run("x86_64", "carry", "fail", "jumbo", "pass", "old", "pass", "older", "fail"), run("s390x", "carry", "pass")}
	r := Compare(base, cand)
	got := map[string]string{}
	for _, row := range r.Rows {
		got[row.Arch+"/"+row.Scenario] = row.Change
	}
	want := map[string]string{"x86_64/carry": Regression, "x86_64/jumbo": Same, "x86_64/old": Fixed, "x86_64/older": StillFails, "s390x/carry": Same}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	if r.Regressions != 1 || r.ExitCode() != 1 {
		t.Fatalf("regressions %d, exit %d", r.Regressions, r.ExitCode())
	}
	var out bytes.Buffer
	Write(&out, r)
	first := strings.Split(out.String(), "\n")[3] // after the blank line, the title and the header
	if !strings.Contains(first, "REGRESSION") || !strings.Contains(first, "carry: carry") || !strings.Contains(out.String(), "gate: REJECT: 1 regression(s)") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestBuildFailureIsARegression(t *testing.T) {
	base := []*report.Report{run("sparc32", "carry", "pass")}
	c := &report.Report{Arch: "sparc32"}
	c.SetError(report.StageBuild, "compile", "kernel build: compile: make zImage failed:\nerror: implicit declaration of function 'arch_futex_atomic_op_inuser'")
	c.Decide()
	r := Compare(base, []*report.Report{c})
	if r.ExitCode() != 1 || r.Rows[0].Cand != "build failed" || !strings.Contains(r.Rows[0].Finding, "compile") {
		t.Fatalf("%+v", r)
	}
}

func TestUndecided(t *testing.T) {
	base := []*report.Report{run("x86_64", "carry", "pass")}
	c := &report.Report{Arch: "x86_64", Error: "the VM did not end within 2m0s"}
	c.Decide()
	if r := Compare(base, []*report.Report{c}); r.ExitCode() != 2 {
		t.Fatalf("a candidate that could not decide: exit %d", r.ExitCode())
	}
	b := &report.Report{Arch: "x86_64"}
	b.SetError(report.StageBuild, "patch", "kernel build: patch: does not apply")
	b.Decide()
	if r := Compare([]*report.Report{b}, []*report.Report{run("x86_64", "carry", "pass")}); r.ExitCode() != 2 {
		t.Fatalf("a base that could not decide: exit %d", r.ExitCode())
	}
	if r := Compare(base, []*report.Report{run("x86_64", "carry", "pass")}); r.ExitCode() != 0 {
		t.Fatalf("clean: exit %d", r.ExitCode())
	}
	// One scenario that could not decide leaves the others compared: a
	// regression elsewhere is still a regression.
	b2 := run("x86_64", "carry", "pass", "harvest", "error")
	c2 := run("x86_64", "carry", "fail", "harvest", "pass")
	r := Compare([]*report.Report{b2}, []*report.Report{c2})
	if r.ExitCode() != 1 || rowOf(t, r, "harvest").Change != Undecided || len(r.Undecided) != 1 {
		t.Fatalf("a scenario's own error: exit %d, %+v", r.ExitCode(), r)
	}
	c2 = run("x86_64", "carry", "pass", "harvest", "pass")
	if r := Compare([]*report.Report{b2}, []*report.Report{c2}); r.ExitCode() != 2 {
		t.Fatalf("only the errored scenario differs: exit %d", r.ExitCode())
	}
}

// A candidate that does not compile is named by the compiler's error line
// (from a real sparc32-smp build of the seed patch), not by make's target.
func TestCompileErrorNamed(t *testing.T) {
	msg := "kernel build: compile: make zImage failed:\n" +
		"/tmp/dgcache/build/sparc32-smp-43587db76b1d/src/drivers/vhost/vhost.c:1900:13: error: implicit declaration of function \u2018arch_futex_atomic_op_inuser\u2019 [-Werror=implicit-function-declaration]\n" +
		"cc1: some warnings being treated as errors\n"
	got := compileError(msg)
	if !strings.HasPrefix(got, "does not compile: drivers/vhost/vhost.c:1900:13: error: implicit declaration") {
		t.Fatalf("compileError = %q", got)
	}
}

func TestSkipBothSidesIsSame(t *testing.T) {
	sc := func(st record.Status) record.Scenario { return record.Scenario{Name: "x", Status: st} }
	if c, _ := change("skip", "skip", sc("skip"), sc("skip")); c != Same {
		t.Fatalf("skip/skip = %s", c)
	}
	if c, _ := change("pass", "skip", sc("pass"), sc("skip")); c != Undecided {
		t.Fatalf("pass/skip = %s: a scenario that stopped running is not a pass", c)
	}
	if c, _ := change("skip", "pass", sc("skip"), sc("pass")); c != NowRuns {
		t.Fatalf("skip/pass = %s", c)
	}
	f := sc("fail")
	f.Findings = []oracle.Finding{{Kind: oracle.SilentLoss, Detail: "silent-loss: under -ENOSYS, 3 of 32 bits missing"}}
	if c, _ := change("skip", "fail", sc("skip"), f); c != Regression {
		t.Fatalf("skip/fail = %s: a candidate failing where the base had nothing to run is a regression", c)
	}
}

// Two revisions of a tree across a version bump have different keys: each
// arch with one run on each side is still paired.
func TestRevisionsAcrossAVersionBumpPair(t *testing.T) {
	mk := func(arch, version, status string) *report.Report {
		r := run(arch, "carry", status)
		r.Kernel = report.Kernel{Name: "tree", Version: version}
		return r
	}
	base := []*report.Report{mk("x86_64", "6.12.0", "pass"), mk("s390x", "6.12.0", "pass")}
	cand := []*report.Report{mk("x86_64", "6.13.0-rc1", "fail"), mk("s390x", "6.13.0-rc1", "pass")}
	r := Compare(base, cand)
	if len(r.Undecided) != 0 || r.Regressions != 1 || len(r.Rows) != 4 { // carry and kernel-health per arch
		t.Fatalf("%+v", r)
	}
	// Two kernels of one arch on a side cannot be paired by arch alone.
	cand = append(cand, mk("x86_64", "6.14.0", "pass"))
	if r := Compare(base, cand); len(r.Undecided) != 2 {
		t.Errorf("ambiguous pairing decided: %+v", r.Undecided)
	}
}

func TestAliasModelOnBothSidesOrUndecided(t *testing.T) {
	base := &report.Report{Arch: "hppa", Verdict: report.Fail, AliasModel: report.AliasModel{On: true},
		Scenarios: []record.Scenario{{Name: "harvest", Status: record.Fail, Findings: []oracle.Finding{{Kind: oracle.Alias, Detail: "alias: x"}}}}}
	cand := &report.Report{Arch: "hppa", Verdict: report.Pass,
		Scenarios: []record.Scenario{{Name: "harvest", Status: record.Pass}}}
	res := Compare([]*report.Report{base}, []*report.Report{cand})
	if len(res.Undecided) != 1 || res.ExitCode() != 2 {
		t.Fatalf("model on for the base only: %+v", res)
	}
	cand.AliasModel.On = true
	res = Compare([]*report.Report{base}, []*report.Report{cand})
	if len(res.Undecided) != 0 || res.ExitCode() != 0 {
		t.Fatalf("model on both sides: %+v", res)
	}
}
