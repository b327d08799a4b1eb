package main

import (
	"context"
	"flag"
	"os"

	"dirtygate/harness/bench"
)

// benchCmd times what a developer waits for, per arch and kernel.
type benchCmd struct {
	arch    archFlag
	cold    *bool
	kernels kernelFlag
	build   buildFlags
}

func (c *benchCmd) define(fs *flag.FlagSet) {
	c.arch = addArch(fs, defaultArches, "architectures, comma-separated")
	c.cold = fs.Bool("cold", false, "also time a cold kernel build (empty cache, ccache off): minutes per arch")
	c.kernels.register(fs)
	c.build = addBuild(fs)
}

func (c *benchCmd) run(ctx context.Context, _ *flag.FlagSet) int {
	as, err := c.arch.get()
	if err != nil {
		return fail("dirtygate", err)
	}
	if err := (preflight{kernels: c.kernels}).check(ctx); err != nil {
		return fail("dirtygate bench", err)
	}
	rows := bench.Run(ctx, bench.Options{Arches: as, Kernels: c.kernels.list(), CacheDir: *c.build.cache, Cold: *c.cold, Jobs: *c.build.jobs, Progress: progress()})
	bench.Write(os.Stdout, rows)
	for _, r := range rows {
		if r.Err != "" {
			return 2
		}
	}
	return 0
}
