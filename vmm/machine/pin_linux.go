package machine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// VhostWorkers finds the workers by name, as the executor does
// (guest/executor/csrc/executor.c, OP_VHOSTWORKERS): vhost names each
// "vhost-<tid>" after the thread that set the owner.
func (m *native) VhostWorkers() ([]int, error) {
	// A device still being closed in the background (Release) may still
	// have its worker: it is not the caller's.
	m.Settle()
	own := map[string]bool{}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		own[e.Name()] = true
	}
	var out []int
	for _, dir := range []string{"/proc", "/proc/self/task"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
			if err != nil {
				continue // it ended
			}
			owner, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "vhost-")
			if ok && (dir != "/proc" || own[owner]) {
				out = append(out, tid)
			}
		}
	}
	return out, nil
}

func (m *native) SetAffinity(tid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return fail("sched_setaffinity", unix.SchedSetaffinity(tid, &set))
}
