// Package run does one dirtygate run: kernel, agent, initramfs, VM,
// records, verdict. Anything that stops it from deciding becomes an
// "error" verdict with the cause and the paths needed to reproduce it;
// nothing that could not decide is ever reported as a pass.
package run

import (
	"bufio"
	"bytes"
	"context"
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
	"dirtygate/guest/oracle"
	"dirtygate/guest/record"
	"dirtygate/guest/scenario"
	"dirtygate/harness/agentbuild"
	"dirtygate/harness/aliasmodel"
	"dirtygate/harness/console"
	"dirtygate/harness/initramfs"
	"dirtygate/harness/kbuild"
	"dirtygate/harness/qemu"
	"dirtygate/harness/report"
	"dirtygate/kernels"
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
	// kernels.AliasPatch after the patches and loads the plugin.
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
	alias  *aliasSetup // --alias-model
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
// the finished report saying why.
func Prepare(ctx context.Context, o Options) (*Prepared, *report.Report) {
	start := time.Now()
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	r := &report.Report{Arch: o.Arch.Name, Patches: []string{},
		EmulationNote: report.EmulationNote(o.Arch.Name, o.Arch.AliasingCaches)}
	fail := func(format string, a ...any) (*Prepared, *report.Report) {
		r.Error = fmt.Sprintf(format, a...)
		return nil, finish(o, r, start)
	}
	if o.Arch.Unsupported != "" {
		return fail("%s cannot run here: %s", o.Arch.Name, o.Arch.Unsupported)
	}
	if o.AliasModel {
		if o.Arch.KernelArch != "parisc" || !o.Arch.UsesExecutor() {
			return fail("--alias-model: the cache model exists for hppa only (PA-RISC's caches, its kernel's flush primitives, the executor's log reads); %s has none", o.Arch.Name)
		}
		r.EmulationNote = report.AliasModelNote(o.Arch.Name)
		r.AliasModel.On = true
	}

	// Source and patches.
	src, err := kernels.Resolve(ctx, o.Kernel, o.CacheDir, o.Progress)
	if err != nil {
		return fail("kernel source: %v", err)
	}
	r.Kernel.Name, r.Kernel.Source, r.Kernel.Version, r.Kernel.Rev = src.Name, src.ID, src.Version, src.Rev
	if src.Origin != "" {
		r.Kernel.Source += " of " + src.Origin // git:SHA of the tree it came from
	}
	var patches []kernels.Patch
	names := o.Patches
	if o.Inject {
		names = append(append([]string(nil), names...), kernels.InjectPatch)
	}
	if o.AliasModel {
		names = append(append([]string(nil), names...), kernels.AliasPatch)
	}
	for _, a := range names {
		ps, err := kernels.ResolvePatchFor(a, src.Series())
		if err != nil {
			return fail("%v", err)
		}
		patches = append(patches, ps...)
	}
	for _, p := range patches {
		r.Patches = append(r.Patches, p.Name)
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.CacheDir, "runs", fmt.Sprintf("%s-%s-%s-%s", o.Arch.Name, src.Name, label(r.Patches), time.Now().Format("20060102-150405.000")))
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return fail("output directory: %v", err)
	}
	if err := qemu.Check(o.Arch); err != nil {
		return fail("%v", err)
	}

	// Kernel.
	req := kbuild.Request{Arch: o.Arch, Source: src, Patches: patches,
		CacheDir: o.CacheDir, Jobs: o.Jobs, Progress: o.Progress}
	if o.DebugKernel {
		req.Extra = kernels.DebugFragment(o.Arch.KASAN, o.Arch.DebugExclude)
		r.Kernel.Debug = true
	}
	k, err := kbuild.Build(ctx, req)
	if err != nil {
		return fail("kernel build: %v", err)
	}
	r.Kernel.ConfigHash, r.Kernel.Config, r.Kernel.Patchfile, r.Kernel.Cached = k.ConfigHash, k.Config, k.Patchfile, k.Cached
	// Everything needed to reproduce the run sits in its output directory.
	copyFile(k.Config, filepath.Join(o.OutDir, "kernel.config"))
	if k.Patchfile != "" {
		copyFile(k.Patchfile, filepath.Join(o.OutDir, "patches.diff"))
	}
	if !k.Cached {
		r.Timings.Build = k.BuildTime.Seconds()
	}

	if o.Arch.BuildOnly != "" {
		r.Scenarios = append(r.Scenarios, record.Scenario{Name: KernelBuild, Status: record.Pass,
			Notes: []string{"the kernel with these patches compiles; it is not booted: " + o.Arch.BuildOnly}})
		return nil, finish(o, r, start)
	}

	var alias *aliasSetup
	if o.AliasModel {
		markPA, syms, err := aliasmodel.CheckKernel(ctx, o.Arch.CrossCompile, k.Image)
		if err != nil {
			return fail("%v", err)
		}
		so, err := aliasmodel.BuildPlugin(ctx, o.CacheDir)
		if err != nil {
			return fail("%v", err)
		}
		alias = &aliasSetup{plugin: so, out: filepath.Join(o.OutDir, "alias-model.txt"), markPA: markPA, syms: syms}
	}

	// Agent (or executor) and initramfs.
	build := agentbuild.Build
	if o.Arch.UsesExecutor() {
		build = agentbuild.BuildExecutor
	}
	agent, err := build(ctx, o.Arch, o.OutDir)
	if err != nil {
		return fail("%v", err)
	}
	init, err := os.ReadFile(agent)
	if err != nil {
		return fail("%v", err)
	}
	extra := map[string][]byte{}
	if o.Arch.CompatGOARCH != "" && !o.Arch.UsesExecutor() && (len(o.Only) == 0 || slices.Contains(o.Only, "compat")) {
		a32, err := agentbuild.BuildCompat(ctx, o.Arch, o.OutDir)
		if err != nil {
			return fail("%v", err)
		}
		if extra[scenario.CompatAgent], err = os.ReadFile(a32); err != nil {
			return fail("%v", err)
		}
	}
	initrd := filepath.Join(o.OutDir, "initramfs.cpio.gz")
	if err := initramfs.Write(initrd, init, extra); err != nil {
		return fail("%v", err)
	}
	return &Prepared{o: o, r: r, start: start, kernel: k, initrd: initrd, alias: alias}, nil
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
	timeout := o.Arch.BootTimeout
	if o.Arch.UsesExecutor() {
		// The executor's VM lives while the host drives every scenario
		// over the console (hppa: 2-4 minutes for all of them, more
		// under load): the boot budget plus one per scenario.
		n := len(o.Only)
		if n == 0 {
			n = len(scenario.All())
		}
		timeout += time.Duration(n) * executorScenarioBudget
	}
	if o.DebugKernel {
		// KASAN and lockdep make a TCG guest several times slower.
		timeout *= 4
		args = append(args, fmt.Sprintf("dirtygate.timeout=%d", int(timeout.Seconds())))
	}
	cfg := qemu.Config{Arch: o.Arch, Kernel: k.Image, DTB: k.DTB, Initrd: p.initrd, Append: args, Accel: accel,
		Timeout: timeout, ConsoleLog: filepath.Join(o.OutDir, "console.log"),
		Watch: &progressLines{w: o.Progress, prefix: "[" + r.Name() + "] "}}
	if p.alias != nil {
		cfg.Plugin = aliasmodel.PluginArg(p.alias.plugin, p.alias.out, p.alias.markPA)
		os.Remove(p.alias.out)
	}
	r.ConsoleLog = cfg.ConsoleLog
	r.QEMUCmdline = qemu.Quote(qemu.Command(cfg))
	os.WriteFile(filepath.Join(o.OutDir, "qemu-cmdline.sh"), []byte("#!/bin/sh\n"+r.QEMUCmdline+"\n"), 0o755)
	fmt.Fprintf(o.Progress, "[%s] booting under %s\n", r.Name(), accel)
	if o.Arch.UsesExecutor() {
		return finish(o, bootExecutor(ctx, p, cfg), p.start)
	}
	res, err := qemu.Run(ctx, cfg)
	if err != nil {
		r.Error = err.Error()
		return finish(o, r, p.start)
	}
	Judge(r, res, cfg, nil)
	return finish(o, r, p.start)
}

// KernelBuild is the one scenario of a build-only arch.
const KernelBuild = "kernel-build"

// Judge fills the report from what a VM (or real hardware) printed:
// records, splats, and the host's re-run of the oracle. The records are
// on the console, or in records when the host produced them itself
// (executor runs).
func Judge(r *report.Report, res *qemu.Result, cfg qemu.Config, records []byte) {
	if records == nil {
		records = res.Console
	}
	started := agentStart(res.Console)
	for _, s := range console.Scan(res.Console) {
		if why := bootArtifact(cfg.Arch, s, started); why != "" {
			r.Artifacts = append(r.Artifacts, s.Title+": "+why)
			continue
		}
		r.AddSplat(s.Title, s.Quote)
	}
	st, perr := record.Parse(records)
	if st != nil {
		r.Problems = st.Problems
		for _, rec := range st.Records {
			switch rec.Type {
			case record.TypeHello:
				var h record.Hello
				if rec.Into(&h) == nil {
					r.Agent = &h
				}
			case record.TypeScenario:
				var s record.Scenario
				if err := rec.Into(&s); err != nil {
					r.Error = err.Error()
					continue
				}
				if why, ok := skipReason(cfg.Arch, s.Name); ok && s.Status == record.Skip {
					// The kernel command line carried only the name.
					s.Notes = []string{"skipped on this arch: " + why}
				}
				if msg := crossCheck(s); msg != "" && r.Error == "" {
					r.Error = msg
				}
				r.Scenarios = append(r.Scenarios, s)
			}
		}
	}
	agent := 0.0
	if st != nil && st.Final != nil {
		agent = float64(st.Final.Millis) / 1000
	}
	r.Timings.Agent = agent
	r.Timings.Boot = max(0, res.Duration.Seconds()-agent)
	r.Timings.VMMaxRSS = float64(res.MaxRSS) / (1 << 20)
	switch {
	case res.TimedOut:
		r.Error = fmt.Sprintf("the VM did not end within %v (boot hang or agent hang); see the console log", cfg.Timeout)
	case perr != nil && len(console.Scan(res.Console)) > 0:
		r.Error = fmt.Sprintf("the kernel crashed before the agent finished (%v)", perr)
	case perr != nil:
		r.Error = fmt.Sprintf("the agent's results are incomplete: %v", perr)
	case r.Agent == nil:
		r.Error = "no hello record from the agent"
	}
	if r.Error != "" && res.Exit != nil {
		r.Error += fmt.Sprintf(" (QEMU: %v)", res.Exit)
	}
	if r.Error != "" && len(bytes.TrimSpace(res.Stderr)) > 0 {
		r.Error += "; QEMU said: " + string(bytes.TrimSpace(res.Stderr))
	}
}

// agentStart is the console line where the agent or executor first spoke
// (1-based); 0 when it never did.
func agentStart(log []byte) int {
	for i, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "DGR1 0 ") || strings.Contains(l, executorReady) {
			return i + 1
		}
	}
	return 0
}

// bootArtifact explains a splat the arch is known to raise at every boot,
// when it came before the agent started.
func bootArtifact(a *arches.Arch, s console.Splat, started int) string {
	if a == nil || started == 0 || s.Line >= started {
		return ""
	}
	for _, k := range a.BootArtifacts {
		if strings.Contains(s.Title, k.Match) {
			return k.Why
		}
	}
	return ""
}

// executorScenarioBudget is what one scenario may add to an executor VM's
// lifetime: the slowest measured is about 30 s (hppa's concurrent, with
// another VM and a kernel build sharing two cores).
const executorScenarioBudget = 40 * time.Second

// skipReason is why arch a skips scenario name, if it does.
func skipReason(a *arches.Arch, name string) (string, bool) {
	if a == nil {
		return "", false
	}
	why, ok := a.Skips()[name]
	return why, ok
}

// crossCheck re-runs the oracle on the scenario's evidence on the host: a
// guest whose oracle disagrees with the host's cannot be trusted.
func crossCheck(s record.Scenario) string {
	if s.Evidence == nil {
		return ""
	}
	l, e, err := s.Evidence.Oracle()
	if err != nil {
		return fmt.Sprintf("scenario %s: unreadable evidence: %v", s.Name, err)
	}
	host := map[oracle.Kind]int{}
	for _, f := range oracle.Check(l, e) {
		host[f.Kind]++
	}
	guest := map[oracle.Kind]int{}
	for _, f := range s.Findings {
		if !oracle.OutsideBitmap(f.Kind) {
			guest[f.Kind]++
		}
	}
	if fmt.Sprint(host) != fmt.Sprint(guest) {
		return fmt.Sprintf("scenario %s: the host's oracle (%v) disagrees with the guest's (%v)", s.Name, host, guest)
	}
	return ""
}

// copyFile copies a small file; a failure only loses a convenience copy.
func copyFile(src, dst string) {
	if b, err := os.ReadFile(src); err == nil {
		os.WriteFile(dst, b, 0o644)
	}
}

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
