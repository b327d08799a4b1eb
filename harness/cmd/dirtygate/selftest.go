package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"dirtygate/harness/selftest"
)

// selftestCmd gates every built-in mutant against its base on one arch
// and prints the mutant x scenario matrix.
type selftestCmd struct {
	arch    archFlag
	kernel  *string
	mutants *string
	dir     *string
	build   buildFlags
	accel   *string
}

func (c *selftestCmd) define(fs *flag.FlagSet) {
	c.arch = addArch(fs, "x86_64", "one architecture")
	c.kernel = fs.String("kernel", "6.1", "kernel source the mutants are written for: 6.1, or a tree they apply to")
	c.mutants = fs.String("mutant", "", "only these mutants, comma-separated (default: all of kernels/mutants/)")
	c.dir = fs.String("out", "", "directory for the runs' consoles and reports (default: under the cache)")
	c.build = addBuild(fs)
	c.accel = addAccel(fs)
}

func (c *selftestCmd) run(ctx context.Context, _ *flag.FlagSet) int {
	as, err := c.arch.get()
	if err != nil || len(as) != 1 {
		fmt.Fprintf(os.Stderr, "dirtygate selftest: --arch takes one architecture (%v)\n", err)
		return 2
	}
	if err := (preflight{accel: *c.accel}).check(ctx); err != nil {
		return fail("dirtygate selftest", err)
	}
	o := selftest.Options{Arch: as[0], Kernel: *c.kernel, CacheDir: *c.build.cache, OutDir: *c.dir, Accel: *c.accel,
		Jobs: *c.build.jobs, Progress: progress()}
	if *c.mutants != "" {
		o.Only = strings.Split(*c.mutants, ",")
	}
	mx, err := selftest.Run(ctx, o)
	if err != nil {
		return fail("dirtygate selftest", err)
	}
	selftest.Write(os.Stdout, mx)
	return mx.ExitCode()
}
