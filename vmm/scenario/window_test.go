package scenario

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"dirtygate/vmm/machine"
)

// windowFake plays the switch's files: wait hands out the phases in
// order, then "0 0 -"; ack records what the VMM acknowledged.
type windowFake struct {
	machine.Machine // nil: any other call panics
	phases          []string
	acks            []string
	open            map[int]string
	next            int
	eof             map[int]bool
}

func (f *windowFake) Open(path string) (int, error) {
	if !strings.HasPrefix(path, windowDir) {
		return 0, errors.New("no such file")
	}
	f.next++
	f.open[f.next] = strings.TrimPrefix(path, windowDir)
	return f.next, nil
}

func (f *windowFake) Close(fd int) error { delete(f.open, fd); return nil }

func (f *windowFake) Read(fd int, n int) ([]byte, error) {
	if f.open[fd] != "wait" || f.eof[fd] {
		return nil, nil
	}
	f.eof[fd] = true
	if len(f.phases) == 0 {
		return []byte("0 0 -\n"), nil
	}
	p := f.phases[0]
	f.phases = f.phases[1:]
	return []byte(p + "\n"), nil
}

func (f *windowFake) Write(fd int, b []byte) (int, error) {
	if f.open[fd] == "ack" {
		f.acks = append(f.acks, string(b))
	}
	return len(b), nil
}

// countWaits counts the reads of wait.
type countWaits struct {
	*windowFake
	n *int
}

func (c countWaits) Read(fd int, n int) ([]byte, error) {
	if c.open[fd] == "wait" && !c.eof[fd] {
		*c.n++
	}
	return c.windowFake.Read(fd, n)
}

// Every phase the switch opens is read in and acknowledged by its own
// sequence number and phase, and the loop ends when none opens.
func TestServeWindows(t *testing.T) {
	f := &windowFake{phases: []string{"1 1 kmap", "1 2 kmap", "2 1 futex", "2 2 futex"}, open: map[int]string{}, eof: map[int]bool{}}
	reads := 0
	served, err := serveWindows(f, func() error { reads++; return nil }, 1)
	if err != nil || served != 4 || reads != 4 {
		t.Fatalf("served %d, read %d times, err %v; want 4, 4, nil", served, reads, err)
	}
	if want := []string{"1 1", "1 2", "2 1", "2 2"}; !reflect.DeepEqual(f.acks, want) {
		t.Errorf("acks %q, want %q", f.acks, want)
	}
	// Before the first phase it waits as long as it was told to.
	f = &windowFake{open: map[int]string{}, eof: map[int]bool{}}
	waits := 0
	if served, err := serveWindows(countWaits{f, &waits}, func() error { return nil }, 3); served != 0 || err != nil || waits != 3 {
		t.Errorf("no phase: served %d, err %v, %d waits; want 0, nil, 3", served, err, waits)
	}
	// A read that fails is not acknowledged: the phase times out in the
	// kernel, and the counts say so.
	f = &windowFake{phases: []string{"3 1 kmap"}, open: map[int]string{}, eof: map[int]bool{}}
	if _, err := serveWindows(f, func() error { return errors.New("swap failed") }, 1); err == nil || len(f.acks) != 0 {
		t.Errorf("a failed read: err %v, acks %q", err, f.acks)
	}
}

// A window decides something only if one opened and every phase of every
// window was acknowledged in time, by the VMM's own count too.
func TestWindowProblem(t *testing.T) {
	for _, c := range []struct {
		w  windowStats
		ok bool
	}{
		{windowStats{opened: 4, kmap: 4, acked: 8, served: 8}, true},
		{windowStats{opened: 2, futex: 2, acked: 4, served: 4}, true},
		{windowStats{}, false}, // the log path passed neither hook
		{windowStats{opened: 4, acked: 7, timedout: 1, served: 7}, false}, // a phase ended without the VMM
		{windowStats{opened: 4, acked: 8, late: 1, served: 9}, false},     // an ack after its phase closed
		{windowStats{opened: 4, acked: 8, served: 6}, false},              // the counts disagree
	} {
		if got := c.w.problem() == ""; got != c.ok {
			t.Errorf("%+v: decided %v, want %v (%s)", c.w, got, c.ok, c.w.problem())
		}
	}
}
