package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"dirtygate/harness/selftest"
)

// cmdSelftest gates every built-in mutant against its base on one arch and
// prints the mutant x scenario matrix.
func cmdSelftest(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	arch := fs.String("arch", "x86_64", "one architecture")
	src := fs.String("kernel", "6.1", "kernel source the mutants are written for: 6.1, or a tree they apply to")
	mutants := fs.String("mutant", "", "only these mutants, comma-separated (default: all of kernels/mutants/)")
	out := fs.String("out", "", "directory for the runs' consoles and reports (default: under the cache)")
	cache := fs.String("cache", defaultCache(), "cache directory ($DIRTYGATE_CACHE)")
	accel := fs.String("accel", "auto", "auto, kvm or tcg")
	jobs := fs.Int("j", runtime.NumCPU(), "make -j for kernel builds")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	as, err := archesOf(*arch)
	if err != nil || len(as) != 1 {
		fmt.Fprintf(os.Stderr, "dirtygate selftest: --arch takes one architecture (%v)\n", err)
		return 2
	}
	o := selftest.Options{Arch: as[0], Kernel: *src, CacheDir: *cache, OutDir: *out, Accel: *accel,
		Jobs: *jobs, Progress: progress()}
	if *mutants != "" {
		o.Only = strings.Split(*mutants, ",")
	}
	mx, err := selftest.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirtygate selftest:", err)
		return 2
	}
	selftest.Write(os.Stdout, mx)
	return mx.ExitCode()
}
