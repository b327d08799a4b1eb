// Package judge turns what a guest printed into a report: the records
// (the agent's, or those the host produced driving the executor), the
// console's kernel splats, and the host's own re-run of the oracle on
// every scenario's evidence. It knows nothing of QEMU: a VM, a target
// machine and a console captured elsewhere are judged alike. Runs on the
// host.
package judge

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"dirtygate/arches"
	"dirtygate/guest/executor"
	"dirtygate/harness/console"
	"dirtygate/harness/report"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// Input is what there is to judge.
type Input struct {
	// Arch is the arch the guest runs; nil when unknown (a console
	// captured elsewhere): no boot artifacts, no skip reasons.
	Arch *arches.Arch
	// Console is everything the guest printed.
	Console []byte
	// Records are the records when the host produced them (driving the
	// executor); nil when they are on the console.
	Records []byte
	// VM is how the VM ended; nil for a target or a captured console.
	VM *VM
}

// VM is how a VM ended.
type VM struct {
	Duration time.Duration
	MaxRSS   int64 // bytes
	TimedOut bool
	Timeout  time.Duration // what it was given, for the message
	// StoppedAfter: the guest had said all it would, and QEMU, not ending
	// within this grace, was stopped (0: it ended by itself).
	StoppedAfter time.Duration
	Exit         error  // its exit status; nil when it exited 0
	Stderr       []byte // its own messages
}

// Judge fills r from in: agent, scenarios, splats, boot artifacts,
// timings, and the error when the run could not decide. The console is
// scanned once.
func Judge(r *report.Report, in Input) {
	records := in.Records
	if records == nil {
		records = in.Console
	}
	splats := console.Scan(in.Console)
	started := agentStart(in.Console)
	for _, s := range splats {
		if why := bootArtifact(in.Arch, s, started); why != "" {
			r.Artifacts = append(r.Artifacts, s.Title+": "+why)
			continue
		}
		r.AddSplat(s.Title, s.Quote)
	}
	st, perr := record.Parse(records)
	if st != nil {
		r.Problems = st.Problems
		for _, rec := range st.Records {
			scenarioRecord(r, in.Arch, rec)
		}
	}
	vm := in.VM
	if vm == nil {
		vm = &VM{}
	}
	agent := 0.0
	if st != nil && st.Final != nil {
		agent = float64(st.Final.Millis) / 1000
	}
	r.Timings.Agent = agent
	r.Timings.Boot = max(0, vm.Duration.Seconds()-agent)
	r.Timings.VMMaxRSS = float64(vm.MaxRSS) / (1 << 20)
	if vm.StoppedAfter > 0 {
		// Nothing is lost by it: the records stand or fall below.
		r.Problems = append(r.Problems, fmt.Sprintf("the VM did not end by itself within %v of the guest's last word (its reboot hung); dirtygate stopped it", vm.StoppedAfter))
	}
	switch {
	case vm.TimedOut:
		r.SetError(report.StageBoot, "", fmt.Sprintf("the VM did not end within %v (boot hang or agent hang); see the console log", vm.Timeout))
	case perr != nil && len(splats) > 0:
		r.SetError(report.StageBoot, "", fmt.Sprintf("the kernel crashed before the agent finished (%v)", perr))
	case perr != nil:
		stage := report.StageTransport
		if started == 0 {
			stage = report.StageBoot // neither the agent nor the executor ever spoke
		}
		r.SetError(stage, "", fmt.Sprintf("the agent's results are incomplete: %v", perr))
	case r.Agent == nil:
		r.SetError(report.StageAgent, "", "no hello record from the agent")
	}
	if r.Error != "" && vm.Exit != nil {
		r.Error += fmt.Sprintf(" (QEMU: %v)", vm.Exit)
	}
	if r.Error != "" && len(bytes.TrimSpace(vm.Stderr)) > 0 {
		r.Error += "; QEMU said: " + string(bytes.TrimSpace(vm.Stderr))
	}
}

// scenarioRecord adds one record: the hello, or a scenario checked
// against the host's oracle.
func scenarioRecord(r *report.Report, a *arches.Arch, rec record.Record) {
	switch rec.Type {
	case record.TypeHello:
		var h record.Hello
		if rec.Into(&h) == nil {
			r.Agent = &h
		}
	case record.TypeScenario:
		var s record.Scenario
		if err := rec.Into(&s); err != nil {
			r.SetError(report.StageTransport, "", err.Error())
			return
		}
		if why, ok := skipReason(a, s.Name); ok && s.Status == record.Skip {
			// The kernel command line carried only the name.
			s.Notes = []string{"skipped on this arch: " + why}
		}
		if msg := CrossCheck(s); msg != "" && r.Error == "" {
			r.SetError(report.StageOracle, "", msg)
		}
		r.Scenarios = append(r.Scenarios, s)
	}
}

// agentStart is the console line where the agent or executor first spoke
// (1-based); 0 when it never did.
func agentStart(log []byte) int {
	for i, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "DGR1 0 ") || strings.Contains(l, executor.ReadyLine) {
			return i + 1
		}
	}
	return 0
}

// bootArtifact explains a splat the arch is known to raise at every boot,
// when it came before the agent started.
func bootArtifact(a *arches.Arch, s console.Splat, started int) string {
	if a == nil || started == 0 || s.Line >= started {
		return ""
	}
	for _, k := range a.Boot.Artifacts {
		if strings.Contains(s.Title, k.Match) {
			return k.Why
		}
	}
	return ""
}

// skipReason is why arch a skips scenario name, if it does.
func skipReason(a *arches.Arch, name string) (string, bool) {
	if a == nil {
		return "", false
	}
	why, ok := a.Skips()[name]
	return why, ok
}

// CrossCheck re-runs the oracle on the scenario's evidence on the host: a
// guest whose oracle disagrees with the host's cannot be trusted. "" when
// they agree (or there is no evidence).
func CrossCheck(s record.Scenario) string {
	if s.Evidence == nil {
		return ""
	}
	l, e, err := s.Evidence.Oracle()
	if err != nil {
		return fmt.Sprintf("scenario %s: unreadable evidence: %v", s.Name, err)
	}
	host := map[oracle.Kind]int{}
	for _, f := range oracle.Check(l, e) {
		host[f.Kind]++
	}
	guest := map[oracle.Kind]int{}
	for _, f := range s.Findings {
		if !oracle.OutsideBitmap(f.Kind) {
			guest[f.Kind]++
		}
	}
	if fmt.Sprint(host) != fmt.Sprint(guest) {
		return fmt.Sprintf("scenario %s: the host's oracle (%v) disagrees with the guest's (%v)", s.Name, host, guest)
	}
	return ""
}
