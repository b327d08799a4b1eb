package selftest

import (
	"strings"
	"testing"

	"dirtygate/harness/report"
	"dirtygate/kernels"
	"dirtygate/vmm/record"
)

func rep(verdict string, status map[string]string) *report.Report {
	r := &report.Report{Arch: "x86_64", Verdict: record.Status(verdict)}
	for _, n := range []string{"page-cross", "iotlb-used-split", "log-eventfd"} {
		r.Scenarios = append(r.Scenarios, record.Scenario{Name: n, Status: record.Status(status[n])})
	}
	return r
}

func outcome(name string, base, cand *report.Report) Outcome {
	return judge(kernels.Mutant{Name: name}, base, cand)
}

func TestMatrixVerdicts(t *testing.T) {
	base := rep("fail", map[string]string{"page-cross": "pass", "iotlb-used-split": "fail", "log-eventfd": "pass"})
	killsCross := rep("fail", map[string]string{"page-cross": "fail", "iotlb-used-split": "fail", "log-eventfd": "pass"})
	killsEventfd := rep("fail", map[string]string{"page-cross": "pass", "iotlb-used-split": "fail", "log-eventfd": "fail"})
	same := rep("fail", map[string]string{"page-cross": "pass", "iotlb-used-split": "fail", "log-eventfd": "pass"})

	mx := &Matrix{Arch: "x86_64", Bases: map[string]*report.Report{"": base},
		Outcomes: []Outcome{outcome("a", base, killsCross), outcome("b", base, killsEventfd)}}
	if c := mx.ExitCode(); c != 0 {
		t.Errorf("every mutant killed, the base's one failure known: exit %d", c)
	}
	var b strings.Builder
	Write(&b, mx)
	if !strings.Contains(b.String(), "base 6.1 fails it itself") {
		t.Errorf("iotlb-used-split killed nothing and the matrix does not say why:\n%s", b.String())
	}

	mx.Outcomes = append(mx.Outcomes, outcome("c", base, same))
	if c := mx.ExitCode(); c != 1 {
		t.Errorf("a mutant survived: exit %d, want 1", c)
	}

	// A mutant that does not compile is no kill, whatever the gate says.
	broken := &report.Report{Arch: "x86_64", Verdict: "error", Error: "kernel build: compile: drivers/vhost/vhost.c:1: error: x",
		Cause: &report.Cause{Stage: report.StageBuild, Step: "compile"}}
	o := outcome("d", base, broken)
	if o.Gate.ExitCode() != 1 || o.NoBuild == "" || len(o.Killed) > 0 {
		t.Fatalf("a mutant that does not compile: gate exit %d, NoBuild %q, killed by %v", o.Gate.ExitCode(), o.NoBuild, o.Killed)
	}
	mx.Outcomes = []Outcome{outcome("a", base, killsCross), outcome("b", base, killsEventfd), o}
	if c := mx.ExitCode(); c != 2 {
		t.Errorf("a mutant that does not build: exit %d, want 2", c)
	}

	// A base failure nobody knows makes the matrix undecided.
	mx.Outcomes = mx.Outcomes[:2]
	mx.Bases[""] = rep("fail", map[string]string{"page-cross": "fail", "iotlb-used-split": "fail", "log-eventfd": "pass"})
	if c := mx.ExitCode(); c != 2 {
		t.Errorf("base fails page-cross: exit %d, want 2", c)
	}
}
