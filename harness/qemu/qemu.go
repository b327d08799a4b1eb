// Package qemu boots one kernel and initramfs under QEMU and captures the
// console. A VM never outlives its timeout; a missing binary is an error
// naming the Debian package.
//
// Runs on the host.
package qemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"dirtygate/arches"
)

// Config is one VM.
type Config struct {
	Arch       *arches.Arch
	Kernel     string
	DTB        string // device tree, for machines that need one
	Initrd     string
	Append     []string // kernel arguments after console=, panic= and the arch's own
	Accel      string   // "kvm" or "tcg"
	Timeout    time.Duration
	ConsoleLog string    // the console is teed to this file as it arrives
	Watch      io.Writer // and to this one (progress), may be nil
	// Stdin feeds the serial console (the executor's requests); nil for none.
	Stdin *os.File
	// Plugin is a TCG plugin and its arguments (QEMU's -plugin), or "".
	Plugin string
	// Firmware is the image for -bios (harness/firmware), or "" for
	// QEMU's own.
	Firmware string
	// Ended, once closed, says the guest has said all it will (the agent's
	// last line, the executor's acknowledged reboot): QEMU then has
	// EndGrace to end by itself before it is stopped (StoppedAfterEnd),
	// instead of what is left of Timeout. nil: wait for the timeout.
	Ended    <-chan struct{}
	EndGrace time.Duration
}

// Result is what came out of the VM.
type Result struct {
	Console  []byte // the guest's serial console
	Stderr   []byte // QEMU's own messages, kept apart from the guest's
	Cmdline  []string
	Exit     error // QEMU's exit status; nil when it exited 0
	TimedOut bool
	// StoppedAfterEnd: the guest had ended (Config.Ended) but QEMU did not
	// exit within EndGrace (a reboot that hung), so it was stopped.
	StoppedAfterEnd bool
	Duration        time.Duration
	MaxRSS          int64 // QEMU's peak resident memory, bytes
}

// tsoHost: the host orders memory as x86 does (see arches.Boot.MTTCG).
const tsoHost = runtime.GOARCH == "amd64" || runtime.GOARCH == "386"

// Command is the full QEMU command line, deterministic, for running and
// for printing so a failure can be reproduced by hand.
func Command(c Config) []string {
	a := c.Arch
	args := []string{a.Boot.QEMU, "-M", a.Boot.Machine}
	if a.Boot.CPU != "" {
		args = append(args, "-cpu", a.Boot.CPU)
	}
	args = append(args, "-m", strconv.Itoa(a.Boot.MemoryMB))
	if a.Boot.SMP > 1 {
		args = append(args, "-smp", strconv.Itoa(a.Boot.SMP))
	}
	accel := c.Accel
	if accel == "" {
		accel = "tcg"
	}
	if accel == "tcg" && a.Boot.MTTCG && a.Boot.SMP > 1 && tsoHost {
		accel = "tcg,thread=multi"
	}
	args = append(args, "-accel", accel)
	// -no-reboot: the agent ends the VM with reboot(), and a panic
	// (PANIC_TIMEOUT=-1) reboots too; both then exit QEMU. -nic none
	// skips the network boot ROM.
	args = append(args, "-nographic", "-nodefaults", "-no-reboot", "-nic", "none",
		"-serial", "stdio", "-monitor", "none")
	args = append(args, a.Boot.QEMUArgs...)
	if c.Firmware != "" {
		args = append(args, "-bios", c.Firmware)
	}
	if c.Plugin != "" {
		args = append(args, "-plugin", c.Plugin)
	}
	if c.Kernel == "" { // firmware only: used to test hangs
		return args
	}
	args = append(args, "-kernel", c.Kernel)
	if c.DTB != "" {
		args = append(args, "-dtb", c.DTB)
	}
	if c.Initrd != "" {
		args = append(args, "-initrd", c.Initrd)
	}
	kargs := append([]string{"console=" + a.Boot.Console, "panic=-1", expediteRCU}, a.Boot.KernelArgs...)
	kargs = append(kargs, c.Append...)
	args = append(args, "-append", strings.Join(kargs, " "))
	return args
}

// expediteRCU makes synchronize_rcu() expedited on every kernel booted
// here: each scenario closes a vhost device and a tap, whose teardown
// waits for grace periods that, under TCG with a 250 Hz tick, took ~25 ms
// a scenario (x86_64's agent: 3.5 s without, 2.1 s with). It changes how
// long the kernel waits for readers, not what vhost writes to the log.
// Tiny RCU (uniprocessor kernels) has no such parameter and ignores it.
const expediteRCU = "rcupdate.rcu_expedited=1"

// Quote renders a command line for a shell.
func Quote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " '\"$\\|&;<>()*?[]#~`!{}") {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// MissingError is a QEMU binary that is not installed.
type MissingError struct{ Binary, Package string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s not found: install it with `apt-get install %s`", e.Binary, e.Package)
}

// Check reports whether the arch's QEMU binary is installed.
func Check(a *arches.Arch) error {
	if _, err := exec.LookPath(a.Boot.QEMU); err != nil {
		return &MissingError{Binary: a.Boot.QEMU, Package: a.Boot.QEMUPackage}
	}
	return nil
}

// Run boots the VM and waits for it to end by itself, for the timeout, or
// for ctx. The error is for failures to start QEMU at all.
func Run(ctx context.Context, c Config) (*Result, error) {
	if err := Check(c.Arch); err != nil {
		return nil, err
	}
	args := Command(c)
	res := &Result{Cmdline: args}
	var console bytes.Buffer
	outs := []io.Writer{&console}
	if c.ConsoleLog != "" {
		f, err := os.Create(c.ConsoleLog)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		outs = append(outs, f)
	}
	if c.Watch != nil {
		outs = append(outs, c.Watch)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	if c.Stdin != nil {
		cmd.Stdin = c.Stdin
	}
	cmd.Stdout = io.MultiWriter(outs...)
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(c.Timeout)
	defer timer.Stop()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	ended, grace := c.Ended, (<-chan time.Time)(nil)
wait:
	for {
		select {
		case err := <-done:
			res.Exit = err
			break wait
		case <-ended:
			ended, grace = nil, time.After(c.EndGrace)
		case <-grace:
			res.StoppedAfterEnd = true
			stop()
			break wait
		case <-timer.C:
			res.TimedOut = true
			stop()
			break wait
		case <-ctx.Done():
			stop()
			res.Exit = ctx.Err()
			break wait
		}
	}
	res.Duration = time.Since(start)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	res.Console = console.Bytes()
	res.Stderr = stderr.Bytes()
	return res, nil
}

// Marker returns a writer for the console and a channel it closes once
// want has passed through it (Config.Ended for a guest that prints its end).
func Marker(want string) (io.Writer, <-chan struct{}) {
	m := &marker{want: want, ch: make(chan struct{})}
	return m, m.ch
}

// marker is an io.Writer that closes a channel when a string has passed
// through it.
type marker struct {
	want string
	ch   chan struct{}
	seen bool
	tail []byte
}

func (m *marker) Write(p []byte) (int, error) {
	if m.seen {
		return len(p), nil
	}
	m.tail = append(m.tail, p...)
	if bytes.Contains(m.tail, []byte(m.want)) {
		m.seen = true
		close(m.ch)
	}
	if len(m.tail) > 4096 {
		m.tail = m.tail[len(m.tail)-len(m.want):]
	}
	return len(p), nil
}

// ProbeKVM decides whether KVM can run this guest here: only when the
// host matches and /dev/kvm opens, and then only if a real boot of the
// kernel under KVM reaches the agent (its first record on the console)
// within a few seconds: on some hosts /dev/kvm exists but a KVM guest
// hangs. It never waits longer than that.
func ProbeKVM(ctx context.Context, a *arches.Arch, kernel, initrd string, hostGOARCH string) (bool, string) {
	if a.Boot.KVMHost == "" || a.Boot.KVMHost != hostGOARCH {
		return false, fmt.Sprintf("tcg: KVM cannot run %s guests on a %s host", a.Name, hostGOARCH)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false, "tcg: /dev/kvm not usable: " + err.Error()
	}
	f.Close()
	const probe = 8 * time.Second
	first := &marker{want: "DGR1 0 ", ch: make(chan struct{})}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type out struct {
		r   *Result
		err error
	}
	resc := make(chan out, 1)
	go func() {
		r, err := Run(pctx, Config{Arch: a, Kernel: kernel, Initrd: initrd, Accel: "kvm",
			Timeout: probe, Watch: first, Append: []string{"dirtygate.only=none"}})
		resc <- out{r, err}
	}()
	select {
	case <-first.ch:
		cancel()
		<-resc
		return true, "kvm: a probe boot under KVM reached the agent"
	case o := <-resc:
		if o.err != nil {
			return false, "tcg: KVM probe could not start QEMU: " + o.err.Error()
		}
		if o.r.TimedOut {
			return false, fmt.Sprintf("tcg: a KVM guest did not reach the agent within %v (/dev/kvm present but guests hang)", probe)
		}
		return false, fmt.Sprintf("tcg: the KVM probe ended without reaching the agent: %v %s", o.r.Exit, bytes.TrimSpace(o.r.Stderr))
	}
}
