package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dirtygate/harness/gate"
	"dirtygate/harness/report"
	"dirtygate/harness/run"
	"dirtygate/kernels"
)

// gateCmd is `dirtygate gate`: the base and the candidate on each arch,
// compared per scenario: exit 1 on any regression (pass -> fail, or a
// candidate that does not build), 2 when something could not be decided,
// 0 otherwise.
type gateCmd struct {
	arch         archFlag
	cands, bases multi
	kernels      kernelFlag
	dir          *string
	build        buildFlags
	vm           vmFlags
	out          outputs
	baseJSON     *string
	ktap         *bool
}

func (c *gateCmd) define(fs *flag.FlagSet) {
	c.arch = addArch(fs, defaultArches, "architectures, comma-separated, all, or default")
	fs.Var(&c.cands, "candidate", "patch (name or file) of the candidate; repeat for a series; with --kernel naming git trees, a revision or a range BASE..CANDIDATE")
	fs.Var(&c.bases, "base", "patch of the base (default: none, the unpatched kernel); with --kernel naming git trees, a revision")
	c.kernels.register(fs)
	c.dir = addOut(fs)
	c.build = addBuild(fs)
	c.vm = addVM(fs)
	c.out = addOutputs(fs, "the candidate's", "json", "junit", "markdown", "html")
	c.baseJSON = fs.String("base-json", "", "write the base's JSON reports to `file` (for dirtygate compare)")
	c.ktap = fs.Bool("ktap", false, "print the candidate's results as KTAP on stdout, the gate's verdict as # lines")
}

func (c *gateCmd) run(ctx context.Context, _ *flag.FlagSet) int {
	if len(c.cands) == 0 {
		fmt.Fprintln(os.Stderr, "dirtygate gate: --candidate is required")
		return 2
	}
	as, err := c.arch.get()
	if err != nil {
		return fail("dirtygate", err)
	}
	if err := (preflight{accel: *c.vm.accel, kernels: c.kernels}).check(ctx); err != nil {
		return fail("dirtygate gate", err)
	}
	sides, err := gateSides(ctx, c.kernels.list(), c.bases, c.cands)
	for _, side := range sides {
		if err == nil {
			err = preflight{patches: side.patches}.check(ctx)
		}
	}
	if err != nil {
		return fail("dirtygate gate", err)
	}
	var runs []run.Options
	for _, side := range sides {
		for _, k := range side.kernels {
			for _, a := range as {
				o := run.Options{Arch: a, Patches: side.patches, Kernel: k, CacheDir: *c.build.cache, Accel: *c.vm.accel,
					Jobs: *c.build.jobs, Progress: progress(), DebugKernel: *c.vm.debug, Inject: *c.vm.inject, AliasModel: *c.vm.aliasModel}
				if *c.dir != "" {
					o.OutDir = filepath.Join(*c.dir, c.kernels.dirPrefix(k)+kernels.SafeName(side.name+"-"+a.Name))
				}
				runs = append(runs, o)
			}
		}
	}
	reports := run.Matrix(ctx, runs)
	base, cand := reports[:len(runs)/2], reports[len(runs)/2:]
	if err := gate.MarkKnownAll(reports); err != nil {
		return fail("dirtygate", err)
	}
	res := gate.Compare(base, cand)
	c.print(reports, cand, res)
	if *c.baseJSON != "" {
		if err := writeFile(*c.baseJSON, writeJSON(base)); err != nil {
			return fail("dirtygate", err)
		}
	}
	if err := c.out.write(cand, cand, &res); err != nil {
		return fail("dirtygate", err)
	}
	return res.ExitCode()
}

// print writes the candidate's tables, the matrix and the gate's changes
// (or KTAP with the gate as # lines).
func (c *gateCmd) print(reports, cand []*report.Report, res gate.Result) {
	if *c.ktap {
		report.WriteKTAP(os.Stdout, cand)
		var b strings.Builder
		gate.Write(&b, res)
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			fmt.Fprintln(os.Stdout, "# "+l)
		}
		return
	}
	for _, r := range cand {
		r.WriteText(os.Stdout)
	}
	report.WriteMatrix(os.Stdout, reports)
	gate.Write(os.Stdout, res)
}

// compareCmd is the gate's comparison of two saved reports (a run's or a
// gate's --json, an array or one report): CI artifacts, or a run on real
// hardware against one under QEMU. Same output and exit status as gate.
type compareCmd struct{ out outputs }

func (c *compareCmd) define(fs *flag.FlagSet) {
	c.out = addOutputs(fs, "the candidate's", "markdown", "html")
}

func (c *compareCmd) run(_ context.Context, fs *flag.FlagSet) int {
	if fs.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: dirtygate compare [--markdown FILE] [--html FILE] BASE.json CANDIDATE.json")
		return 2
	}
	var sides [2][]*report.Report
	for i, path := range fs.Args() {
		rs, err := report.ReadJSON(path)
		if err == nil {
			err = gate.MarkKnownAll(rs)
		}
		if err != nil {
			return fail("dirtygate compare", err)
		}
		sides[i] = rs
	}
	res := gate.Compare(sides[0], sides[1])
	report.WriteMatrix(os.Stdout, append(append([]*report.Report(nil), sides[0]...), sides[1]...))
	gate.Write(os.Stdout, res)
	if err := c.out.write(nil, sides[1], &res); err != nil {
		return fail("dirtygate", err)
	}
	return res.ExitCode()
}
