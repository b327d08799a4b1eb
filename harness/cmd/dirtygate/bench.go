package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"dirtygate/harness/bench"
)

// benchCmd times what a developer waits for, per arch and kernel.
type benchCmd struct {
	arch    archFlag
	cold    *bool
	kernels kernelFlag
	build   buildFlags
	peer    *string
	runs    *int
	kconfig *string
}

func (c *benchCmd) define(fs *flag.FlagSet) {
	c.arch = addArch(fs, defaultArches, "architectures, comma-separated, all, or default")
	c.cold = fs.Bool("cold", false, "also time a cold kernel build (empty cache, ccache off): minutes per arch")
	c.kernels.register(fs)
	c.build = addBuild(fs)
	c.peer = fs.String("peer", "", "`PEER` kunit also times the kernel's own kunit_tool (kunit.py exec) on the same source and arch, and prints both per run (its kernel is built once, cached)")
	c.runs = fs.Int("runs", 3, "how many warm runs and floors (`N`) are timed (the table gives the median and range), and of each tool with --peer")
	c.kconfig = fs.String("peer-kunitconfig", "", "with --peer kunit: the kunitconfig `FILE` kunit_tool builds (default: KUnit's example suite)")
}

func (c *benchCmd) run(ctx context.Context, _ *flag.FlagSet) int {
	as, err := c.arch.get()
	if err != nil {
		return fail("dirtygate", err)
	}
	if *c.peer != "" && *c.peer != "kunit" {
		return fail("dirtygate bench", fmt.Errorf("--peer %q: the only peer is kunit (the kernel's tools/testing/kunit/kunit.py)", *c.peer))
	}
	if *c.runs < 1 {
		return fail("dirtygate bench", fmt.Errorf("--runs %d: at least 1", *c.runs))
	}
	var kconfig []byte
	if *c.kconfig != "" {
		if kconfig, err = os.ReadFile(*c.kconfig); err != nil {
			return fail("dirtygate bench", fmt.Errorf("--peer-kunitconfig: %w", err))
		}
	}
	if err := (preflight{kernels: c.kernels}).check(ctx); err != nil {
		return fail("dirtygate bench", err)
	}
	// The host's speed, before and after: its changes move every number
	// in the table (bench.Host).
	fmt.Fprintln(progress(), "timing the host reference (gcc, a few seconds)")
	before := bench.MeasureHost(ctx, bench.HostCompiles)
	rows := bench.Run(ctx, bench.Options{Arches: as, Kernels: c.kernels.list(), CacheDir: *c.build.cache, Cold: *c.cold, Jobs: *c.build.jobs, Progress: progress(),
		Peer: *c.peer, Runs: *c.runs, Kunitconfig: string(kconfig)})
	fmt.Fprintln(progress(), "timing the host reference again")
	after := bench.MeasureHost(ctx, bench.HostCompiles)
	bench.Write(os.Stdout, rows)
	bench.WriteHost(os.Stdout, "before", before)
	bench.WriteHost(os.Stdout, "after", after)
	for _, r := range rows {
		if r.Err != "" || r.Peer != nil && r.Peer.Err != "" {
			return 2
		}
	}
	return 0
}
