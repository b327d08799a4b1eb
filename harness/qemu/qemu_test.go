package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dirtygate/arches"
)

func TestCommand(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	c := Config{Arch: a, Kernel: "/k/bzImage", Initrd: "/k/i.gz", Accel: "tcg", Append: []string{"dirtygate.only=carry"}}
	got := Quote(Command(c))
	for _, s := range []string{"qemu-system-x86_64 -M q35", "-accel tcg", "-no-reboot", "-nic none", "-kernel /k/bzImage",
		"-initrd /k/i.gz", "-append 'console=ttyS0 panic=-1 rcupdate.rcu_expedited=1 dirtygate.only=carry'"} {
		if !strings.Contains(got, s) {
			t.Errorf("command lacks %q: %s", s, got)
		}
	}
	if Quote(Command(c)) != got {
		t.Fatal("command line not deterministic")
	}
	v5, _ := arches.Lookup("armv5")
	got = Quote(Command(Config{Arch: v5, Kernel: "/k/zImage", DTB: "/k/versatile-pb.dtb", Initrd: "/k/i.gz"}))
	for _, s := range []string{"qemu-system-arm -M versatilepb -m 256 -accel tcg", "-audiodev none,id=snd0", "-dtb /k/versatile-pb.dtb", "console=ttyAMA0"} {
		if !strings.Contains(got, s) {
			t.Errorf("armv5 command lacks %q: %s", s, got)
		}
	}
	if strings.Contains(got, "-smp") {
		t.Errorf("armv5 is uniprocessor: %s", got)
	}
	// hppa's vCPUs each get a thread (QEMU would run them in turn), not
	// under KVM, and x86_64's keep QEMU's default (already one each).
	hp, _ := arches.Lookup("hppa")
	want := "-smp 2 -accel tcg,thread=multi"
	if !tsoHost {
		want = "-smp 2 -accel tcg "
	}
	if got := Quote(Command(Config{Arch: hp, Kernel: "/k/vmlinux"})); !strings.Contains(got, want) {
		t.Errorf("hppa command lacks %q: %s", want, got)
	}
	if got := Quote(Command(Config{Arch: hp, Kernel: "/k/vmlinux", Accel: "kvm"})); !strings.Contains(got, "-accel kvm ") {
		t.Errorf("hppa under kvm: %s", got)
	}
	if got := Quote(Command(c)); strings.Contains(got, "thread=") {
		t.Errorf("x86_64 keeps QEMU's default threading: %s", got)
	}
	hppa, _ := arches.Lookup("hppa")
	got = Quote(Command(Config{Arch: hppa, Kernel: "/k/vmlinux", Append: []string{"dirtygate.only=carry"}}))
	if !strings.Contains(got, "-append 'console=ttyS0,115200 panic=-1 rcupdate.rcu_expedited=1 slub_max_order=4 lpj=2752512 dirtygate.only=carry'") {
		t.Errorf("hppa command lacks its machine's kernel arguments: %s", got)
	}
	got = Quote(Command(Config{Arch: hppa, Kernel: "/k/vmlinux", Firmware: "/c/firmware/hppa-firmware.img-1"}))
	if !strings.Contains(got, " -bios /c/firmware/hppa-firmware.img-1 ") || strings.Contains(Quote(Command(Config{Arch: hppa, Kernel: "/k/vmlinux"})), "-bios") {
		t.Errorf("hppa's firmware goes on -bios only when given: %s", got)
	}
}

func TestMissingBinary(t *testing.T) {
	a := &arches.Arch{Name: "x", Boot: arches.Boot{QEMU: "qemu-system-nonexistent", QEMUPackage: "qemu-system-misc"}}
	_, err := Run(context.Background(), Config{Arch: a, Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "apt-get install qemu-system-misc") {
		t.Fatalf("err = %v", err)
	}
}

// A VM that never ends is killed at its timeout and says so. QEMU with no
// kernel sits in firmware (SeaBIOS: no bootable device) forever: a real
// hang, no guest needed.
func TestTimeoutKills(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	if err := Check(a); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "console.log")
	hang := *a
	hang.Boot.QEMUArgs = nil // SeaBIOS finds nothing to boot and waits
	start := time.Now()
	res, err := Run(context.Background(), Config{Arch: &hang, Accel: "tcg", Timeout: 3 * time.Second, ConsoleLog: log})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || time.Since(start) > 20*time.Second {
		t.Fatalf("timed out %v after %v (exit %v)\n%s", res.TimedOut, time.Since(start), res.Exit, res.Console)
	}
	if _, err := os.Stat(log); err != nil {
		t.Fatal(err)
	}
}

// A guest that has said all it would (Config.Ended) but whose VM does not
// end is stopped after EndGrace, not at its timeout, and says which.
func TestEndedStopsAfterGrace(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	if err := Check(a); err != nil {
		t.Fatal(err)
	}
	hang := *a
	hang.Boot.QEMUArgs = nil // SeaBIOS finds nothing to boot and waits
	ended := make(chan struct{})
	close(ended)
	start := time.Now()
	res, err := Run(context.Background(), Config{Arch: &hang, Accel: "tcg", Timeout: 2 * time.Minute, Ended: ended, EndGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedAfterEnd || res.TimedOut || time.Since(start) > 30*time.Second {
		t.Fatalf("stopped after end %v, timed out %v, after %v", res.StoppedAfterEnd, res.TimedOut, time.Since(start))
	}
}

func TestMarker(t *testing.T) {
	w, ch := Marker("agent done, exit ")
	for _, part := range []string{"DGR1 32 0/1 final x\n\ndirtygate: agent d", "one, exi", "t 1\n"} {
		select {
		case <-ch:
			t.Fatalf("closed before %q", part)
		default:
		}
		w.Write([]byte(part))
	}
	select {
	case <-ch:
	default:
		t.Fatal("the line passed and the channel is open")
	}
	w.Write([]byte("more")) // after: no second close
}
