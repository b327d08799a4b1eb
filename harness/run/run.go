// Package run does one dirtygate run: kernel, agent, initramfs, VM,
// records, verdict. Anything that stops it from deciding becomes an
// "error" verdict with the cause and the paths needed to reproduce it;
// nothing that could not decide is ever reported as a pass.
//
// Runs on the host.
package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/aliasmodel"
	"dirtygate/harness/firmware"
	"dirtygate/harness/kbuild"
	"dirtygate/harness/qemu"
	"dirtygate/harness/report"
	"dirtygate/kernels"
	"dirtygate/vmm/record"
)

// Options of one run.
type Options struct {
	Arch    *arches.Arch
	Patches []string // --patch arguments, in order
	// Kernel is a Debian source's name ("6.1", "6.12") or a tree's
	// directory; "" is kernels.DefaultKernel.
	Kernel   string
	CacheDir string
	OutDir   string // "" = a new directory under CacheDir/runs
	Accel    string // auto, kvm or tcg
	Jobs     int
	Only     []string // scenarios; empty = all
	// Inject applies kernels.InjectPatch after the patches: the debugfs
	// switch the inject-* scenarios arm, on every arch.
	Inject bool
	// AliasModel runs the guest under dirtygate's model of a virtually
	// indexed data cache (harness/aliasmodel; parisc only): it applies
	// kernels.AliasPatches after the patches and loads the plugin.
	AliasModel bool
	// DebugKernel builds with kernels.DebugFragment (lockdep, atomic
	// sleep, DEBUG_VM, KASAN where supported).
	DebugKernel bool
	Progress    io.Writer
}

// Prepared is a run whose kernel, agent and initramfs are ready to boot.
type Prepared struct {
	o      Options
	r      *report.Report
	start  time.Time
	kernel *kbuild.Kernel
	initrd string

	// Between Prepare's steps.
	src      kernels.Source
	patches  []kernels.Patch
	built    bool        // a build-only arch's run ends with its build
	alias    *aliasSetup // --alias-model
	firmware string      // -bios, or "" for QEMU's own
	warm     func()      // waits for warmGuest
}

// Run performs the run; the report is never nil.
func Run(ctx context.Context, o Options) *report.Report {
	p, r := Prepare(ctx, o)
	if p == nil {
		return r
	}
	return Boot(ctx, p)
}

// finish closes a report: total time, verdict, and the JSON in the output
// directory.
func finish(o Options, r *report.Report, start time.Time) *report.Report {
	r.Timings.Total = time.Since(start).Seconds()
	r.Decide()
	if o.OutDir != "" {
		if err := r.WriteJSON(filepath.Join(o.OutDir, "report.json")); err != nil {
			fmt.Fprintf(o.Progress, "writing report: %v\n", err)
		}
	}
	return r
}

// Prepare resolves the source and patches, builds (or finds) the kernel,
// and builds the agent and initramfs. When it cannot, it returns nil and
// the finished report saying why; a build-only arch's run ends here too.
func Prepare(ctx context.Context, o Options) (*Prepared, *report.Report) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	r := &report.Report{Arch: o.Arch.Name, Patches: []string{},
		EmulationNote: report.EmulationNote(o.Arch.Name, o.Arch.AliasingCaches)}
	p := &Prepared{o: o, r: r, start: time.Now()}
	// The guest programs build beside the kernel (warmGuest); a run that
	// stops before buildGuest stops them too.
	wctx, stop := context.WithCancel(ctx)
	p.warm = warmGuest(wctx, o)
	defer func() { stop(); p.warm() }()
	for _, step := range []func(context.Context) *failure{p.aliasCheck, p.resolve, p.setup, p.buildKernel, p.buildAlias, p.buildGuest, p.prepareFirmware} {
		if f := step(ctx); f != nil {
			r.SetError(f.stage, f.step, f.msg)
			return nil, finish(p.o, r, p.start)
		}
		if p.built {
			return nil, finish(p.o, r, p.start)
		}
	}
	return p, nil
}

// aliasCheck refuses --alias-model where there is no model, and says in
// the report that it is on.
func (p *Prepared) aliasCheck(context.Context) *failure {
	o, r := &p.o, p.r
	if !o.AliasModel {
		return nil
	}
	if o.Arch.Build.KernelArch != "parisc" || !o.Arch.UsesExecutor() {
		return failed(report.StageSetup, "", "--alias-model: the cache model exists for hppa only (PA-RISC's caches, its kernel's flush primitives, the executor's log reads); %s has none", o.Arch.Name)
	}
	r.EmulationNote = report.AliasModelNote(o.Arch.Name)
	r.AliasModel.On = true
	return nil
}

// buildAlias checks the kernel's flush primitives all announce themselves
// and builds the plugin (--alias-model).
func (p *Prepared) buildAlias(ctx context.Context) *failure {
	o := &p.o
	if !o.AliasModel {
		return nil
	}
	markPA, syms, err := aliasmodel.CheckKernel(ctx, o.Arch.Build.CrossCompile, p.kernel.Image)
	if err != nil {
		return failed(report.StageSetup, "", "%v", err)
	}
	so, err := aliasmodel.BuildPlugin(ctx, o.CacheDir)
	if err != nil {
		return failed(report.StageSetup, "", "%v", err)
	}
	p.alias = &aliasSetup{plugin: so, out: filepath.Join(o.OutDir, "alias-model.txt"), markPA: markPA, syms: syms}
	return nil
}

// prepareFirmware makes the firmware the arch boots with (arches.Boot.Firmware)
// and names it in the report.
func (p *Prepared) prepareFirmware(context.Context) *failure {
	f := p.o.Arch.Boot.Firmware
	if f == nil {
		return nil
	}
	img, err := firmware.Prepare(p.o.CacheDir, f)
	if err != nil {
		return failed(report.StageSetup, "firmware", "%v", err)
	}
	p.firmware, p.r.Firmware = img.Path, img.Note
	return nil
}

// failure is why a step of Prepare stopped the run, and where.
type failure struct {
	stage report.Stage
	step  string
	msg   string
}

func failed(stage report.Stage, step, format string, a ...any) *failure {
	return &failure{stage, step, fmt.Sprintf(format, a...)}
}

// resolve finds the kernel source and the patches.
func (p *Prepared) resolve(ctx context.Context) *failure {
	o, r := &p.o, p.r
	if o.Arch.Mode == arches.Unsupported {
		return failed(report.StageSetup, "", "%s cannot run here: %s", o.Arch.Name, o.Arch.Why)
	}
	src, err := kernels.Resolve(ctx, o.Kernel, o.CacheDir, o.Progress)
	if err != nil {
		return failed(report.StageSetup, "source", "kernel source: %v", err)
	}
	p.src = src
	r.Kernel.Name, r.Kernel.Source, r.Kernel.Version, r.Kernel.Rev = src.Name, src.ID, src.Version, src.Rev
	if src.Origin != "" {
		r.Kernel.Source += " of " + src.Origin // git:SHA of the tree it came from
	}
	names := o.Patches
	if o.Inject {
		names = append(append([]string(nil), names...), kernels.InjectPatch)
	}
	if o.AliasModel {
		names = append(append([]string(nil), names...), kernels.AliasPatches...)
	}
	for i, a := range names {
		if slices.Contains(names[:i], a) {
			return failed(report.StageSetup, "", "patch %s is given twice (with --inject or --alias-model, their test-only patches come with them)", a)
		}
	}
	var under []kernels.Patch // the patches under test, in order
	for _, a := range names {
		ps, err := kernels.ResolvePatchFor(a, src.Series())
		if err != nil {
			return failed(report.StageSetup, "patch", "%v", err)
		}
		under = append(under, ps...)
	}
	for _, pt := range under {
		r.Patches = append(r.Patches, pt.Name)
	}
	p.patches = under
	if fix, ok := kernels.BuildFix(src.Series(), o.Arch.Build.KernelArch); ok {
		// First, so the tree builds; not a patch under test (the report
		// names it apart), and the base gets it as the candidate does.
		p.patches = append([]kernels.Patch{fix}, under...)
		r.Kernel.BuildFix = fix.File
	}
	return nil
}

// setup makes the output directory and checks QEMU is there.
func (p *Prepared) setup(context.Context) *failure {
	o := &p.o
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.CacheDir, "runs", fmt.Sprintf("%s-%s-%s-%s", o.Arch.Name, p.src.Name, label(p.r.Patches), time.Now().Format("20060102-150405.000")))
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return failed(report.StageSetup, "", "output directory: %v", err)
	}
	if err := qemu.Check(o.Arch); err != nil {
		return failed(report.StageSetup, "", "%v", err)
	}
	return nil
}

// buildKernel builds (or finds) the kernel; a build-only arch's run ends
// with it.
func (p *Prepared) buildKernel(ctx context.Context) *failure {
	o, r := &p.o, p.r
	req := kbuild.Request{Arch: o.Arch, Source: p.src, Patches: p.patches,
		CacheDir: o.CacheDir, Jobs: o.Jobs, Progress: o.Progress}
	if o.DebugKernel {
		req.Extra = kernels.DebugFragment(o.Arch.Build.KASAN, o.Arch.Build.DebugExclude)
		r.Kernel.Debug = true
	}
	k, err := kbuild.Build(ctx, req)
	if err != nil {
		step := ""
		var kerr *kbuild.Error
		if errors.As(err, &kerr) {
			step = kerr.Stage
		}
		return failed(report.StageBuild, step, "kernel build: %v", err)
	}
	p.kernel = k
	r.Kernel.ConfigHash, r.Kernel.Config, r.Kernel.Patchfile, r.Kernel.Cached = k.ConfigHash, k.Config, k.Patchfile, k.Cached
	// Everything needed to reproduce the run sits in its output
	// directory; a failed copy only loses a convenience copy.
	kbuild.CopyFile(k.Config, filepath.Join(o.OutDir, "kernel.config"))
	if k.Patchfile != "" {
		kbuild.CopyFile(k.Patchfile, filepath.Join(o.OutDir, "patches.diff"))
	}
	if !k.Cached {
		r.Timings.Build = k.BuildTime.Seconds()
	}
	if why, ok := o.Arch.BuildOnlyFor(p.src.Series()); ok {
		r.Scenarios = append(r.Scenarios, record.Scenario{Name: report.KernelBuild, Status: record.Pass,
			Notes: []string{buildOnlyNote(why)}})
		p.built = true
	}
	return nil
}

// buildGuest builds the agent (or executor) and the initramfs.
func (p *Prepared) buildGuest(ctx context.Context) *failure {
	p.warm()
	initrd, err := Initramfs(ctx, p.o.Arch, p.o.OutDir, p.o.CacheDir, p.o.Only)
	if err != nil {
		return failed(report.StageSetup, "", "%v", err)
	}
	p.initrd = initrd
	return nil
}

// Boot runs the prepared VM and judges what it printed.
func Boot(ctx context.Context, p *Prepared) *report.Report {
	o, r, k := p.o, p.r, p.kernel
	accel, why := o.Accel, "tcg: requested"
	switch o.Accel {
	case "", "auto":
		accel, why = chooseAccel(ctx, o.Arch, o.CacheDir, k.Image, p.initrd)
	case "kvm":
		why = "kvm: requested"
	}
	r.Accel = why
	args := AgentArgs(o.Arch, o.Only)
	timeout := vmTimeout(o)
	if o.DebugKernel {
		// KASAN and lockdep make a TCG guest several times slower.
		timeout *= 4
		args = append(args, fmt.Sprintf("dirtygate.timeout=%d", int(timeout.Seconds())))
	}
	cfg := qemu.Config{Arch: o.Arch, Kernel: k.Image, DTB: k.DTB, Initrd: p.initrd, Append: args, Accel: accel,
		Timeout: timeout, ConsoleLog: filepath.Join(o.OutDir, "console.log"),
		Watch: &progressLines{w: o.Progress, prefix: "[" + r.Name() + "] "}, Firmware: p.firmware,
		EndGrace: endGrace} // each runner says when its guest has ended (cfg.Ended)
	if p.alias != nil {
		cfg.Plugin = aliasmodel.PluginArg(p.alias.plugin, p.alias.out, p.alias.markPA)
		os.Remove(p.alias.out)
	}
	r.ConsoleLog = cfg.ConsoleLog
	r.QEMUCmdline = qemu.Quote(qemu.Command(cfg))
	os.WriteFile(filepath.Join(o.OutDir, "qemu-cmdline.sh"), []byte("#!/bin/sh\n"+r.QEMUCmdline+"\n"), 0o755)
	fmt.Fprintf(o.Progress, "[%s] booting under %s\n", r.Name(), accel)
	return finish(o, runnerFor(o.Arch).boot(ctx, p, cfg), p.start)
}

// executorScenarioBudget is what one scenario may add to an executor VM's
// lifetime: the slowest measured is about 30 s (hppa's concurrent, with
// another VM and a kernel build sharing two cores).
const executorScenarioBudget = 40 * time.Second

func label(patches []string) string {
	if len(patches) == 0 {
		return "baseline"
	}
	return strings.Join(patches, "+")
}

// progressLines forwards the agent's own progress lines from the console.
type progressLines struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (p *progressLines) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	last := strings.LastIndexByte(string(p.buf), '\n')
	if last < 0 {
		return len(b), nil
	}
	sc := bufio.NewScanner(strings.NewReader(string(p.buf[:last])))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "dirtygate: scenario ") && !strings.HasSuffix(l, "running") {
			fmt.Fprintf(p.w, "%s%s\n", p.prefix, strings.TrimPrefix(l, "dirtygate: "))
		}
	}
	p.buf = append([]byte(nil), p.buf[last+1:]...)
	return len(b), nil
}

// AgentArgs are the kernel arguments the agent reads (guest/cmd/agent):
// the scenarios to run, and those the arch skips (arches/, with reasons).
func AgentArgs(a *arches.Arch, only []string) []string {
	var args []string
	if len(only) > 0 {
		args = append(args, "dirtygate.only="+strings.Join(only, ","))
	}
	if skips := a.Skips(); len(skips) > 0 {
		var names []string
		for n := range skips {
			names = append(names, n)
		}
		sort.Strings(names)
		args = append(args, "dirtygate.skip="+strings.Join(names, ","))
	}
	return args
}
