package console

import (
	"os"
	"strings"
	"testing"
)

// Real console text from 6.1 x86_64 guests (an init that exited, and a
// WARN_ON), trimmed.
const panicLog = `[    0.713091] Run /init as init process
[    0.745310] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100
[    0.745921] CPU: 0 PID: 1 Comm: init Not tainted 6.1.192 #1
[    0.746357] Call Trace:
[    0.746500]  <TASK>
[    0.746620]  dump_stack_lvl+0x34/0x48
[    0.746830]  panic+0x11e/0x2c8
[    0.747002] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100 ]---
`

const warnLog = `dirtygate: scenario carry: running
[    1.101] ------------[ cut here ]------------
[    1.102] WARNING: CPU: 1 PID: 57 at drivers/vhost/vhost.c:1903 log_write+0x5d/0x90
[    1.103] Modules linked in:
[    1.104] Call Trace:
[    1.105]  <TASK>
[    1.106] ---[ end trace 0000000000000000 ]---
dirtygate: scenario carry: pass (52 ms)
[    1.200] BUG: unable to handle page fault for address: 0000000000001000
`

func TestScan(t *testing.T) {
	real, err := os.ReadFile("testdata/panic-x86_64.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := Scan(real)
	if len(s) != 1 || !strings.HasPrefix(s[0].Title, "Kernel panic - not syncing: Attempted to kill init!") ||
		!strings.Contains(s[0].Quote, "do_exit") {
		t.Fatalf("panic: %+v", s)
	}
	s = Scan([]byte(warnLog))
	if len(s) != 2 {
		t.Fatalf("want WARNING and BUG, got %+v", s)
	}
	if !strings.Contains(s[0].Title, "WARNING: CPU: 1") || !strings.Contains(s[0].Quote, "end trace") {
		t.Errorf("warning: %+v", s[0])
	}
	if !strings.Contains(s[1].Title, "BUG: unable to handle page fault") {
		t.Errorf("bug: %+v", s[1])
	}
}

// A real, healthy ppc64 pseries boot and agent run: its plain
// "WARNING: nvram corruption detected" is a driver message, not a splat.
func TestRealCleanPPC64Boot(t *testing.T) {
	b, err := os.ReadFile("testdata/clean-ppc64.txt")
	if err != nil {
		t.Fatal(err)
	}
	if s := Scan(b); len(s) != 0 {
		t.Fatalf("false splat: %+v", s[0].Title)
	}
}

func TestCleanBootHasNoSplat(t *testing.T) {
	clean := "[    0.5] tun: Universal TUN/TAP device driver, 1.6\ndirtygate: scenario carry: fail (10 ms)\n" +
		"dirtygate: agent watchdog: BUG: not a kernel line\nreboot: Restarting system\n"
	if s := Scan([]byte(clean)); len(s) != 0 {
		t.Fatalf("false splat: %+v", s)
	}
}
