package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dirtygate/arches"
	"dirtygate/harness/gate"
	"dirtygate/harness/report"
	"dirtygate/harness/run"
	"dirtygate/kernels"
)

// runCmd is `dirtygate run`: each arch x kernel, built, booted and judged.
type runCmd struct {
	arch    archFlag
	patches multi
	kernels kernelFlag
	out     outputs
	dir     *string
	build   buildFlags
	vm      vmFlags
	only    *string
	ktap    *bool
	target  *string
}

func (c *runCmd) define(fs *flag.FlagSet) {
	c.arch = addArch(fs, defaultArches, "architectures, comma-separated, all, or default")
	fs.Var(&c.patches, "patch", "built-in patch name or patch/mbox file; repeat for a series")
	c.kernels.register(fs)
	c.out = addOutputs(fs, "", "json", "junit", "markdown", "html")
	c.dir = addOut(fs)
	c.build = addBuild(fs)
	c.vm = addVM(fs)
	c.only = addOnly(fs)
	c.ktap = fs.Bool("ktap", false, "print KTAP (the kernel's test output format) on stdout instead of the tables")
	c.target = fs.String("target", "", "run on a machine already running the kernel under test: ssh://[user@]host[:port], serial:///dev/DEVICE or exec:COMMAND (one --arch)")
}

func (c *runCmd) run(ctx context.Context, _ *flag.FlagSet) int {
	as, err := c.arch.get()
	if err != nil {
		return fail("dirtygate", err)
	}
	if err := (preflight{only: *c.only, accel: *c.vm.accel, kernels: c.kernels, patches: c.patches}).check(ctx); err != nil {
		return fail("dirtygate run", err)
	}
	if *c.target != "" && *c.vm.aliasModel {
		fmt.Fprintln(os.Stderr, "dirtygate: --alias-model models the cache under emulation; a --target has a real one")
		return 2
	}
	if *c.target != "" {
		if len(as) != 1 || len(c.patches) > 0 || len(c.kernels) > 0 {
			fmt.Fprintln(os.Stderr, "dirtygate: --target takes exactly one --arch (the target's), and no --patch or --kernel: the target runs its own kernel")
			return 2
		}
		return c.onTarget(ctx, as[0])
	}
	var runs []run.Options
	for _, k := range c.kernels.list() {
		for _, a := range as {
			o := run.Options{Arch: a, Patches: c.patches, Kernel: k, CacheDir: *c.build.cache, Accel: *c.vm.accel,
				Jobs: *c.build.jobs, Progress: progress(), DebugKernel: *c.vm.debug, Inject: *c.vm.inject, AliasModel: *c.vm.aliasModel, Only: splitOnly(*c.only)}
			if *c.dir != "" {
				name := a.Name + "-baseline"
				if len(c.patches) > 0 {
					name = a.Name + "-" + strings.Join(c.patches, "+")
				}
				o.OutDir = filepath.Join(*c.dir, c.kernels.dirPrefix(k)+kernels.SafeName(name))
			}
			runs = append(runs, o)
		}
	}
	reports := run.Matrix(ctx, runs)
	if err := gate.MarkKnownAll(reports); err != nil {
		return fail("dirtygate", err)
	}
	code := 0
	for _, r := range reports {
		if !*c.ktap {
			r.WriteText(os.Stdout)
		}
		code = worse(code, r.ExitCode())
	}
	if *c.ktap {
		report.WriteKTAP(os.Stdout, reports)
	} else if len(reports) > 1 {
		report.WriteMatrix(os.Stdout, reports)
	}
	var v any = reports
	if len(reports) == 1 {
		v = reports[0]
	}
	if err := c.out.write(v, reports, nil); err != nil {
		return fail("dirtygate", err)
	}
	return code
}

// onTarget runs the scenarios on a machine dirtygate did not boot.
func (c *runCmd) onTarget(ctx context.Context, a *arches.Arch) int {
	o := run.Options{Arch: a, CacheDir: *c.build.cache, OutDir: *c.dir, Progress: progress(), Only: splitOnly(*c.only)}
	r := run.Target(ctx, o, *c.target)
	gate.MarkKnownAll([]*report.Report{r})
	if *c.ktap {
		report.WriteKTAP(os.Stdout, []*report.Report{r})
	} else {
		r.WriteText(os.Stdout)
	}
	if err := c.out.write(r, []*report.Report{r}, nil); err != nil {
		return fail("dirtygate", err)
	}
	return r.ExitCode()
}
