package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Host is a fixed workload timed on the host, printed so that benches
// taken at different hours or on different machines can be set side by
// side: on the 2-core PVM guest dirtygate is developed on, the same work
// took 448 s one hour and 1,193 s the next (README, make test rows).
// Whether it tells those two states apart is not yet shown: every
// reference so far was taken in the slow one.
// The workload is many short gcc runs, each starting cc1 and as, so
// process start and page faults, which the hypervisor makes dear, weigh
// more than in one long compile; less than in a whole build, which also
// runs make, sh, fixdep, nm and objtool per object (here 14-16% of the
// reference's CPU was system time, ~30% of a slow kernel build's).
type Host struct {
	Compiles     []time.Duration // wall time of each gcc run
	User, System time.Duration   // CPU time of all of them, gcc's children included
	// THP is the host's transparent hugepage mode ("madvise"), "" if
	// unknown: a setting, not a speed, but one that moves kernel builds.
	// cc1 maps its collected heap without madvise, so under "madvise"
	// every 4 KiB of it faults alone: x86_64's kernel/ and mm/ from
	// nothing took 85-101 s under "madvise" and 71-76 s under "always"
	// (3.3 million page faults against 1.5; README, Kernel builds).
	THP string
	Err string
}

// thpPath is where Linux says which transparent hugepage mode is on.
var thpPath = "/sys/kernel/mm/transparent_hugepage/enabled"

// thpMode is the bracketed choice of thpPath's "always [madvise] never".
func thpMode(sysfs string) string {
	_, rest, ok := strings.Cut(sysfs, "[")
	if !ok {
		return ""
	}
	mode, _, ok := strings.Cut(rest, "]")
	if !ok {
		return ""
	}
	return mode
}

// HostCompiles is how many times a bench compiles hostSource: ~5 s on
// a 2-core host.
const HostCompiles = 10

// hostSource is the C file MeasureHost compiles: libc's headers (what
// every kernel object's includes are to cc1, on a small scale) and forty
// small functions with loops for the optimizer.
func hostSource() string {
	var b strings.Builder
	b.WriteString("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, `int f%d(int *a, int n)
{
	int s = %d;
	for (int j = 0; j < n; j++) {
		s += a[j] * %d ^ (s >> 3);
		if (s & %d)
			s -= a[(j + %d) %% n];
		else
			s += (int)strlen((const char *)&a[j]);
	}
	return s;
}
`, i, i, i+3, i%7+1, i)
	}
	return b.String()
}

// MeasureHost compiles hostSource with the host's gcc (which kernel
// builds use for their host tools) n times, one after the other.
func MeasureHost(ctx context.Context, n int) Host {
	var h Host
	if b, err := os.ReadFile(thpPath); err == nil {
		h.THP = thpMode(string(b))
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		h.Err = "no gcc on PATH (install gcc: ci/install-deps)"
		return h
	}
	dir, err := os.MkdirTemp("", "dirtygate-host-")
	if err != nil {
		h.Err = err.Error()
		return h
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "ref.c")
	if err := os.WriteFile(src, []byte(hostSource()), 0o644); err != nil {
		h.Err = err.Error()
		return h
	}
	for i := 0; i < n; i++ {
		cmd := exec.CommandContext(ctx, "gcc", "-O2", "-c", "-o", filepath.Join(dir, "ref.o"), src)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.Err = fmt.Sprintf("gcc -O2 -c %s: %v: %s", src, err, out)
			return h
		}
		h.Compiles = append(h.Compiles, time.Since(start))
		// wait4's usage of gcc holds its children's (cc1, as) too.
		if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			h.User += time.Duration(u.Utime.Nano())
			h.System += time.Duration(u.Stime.Nano())
		}
	}
	return h
}

// WriteHost prints a host measurement as one line, labelled (e.g.
// "before", "after": the host's speed can change during a bench).
func WriteHost(w io.Writer, label string, h Host) {
	if h.Err != "" {
		fmt.Fprintf(w, "host reference %s: could not measure: %s\n", label, h.Err)
		return
	}
	cpu := h.User + h.System
	sys := 0.0
	if cpu > 0 {
		sys = 100 * h.System.Seconds() / cpu.Seconds()
	}
	thp := ""
	if h.THP != "" {
		thp = ", transparent hugepages " + h.THP
	}
	fmt.Fprintf(w, "host reference %s: gcc -O2 of a fixed C file, %d runs: %.2fs a compile (%.2f-%.2f), %.2f CPU-s a compile, %.0f%% of it system time%s\n",
		label, len(h.Compiles), median(h.Compiles).Seconds(), slices.Min(h.Compiles).Seconds(), slices.Max(h.Compiles).Seconds(),
		cpu.Seconds()/float64(len(h.Compiles)), sys, thp)
}
