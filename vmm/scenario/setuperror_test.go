package scenario

import (
	"errors"
	"fmt"
	"testing"

	"dirtygate/vmm/machine"
)

// flushes counts Flush calls; nothing else of the machine is used.
type flushes struct {
	machine.Machine
	n int
}

func (f *flushes) Flush() error { f.n++; return nil }

// A deferred set-up call's failure, returned by the call after it, is its
// own step's (misaligned-N reads a refused VHOST_SET_LOG_BASE as a
// finding) and is taken off the machine so the scenario's Flush does not
// report it again as an error; any other failure is the failing step's.
func TestSetupErrorOfADeferredCall(t *testing.T) {
	m := &flushes{}
	r := &Rig{M: m}
	refused := &machine.DeferredError{Step: "VHOST_SET_LOG_BASE", Call: "a deferred ioctl", Err: &machine.Errno{Op: "ioctl", Num: 22, Name: "EINVAL"}}
	se := r.setupError("VHOST_SET_FEATURES", fmt.Errorf("%w: %w", machine.ErrNotRun, refused))
	if se.Step != "VHOST_SET_LOG_BASE" || machine.ErrnoName(se) != "EINVAL" || m.n != 1 {
		t.Fatalf("step %q errno %q flushes %d: want VHOST_SET_LOG_BASE, EINVAL, one", se.Step, machine.ErrnoName(se), m.n)
	}
	se = r.setupError("eventfd", errors.New("EMFILE"))
	if se.Step != "eventfd" || m.n != 1 {
		t.Fatalf("a failure of the step itself: step %q, flushes %d", se.Step, m.n)
	}
}
