package scenario

import (
	"strings"
	"testing"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
)

// pageThree runs a scenario that wrote page 3 of a one-word log, whose
// bit is set or not, with control ctl and vacuous.
func pageThree(setBit bool, ctl control, vacuous string) record.Scenario {
	s := Scenario{Name: "t", run: func(_ machine.Machine, _ string) outcome {
		l := oracle.Log{Layout: oracle.Layout{WordBits: 64}, Before: make([]byte, 8), After: make([]byte, 8), Pages: 64}
		if setBit {
			oracle.PutBit(l.After, l.Layout, 3)
		}
		return outcome{log: l, expect: oracle.Expect{Written: map[uint64]int{3: 1}}, control: ctl, vacuous: vacuous}
	}}
	return Run(nil, s)
}

// A scenario whose reason to exist did not happen (harvest without a
// harvest mid-traffic) is an error when its log passes, and a fail when
// the log fails anyway: never a pass.
func TestVacuousOutcome(t *testing.T) {
	run := func(setBit bool) record.Scenario { return pageThree(setBit, clearBit(3), "no race ran") }
	if r := run(true); r.Status != record.Error || r.Error != "no race ran" {
		t.Errorf("a passing log without the race: %s %q", r.Status, r.Error)
	}
	r := run(false)
	if r.Status != record.Fail || len(r.Findings) == 0 || r.Findings[0].Kind != oracle.Missing ||
		!strings.Contains(strings.Join(r.Notes, " "), "no race ran") {
		t.Errorf("a failing log without the race: %s %+v %v", r.Status, r.Findings, r.Notes)
	}
}

// A scenario that could build no negative control (inject-efault-half
// when no written page was logged by a successful call) fails when its
// log fails, and is an error, saying why, when its log passes.
func TestNoControlPossible(t *testing.T) {
	run := func(setBit bool) record.Scenario { return pageThree(setBit, control{what: "nothing to mutate"}, "") }
	if r := run(true); r.Status != record.Error || !strings.Contains(r.Error, "nothing to mutate") {
		t.Errorf("a passing log with no control: %s %q", r.Status, r.Error)
	}
	if r := run(false); r.Status != record.Fail || len(r.Findings) == 0 || !strings.Contains(r.Control, "nothing to mutate") {
		t.Errorf("a failing log with no control: %s %+v %q", r.Status, r.Findings, r.Control)
	}
}
