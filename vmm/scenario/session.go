package scenario

import (
	"fmt"
	"io"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/record"
)

// Session runs the selected scenarios (all when only is nil) on m and
// sends the records the host judges: hello first, one per scenario, final
// last. Progress lines go to progress. It returns 0 on pass, 1 on
// findings, 2 when something could not be decided. The guest agent runs it
// on its own machine; the host runs it against the executor.
//
// skip names scenarios known not to work on this machine, with the reason:
// they are reported as skipped with it, never run and never passed.
func Session(m machine.Machine, w *record.Writer, hello record.Hello, only map[string]bool, skip map[string]string, progress io.Writer, start time.Time) int {
	if err := w.Send(record.TypeHello, hello); err != nil {
		fmt.Fprintln(progress, "dirtygate: cannot send records:", err)
		return 2
	}
	var selected []Scenario
	for _, s := range All() {
		if only == nil || only[s.Name] {
			selected = append(selected, s)
		}
	}
	for _, s := range selected {
		if _, skipped := skip[s.Name]; s.prepare != nil && !skipped {
			s.prepare(m)
		}
	}
	code, n, decided := 0, 0, 0
	for _, s := range selected {
		n++
		var res record.Scenario
		if why, ok := skip[s.Name]; ok {
			res = record.Scenario{Name: s.Name, Status: record.Skip, Notes: []string{"skipped on this arch: " + why}}
			fmt.Fprintf(progress, "\ndirtygate: scenario %s: skip (%s)\n", s.Name, why)
			if err := w.Send(record.TypeScenario, res); err != nil {
				return 2
			}
			continue
		}
		fmt.Fprintf(progress, "\ndirtygate: scenario %s: running\n", s.Name)
		res = Run(m, s)
		fmt.Fprintf(progress, "\ndirtygate: scenario %s: %s (%d ms)\n", s.Name, res.Status, res.Millis)
		switch res.Status {
		case record.Fail:
			code = max(code, 1)
			decided++
		case record.Pass:
			decided++
		case record.Error:
			code = 2
		}
		if err := w.Send(record.TypeScenario, res); err != nil {
			return 2
		}
	}
	if rel, ok := m.(machine.Releaser); ok {
		rel.Settle() // the last rig's teardown, before the final record
	}
	switch {
	case n == 0:
		fmt.Fprintln(progress, "\ndirtygate: no scenario selected")
		code = 2
	case decided == 0:
		// Every scenario skipped: nothing was checked, which is not a pass.
		fmt.Fprintln(progress, "\ndirtygate: no scenario decided anything: all skipped")
		code = 2
	}
	w.Send(record.TypeFinal, record.Final{Records: w.Count(), Scenarios: n, Millis: time.Since(start).Milliseconds()})
	return code
}
