package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"dirtygate/harness/executor"
	"dirtygate/harness/judge"
	"dirtygate/harness/qemu"
	"dirtygate/harness/report"
	"dirtygate/vmm/machine"
	"dirtygate/vmm/record"
	"dirtygate/vmm/scenario"
	"dirtygate/vmm/vhost"
)

// executorVersion names the agent in the hello record of executor runs.
const executorVersion = "dirtygate host agent driving dirtygate-executor 4"

// bootExecutor boots a guest whose /init is the C executor and runs the
// scenarios here, against it, over the console. The records the agent
// would print are produced here and judged like an agent's.
func bootExecutor(ctx context.Context, p *Prepared, cfg qemu.Config) *report.Report {
	o, r := p.o, p.r
	inR, inW, err := os.Pipe()
	if err != nil {
		r.SetError(report.StageSetup, "", err.Error())
		return r
	}
	defer inR.Close()
	defer inW.Close()
	client := executor.NewClient(inW, o.Arch.MachineABI(), o.Arch.Errnos())
	cfg.Stdin = inR
	ended := make(chan struct{})
	cfg.Ended = ended
	if cfg.Watch != nil {
		cfg.Watch = io.MultiWriter(cfg.Watch, client.Scanner())
	} else {
		cfg.Watch = client.Scanner()
	}
	vm := startVM(ctx, cfg, inR)
	defer vm.stop()

	var records bytes.Buffer
	var progress io.Writer = &progressLines{w: o.Progress, prefix: "[" + r.Name() + "] "}
	var m machine.Machine = client
	var watch *aliasWatch
	if p.alias != nil {
		watch = newAliasWatch(client, p.alias.out, vhost.RequestsFor(o.Arch.ABI.Ioctl), o.Arch.ABI.BigEndian)
		defer watch.close()
		m, progress = watch, watch.progress(progress)
	}
	calls := newScenarioCalls(client)
	progress = onScenario(progress, calls.start)
	driveErr := drive(client, m, o, &records, progress, true)
	if driveErr == nil {
		// The executor reboots; QEMU (-no-reboot) exits.
		if err := client.Reboot(); err != nil {
			driveErr = fmt.Errorf("ending the VM: %w", err)
		} else {
			close(ended) // the executor acknowledged: it reboots now
		}
	}
	v := vm.wait(errors.Is(driveErr, executor.ErrLost), driveErr != nil)
	if v.err != nil {
		r.SetError(report.StageBoot, "", v.err.Error())
		return r
	}
	judge.Judge(r, judge.Input{Arch: o.Arch, Console: v.res.Console, Records: records.Bytes(), VM: vmOf(v.res, cfg)})
	if watch != nil {
		judgeAlias(r, watch, p.alias)
	}
	r.Transport = client.Stats().Summary("the console")
	if per := calls.summary(); per != "" {
		r.Transport += "; " + per
	}
	if driveErr != nil {
		r.SetError(report.StageTransport, "", "executor: "+driveErr.Error())
		if v.res.TimedOut {
			r.Error += fmt.Sprintf(" (the VM did not end within %v)", cfg.Timeout)
		}
	}
	return r
}

// executorVM is QEMU running in the background while the host drives
// the executor.
type executorVM struct {
	stop func()
	done chan vmResult
}

type vmResult struct {
	res *qemu.Result
	err error
}

// startVM starts QEMU; stdin is the read end of the pipe the client writes.
func startVM(ctx context.Context, cfg qemu.Config, stdin *os.File) *executorVM {
	vmctx, stop := context.WithCancel(ctx)
	vm := &executorVM{stop: stop, done: make(chan vmResult, 1)}
	go func() {
		res, err := qemu.Run(vmctx, cfg)
		// QEMU is gone: close our copy of its stdin's read end, so a
		// request blocked writing into a full pipe fails (EPIPE) instead
		// of waiting for a reader that will never come.
		stdin.Close()
		vm.done <- vmResult{res, err}
	}()
	return vm
}

// wait returns QEMU's result once it has ended. A guest that stopped
// answering (lost) may be about to say why (an RCU stall is reported after
// 21 s, a hung task later): its console gets a little time before the VM is
// stopped. Otherwise a failed drive (failed) stops the VM at once.
func (vm *executorVM) wait(lost, failed bool) vmResult {
	switch {
	case lost:
		select {
		case v := <-vm.done:
			return v
		case <-time.After(stallGrace):
		}
		vm.stop()
	case failed:
		vm.stop()
	}
	return <-vm.done
}

// stallGrace is how long a VM whose executor stopped answering may keep
// printing before it is stopped: past 6.1's 21 s RCU stall timeout.
const stallGrace = 30 * time.Second

// drive waits for the executor, checks it runs on what arches/ says, and
// runs the scenarios through it.
func drive(c *executor.Client, m machine.Machine, o Options, records io.Writer, progress io.Writer, fresh bool) error {
	if fresh {
		if err := c.WaitReady(o.Arch.Boot.Timeout); err != nil {
			return err
		}
	}
	start := time.Now() // the agent's time starts when the executor is up
	h, err := c.Hello()
	if err != nil {
		return err
	}
	a := o.Arch
	if h.WordBytes*8 != a.ABI.WordBits || h.BigEndian != a.ABI.BigEndian {
		return fmt.Errorf("the executor reports a %d-bit %s machine (%s); arches/%s.go says %d-bit %s",
			h.WordBytes*8, endian(h.BigEndian), h.Machine, a.Name, a.ABI.WordBits, endian(a.ABI.BigEndian))
	}
	var only map[string]bool
	if len(o.Only) > 0 {
		only = map[string]bool{}
		for _, n := range o.Only {
			only[n] = true
		}
	}
	hello := record.Hello{Agent: executorVersion, Kernel: h.Release, Machine: h.Machine,
		WordBits: a.ABI.WordBits, BigEndian: a.ABI.BigEndian, PageSize: a.MachineABI().PageSize}
	w := record.NewWriter(records)
	scenario.Session(m, w, hello, only, a.Skips(), progress, start)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("after the last scenario: %w", err) // the last teardown's, found when Session settled
	}
	return nil
}

func endian(big bool) string {
	if big {
		return "big-endian"
	}
	return "little-endian"
}
