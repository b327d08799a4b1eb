//go:build linux

// Command agent is dirtygate's guest agent. As /init of a test kernel it
// mounts what it needs, acts as a small VMM driving /dev/vhost-net, runs the
// scenarios, sends the results to the host as framed records on the
// console, and ends the VM. Run as root on a real machine (not PID 1) it does
// the same and exits 0 on pass, 1 on findings, 2 when it could not decide.
// Runs in the guest (or on the machine under test).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/record"
	"dirtygate/vmm/scenario"
)

const version = "dirtygate-agent 1"

func main() {
	if os.Getenv(machine.HoldEnv) != "" {
		// Prestarted (the compat scenario's 32-bit agent): run when let go.
		var b [1]byte
		if n, _ := os.Stdin.Read(b[:]); n != 1 {
			os.Exit(2)
		}
	}
	start := time.Now()
	pid1 := os.Getpid() == 1
	if pid1 {
		mountAll()
	}
	opts := parseCmdline()
	if pid1 {
		// The host also has a timeout; this one lets the VM end by itself
		// with a clear line when a scenario hangs in the kernel.
		go func() {
			time.Sleep(opts.timeout)
			fmt.Fprintf(os.Stdout, "\ndirtygate: agent watchdog: no result after %v, ending the VM\n", opts.timeout)
			end(pid1, 2)
		}()
	}
	w := record.NewWriter(os.Stdout)
	if os.Getenv(record.OmitEvidenceEnv) != "" {
		w.OmitEvidence()
	}
	code := run(w, opts, start)
	end(pid1, code)
}

type options struct {
	only    map[string]bool
	skip    map[string]string // dirtygate.skip=a,b: known not to work on this arch
	timeout time.Duration
}

// parseCmdline reads dirtygate.only=a,b and dirtygate.timeout=SECONDS from
// the kernel command line (or the environment, off PID 1).
func parseCmdline() options {
	o := options{timeout: 240 * time.Second}
	b, _ := os.ReadFile("/proc/cmdline")
	fields := strings.Fields(string(b))
	if v := os.Getenv("DIRTYGATE_ONLY"); v != "" {
		fields = append(fields, "dirtygate.only="+v)
	}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "dirtygate.only":
			o.only = map[string]bool{}
			for _, n := range strings.Split(v, ",") {
				o.only[n] = true
			}
		case "dirtygate.skip":
			o.skip = map[string]string{}
			for _, n := range strings.Split(v, ",") {
				o.skip[n] = "listed in the arch's SkipScenarios (arches/)"
			}
		case "dirtygate.timeout":
			if s, err := strconv.Atoi(v); err == nil && s > 0 {
				o.timeout = time.Duration(s) * time.Second
			}
		}
	}
	return o
}

func run(w *record.Writer, o options, start time.Time) int {
	var uts unix.Utsname
	unix.Uname(&uts)
	m := machine.Native()
	l := scenario.LayoutOf(m)
	hello := record.Hello{
		Agent:     version,
		Kernel:    unix.ByteSliceToString(uts.Release[:]),
		Machine:   unix.ByteSliceToString(uts.Machine[:]),
		WordBits:  l.WordBits,
		BigEndian: l.BigEndian,
		PageSize:  os.Getpagesize(),
	}
	return scenario.Session(m, w, hello, o.only, o.skip, os.Stdout, start)
}

// mountAll mounts what an initramfs init needs: 6.1 does not mount
// devtmpfs for an initramfs.
func mountAll() {
	for _, m := range []struct{ src, dst, typ string }{
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"debugfs", "/sys/kernel/debug", "debugfs"}, // vhost_log_inject (--inject)
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil && err != unix.EBUSY {
			fmt.Fprintf(os.Stdout, "dirtygate: mount %s: %v\n", m.dst, err)
		}
	}
}

// end finishes: as PID 1 it reboots (QEMU runs with -no-reboot, so the VM
// exits; a tinyconfig kernel has no ACPI power-off); otherwise it exits.
func end(pid1 bool, code int) {
	if !pid1 {
		os.Exit(code)
	}
	fmt.Fprintf(os.Stdout, "\n%s%d\n", record.DoneLine, code)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}
