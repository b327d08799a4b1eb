package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"dirtygate/arches"
	"dirtygate/harness/agentbuild"
	"dirtygate/harness/initramfs"
	"dirtygate/harness/judge"
	"dirtygate/harness/qemu"
	"dirtygate/harness/report"
	"dirtygate/vmm/record"
	"dirtygate/vmm/scenario"
)

// runner is how the scenarios of an arch's guest program run
// (arches.Arch.Guest): the Go agent runs them in the guest and prints its
// records; for the C executor the host runs them and drives the guest over
// the console. Build-only and unsupported arches never reach a runner:
// Prepare ends their runs (arches.Mode).
type runner interface {
	// program builds the guest's /init (or the program a --target runs).
	program(ctx context.Context, a *arches.Arch, outDir, cacheDir string) (string, error)
	// perScenario is what each scenario adds to the VM's lifetime.
	perScenario() time.Duration
	// boot runs the prepared VM and judges it.
	boot(ctx context.Context, p *Prepared, cfg qemu.Config) *report.Report
	// onTarget runs the scenarios on a machine dirtygate did not boot.
	onTarget(t *targetRun)
}

func runnerFor(a *arches.Arch) runner {
	if a.Guest() == arches.ProgramExecutor {
		return executorRunner{}
	}
	return agentRunner{}
}

// agentRunner: the agent is /init, runs every scenario, prints records.
type agentRunner struct{}

func (agentRunner) program(ctx context.Context, a *arches.Arch, outDir, cacheDir string) (string, error) {
	return agentbuild.Build(ctx, a, outDir, cacheDir)
}

func (agentRunner) perScenario() time.Duration { return 0 }

func (agentRunner) boot(ctx context.Context, p *Prepared, cfg qemu.Config) *report.Report {
	done, ended := qemu.Marker(record.DoneLine)
	if cfg.Watch != nil {
		done = io.MultiWriter(cfg.Watch, done)
	}
	cfg.Watch, cfg.Ended = done, ended
	res, err := qemu.Run(ctx, cfg)
	if err != nil {
		p.r.SetError(report.StageBoot, "", err.Error())
		return p.r
	}
	judge.Judge(p.r, judge.Input{Arch: p.o.Arch, Console: res.Console, VM: vmOf(res, cfg)})
	return p.r
}

// vmOf is how a VM ended, for the judge.
func vmOf(res *qemu.Result, cfg qemu.Config) *judge.VM {
	vm := &judge.VM{Duration: res.Duration, MaxRSS: res.MaxRSS, TimedOut: res.TimedOut, Timeout: cfg.Timeout,
		Exit: res.Exit, Stderr: res.Stderr}
	if res.StoppedAfterEnd {
		vm.StoppedAfter = cfg.EndGrace
	}
	return vm
}

// endGrace is how long a VM may take to end once its guest has said all
// it would: a reboot takes well under a second here; one of s390x's, under
// TCG, never reached QEMU (README, The two commands), and the run then
// waited out its whole timeout for nothing.
const endGrace = 30 * time.Second

func (agentRunner) onTarget(t *targetRun) {
	// The agent prints its records and exits.
	io.Copy(t.sink(&progressLines{w: t.o.Progress, prefix: "[" + t.o.Arch.Name + " target] "}), t.conn.Out)
	t.judge(nil)
}

// executorRunner: the executor is /init; the host runs the scenarios.
type executorRunner struct{}

func (executorRunner) program(ctx context.Context, a *arches.Arch, outDir, cacheDir string) (string, error) {
	return agentbuild.BuildExecutor(ctx, a, outDir, cacheDir)
}

// The executor's VM lives while the host drives every scenario over the
// console (hppa: 2-4 minutes for all of them, more under load).
func (executorRunner) perScenario() time.Duration { return executorScenarioBudget }

func (executorRunner) boot(ctx context.Context, p *Prepared, cfg qemu.Config) *report.Report {
	return bootExecutor(ctx, p, cfg)
}

func (executorRunner) onTarget(t *targetRun) { targetExecutor(t) }

// Initramfs builds arch a's guest program (the agent or the executor) and,
// where the compat scenario is among only (empty: all), the 32-bit agent,
// and writes them as an initramfs in outDir: what a run boots, and what
// `dirtygate lava` hands a lab.
func Initramfs(ctx context.Context, a *arches.Arch, outDir, cacheDir string, only []string) (string, error) {
	init, extra, err := guestPrograms(ctx, a, outDir, cacheDir, only)
	if err != nil {
		return "", err
	}
	initrd := filepath.Join(outDir, "initramfs.cpio.gz")
	if err := initramfs.Write(initrd, init, extra); err != nil {
		return "", err
	}
	return initrd, nil
}

// guestPrograms builds what Initramfs packs: /init's bytes and the extra
// files. The two agents build side by side (each `go build`, even with
// nothing to compile, is ~0.4 s), or come from the cache (agentbuild's
// agentCached).
func guestPrograms(ctx context.Context, a *arches.Arch, outDir, cacheDir string, only []string) ([]byte, map[string][]byte, error) {
	extra := map[string][]byte{}
	compat := make(chan error, 1)
	if a.HasCompatAgent() && (len(only) == 0 || slices.Contains(only, "compat")) {
		go func() {
			a32, err := agentbuild.BuildCompat(ctx, a, outDir, cacheDir)
			if err == nil {
				extra[scenario.CompatAgent], err = os.ReadFile(a32)
			}
			compat <- err
		}()
	} else {
		compat <- nil
	}
	prog, err := runnerFor(a).program(ctx, a, outDir, cacheDir)
	if cerr := <-compat; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	init, err := os.ReadFile(prog)
	return init, extra, err
}

// warmGuest starts building the guest programs into the cache, beside the
// source's unpacking and the kernel's build, and returns what waits for
// it: buildGuest then copies them from the cache. On a fresh machine the
// 32-bit agent's compile (Go's standard library for 386, ~22 CPU-s) took
// ~15 s after x86_64's kernel was built, with nothing left to run beside
// it; now it compiles while the source unpacks (xz keeps one core busy)
// and the kernel builds.
// Whatever goes wrong here is left to buildGuest, which builds again and
// reports it.
func warmGuest(ctx context.Context, o Options) (wait func()) {
	if o.CacheDir == "" || o.Arch.Mode == arches.BuildOnly || o.Arch.Mode == arches.Unsupported {
		return func() {}
	}
	dir, err := os.MkdirTemp("", "dirtygate-guest-")
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer os.RemoveAll(dir)
		guestPrograms(ctx, o.Arch, dir, o.CacheDir, o.Only)
	}()
	return func() { <-done }
}

// vmTimeout is the VM's lifetime: the arch's boot budget, plus each
// scenario's share where the host drives them.
func vmTimeout(o Options) time.Duration {
	n := len(o.Only)
	if n == 0 {
		n = len(scenario.All())
	}
	return o.Arch.Boot.Timeout + time.Duration(n)*runnerFor(o.Arch).perScenario()
}

// buildOnlyNote is the note of a build-only arch's kernel-build scenario.
func buildOnlyNote(why string) string {
	return fmt.Sprintf("the kernel with these patches compiles; it is not booted: %s", why)
}
