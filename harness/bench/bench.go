// Package bench measures what a developer waits for, per arch: a cold
// kernel build, a warm run to a verdict, swapping in another patch, and
// the floor under every run (booting to the agent with no scenario), plus
// QEMU's peak memory. It prints numbers; nothing here asserts a timing.
//
// Runs on the host.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/kunitpeer"
	"dirtygate/harness/report"
	"dirtygate/harness/run"
	"dirtygate/kernels"
)

// Row is one arch's measurements; zero durations were not measured.
type Row struct {
	Arch      string
	Kernel    string          // the source's name ("6.12")
	Cold      time.Duration   // kernel build from an empty cache, ccache off
	Warm      []time.Duration // cached kernel to a verdict, Options.Runs of them
	Swap      report.Timings
	BootFloor []time.Duration // QEMU start to the agent's final record, no scenario (as many)
	MaxRSS    float64         // MiB
	Err       string
	Peer      *Peer // with Options.Peer
}

// Peer is dirtygate beside kunit_tool on the same source, arch and machine:
// each tool's time per run, warm.
type Peer struct {
	Dirtygate []time.Duration // warm runs to a verdict, whole scenario set
	KUnit     kunitpeer.Result
	Err       string
	None      string // why this arch has no peer run (not an error)
}

// Options of a bench.
type Options struct {
	Arches   []*arches.Arch
	Kernels  []string // --kernel values; empty = kernels.DefaultKernel
	CacheDir string
	Cold     bool // also measure a cold build (minutes per arch)
	Jobs     int
	Progress io.Writer
	// Peer is "kunit" to time kunit_tool's `kunit.py exec` beside
	// dirtygate's warm runs ("" none). Runs is how many warm runs and
	// floors are timed (the table gives their median: on a shared
	// 2-core host one run varies by 20%), and the peer's runs.
	Peer        string
	Runs        int
	Kunitconfig string // the peer's kunitconfig; "" its example suite
}

// Run measures every kernel on every arch in turn.
func Run(ctx context.Context, o Options) []Row {
	ks := o.Kernels
	if len(ks) == 0 {
		ks = []string{kernels.DefaultKernel}
	}
	var rows []Row
	for _, k := range ks {
		for _, a := range o.Arches {
			rows = append(rows, measure(ctx, a, k, o))
		}
	}
	return rows
}

func measure(ctx context.Context, a *arches.Arch, kernel string, o Options) Row {
	row := Row{Arch: a.Name, Kernel: kernel}
	// With the injection switch, as `make run` (ci/gate) and `make test`
	// build: the warm kernel is theirs, never a third build.
	base := run.Options{Arch: a, Kernel: kernel, CacheDir: o.CacheDir, Accel: "tcg", Jobs: o.Jobs, Progress: o.Progress, Inject: true}
	if o.Cold {
		dir, err := os.MkdirTemp(o.CacheDir, "bench-cold-")
		if err != nil {
			row.Err = err.Error()
			return row
		}
		defer os.RemoveAll(dir)
		cold := base
		cold.CacheDir = dir
		// A first build of a tree goes around ccache (kbuild), so cold
		// is cold without touching the environment.
		r := run.Run(ctx, cold)
		if r.Verdict == report.Error {
			row.Err = "cold: " + r.Error
			return row
		}
		row.Cold = seconds(r.Timings.Build)
	}
	// Warm: make sure the kernel is cached, then time a run to a verdict.
	if r := run.Run(ctx, base); r.Verdict == report.Error {
		row.Err = "baseline: " + r.Error
		return row
	}
	for len(row.Warm) < max(o.Runs, 1) {
		start := time.Now()
		r := run.Run(ctx, base)
		if r.Verdict == report.Error {
			row.Err = "warm: " + r.Error
			return row
		}
		row.Warm = append(row.Warm, time.Since(start))
		row.MaxRSS = max(row.MaxRSS, r.Timings.VMMaxRSS)
	}
	if o.Peer == "kunit" {
		row.Peer = peer(ctx, a, kernel, base, row.Warm, o)
	}
	// Swap: a comment-only patch unique to this bench, so it is never
	// cached and only drivers/vhost recompiles.
	patch, err := uniquePatch(ctx, kernel, o.CacheDir)
	if err != nil {
		row.Err = err.Error()
		return row
	}
	defer os.Remove(patch)
	swap := base
	swap.Patches = []string{patch}
	if r := run.Run(ctx, swap); r.Verdict == report.Error {
		row.Err = "swap: " + r.Error
	} else {
		row.Swap = r.Timings
	}
	floor := base
	floor.Only = []string{"none"} // the agent selects nothing: boot, hello, final, reboot
	for len(row.BootFloor) < max(o.Runs, 1) {
		r := run.Run(ctx, floor)
		row.BootFloor = append(row.BootFloor, seconds(r.Timings.Boot+r.Timings.Agent))
	}
	return row
}

// peer times kunit_tool's runs on the same source and arch, beside
// dirtygate's warm runs (and more of those if it needs more).
func peer(ctx context.Context, a *arches.Arch, kernel string, base run.Options, warm []time.Duration, o Options) *Peer {
	p := &Peer{Dirtygate: warm}
	if a.Build.KUnit == "" {
		p.None = "kunit_tool has no QEMU config for " + a.Name
		return p
	}
	for len(p.Dirtygate) < max(o.Runs, 1) {
		start := time.Now()
		if r := run.Run(ctx, base); r.Verdict == report.Error {
			p.Err = "dirtygate: " + r.Error
			return p
		}
		p.Dirtygate = append(p.Dirtygate, time.Since(start))
	}
	src, err := kernels.Resolve(ctx, kernel, o.CacheDir, io.Discard)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	p.KUnit, err = kunitpeer.Run(ctx, kunitpeer.Options{Source: src, Arch: a, CacheDir: o.CacheDir, Jobs: o.Jobs,
		Runs: o.Runs, Kunitconfig: o.Kunitconfig, Progress: o.Progress})
	if err != nil {
		p.Err = "kunit: " + err.Error()
	}
	return p
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// spread is the median of d and, with more than one, its range.
func spread(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	if len(d) == 1 {
		return fmt.Sprintf("%.1fs", d[0].Seconds())
	}
	return fmt.Sprintf("%.1fs (%.1f-%.1f)", median(d).Seconds(), slices.Min(d).Seconds(), slices.Max(d).Seconds())
}

// uniquePatch writes a patch that adds a comment to drivers/vhost/vhost.c.
func uniquePatch(ctx context.Context, kernel, cacheDir string) (string, error) {
	src, err := kernels.Resolve(ctx, kernel, cacheDir, io.Discard)
	if err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(src.Dir, "drivers/vhost/vhost.c"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	first := sc.Text()
	p := fmt.Sprintf("--- a/drivers/vhost/vhost.c\n+++ b/drivers/vhost/vhost.c\n@@ -1 +1,2 @@\n %s\n+/* dirtygate bench %d */\n", first, time.Now().UnixNano())
	tmp, err := os.CreateTemp("", "dirtygate-bench-*.patch")
	if err != nil {
		return "", err
	}
	defer tmp.Close()
	_, err = tmp.WriteString(p)
	return tmp.Name(), err
}

// Write prints the table.
func Write(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCH\tKERNEL\tCOLD BUILD\tWARM VERDICT\tPATCH SWAP (build+boot+agent)\tBOOT FLOOR\tOVER FLOOR\tQEMU RSS")
	for _, r := range rows {
		cold := "-"
		if r.Cold > 0 {
			cold = r.Cold.Round(time.Second).String()
		}
		swap := fmt.Sprintf("%.1fs (%.1f+%.1f+%.1f)", r.Swap.Total, r.Swap.Build, r.Swap.Boot, r.Swap.Agent)
		over := "-"
		if len(r.Warm) > 0 && len(r.BootFloor) > 0 {
			over = fmt.Sprintf("%.1fs", (median(r.Warm) - median(r.BootFloor)).Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f MiB\n", r.Arch, r.Kernel, cold, spread(r.Warm), swap, spread(r.BootFloor), over, r.MaxRSS)
	}
	tw.Flush()
	for _, r := range rows {
		if r.Err != "" {
			fmt.Fprintf(w, "%s %s: could not measure: %s\n", r.Arch, r.Kernel, r.Err)
		}
	}
	writeRatios(w, rows)
	writePeers(w, rows)
}

// writeRatios puts each executor arch's warm verdict beside the first
// Go-agent arch's on the same kernel (medians): how far driving the
// scenarios over the console is from running them in the guest.
func writeRatios(w io.Writer, rows []Row) {
	executor := func(r Row) bool {
		a, err := arches.Lookup(r.Arch)
		return err == nil && a.UsesExecutor()
	}
	for _, r := range rows {
		if len(r.Warm) == 0 || !executor(r) {
			continue
		}
		for _, g := range rows {
			if g.Kernel == r.Kernel && len(g.Warm) > 0 && !executor(g) {
				fmt.Fprintf(w, "%s %s: warm verdict %.1fx %s's (medians)\n", r.Arch, r.Kernel, median(r.Warm).Seconds()/median(g.Warm).Seconds(), g.Arch)
				break
			}
		}
	}
}
