package lava_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"dirtygate/harness/judge"
	"dirtygate/harness/lava"
	"dirtygate/harness/report"
)

// jobLog wraps a real console the way LAVA's dispatcher logs a job
// (output.yaml, `lavacli jobs logs --raw`): one {dt, lvl, msg} per line,
// the device's lines as "target", the dispatcher's own around them, and a
// results entry whose msg is a mapping.
func jobLog(console string) string {
	var b strings.Builder
	t := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	entry := func(lvl, msg string) {
		t = t.Add(1500 * time.Microsecond)
		fmt.Fprintf(&b, "- {\"dt\": \"%s\", \"lvl\": \"%s\", \"msg\": %q}\n", t.Format("2006-01-02T15:04:05.000000"), lvl, msg)
	}
	entry("info", "lava-dispatcher, installed at version: 2023.01")
	entry("info", "start: 2.1.1 execute-qemu (timeout 00:05:00) [common]")
	entry("debug", "Boot command: qemu-system-x86_64 -cpu qemu64 -machine q35 -m 512 -nographic -kernel /var/lib/lava/dispatcher/tmp/1/deployimages-x/kernel/bzImage -initrd ...")
	for i, l := range strings.Split(strings.ReplaceAll(console, "\r", ""), "\n") {
		entry("target", l)
		if i == 3 {
			entry("debug", "Matched prompt #0: Linux version [0-9]")
		}
	}
	fmt.Fprintf(&b, "- {\"dt\": \"%s\", \"lvl\": \"results\", \"msg\": {\"case\": \"rx-spread\", \"definition\": \"0_dirtygate\", \"result\": \"fail\"}}\n", t.Format("2006-01-02T15:04:05.000000"))
	entry("info", "Job finished correctly")
	return b.String()
}

func judged(console []byte) *report.Report {
	r := &report.Report{Arch: "unknown"}
	judge.Judge(r, judge.Input{Console: console})
	r.Decide()
	return r
}

// captures: real consoles. testdata/console-s390x-rfc-v2-lava-qemu.txt.gz
// is the initramfs `dirtygate lava --arch s390x --patch rfc-v2` wrote,
// booted with its kernel the way LAVA's qemu device type runs a job
// (qemu-system-s390x -nographic -net nic,model=virtio,macaddr=... -net
// user -m 512 -monitor none -no-reboot -smp 2 -kernel bzImage -append
// '<the job's image_arg>' -initrd initramfs.cpio.gz).
var captures = []string{"testdata/console-s390x-rfc-v2-lava-qemu.txt.gz",
	"../../vmm/record/testdata/console-x86_64-rfc-v2.txt", "../../vmm/record/testdata/console-x86_64-baseline.txt"}

func readCapture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// A LAVA job's log of a real run is judged exactly as the run's console.
func TestParseOfALAVAJobLog(t *testing.T) {
	for _, f := range captures {
		raw := readCapture(t, f)
		log := []byte(jobLog(string(raw)))
		if !lava.IsJobLog(log) || lava.IsJobLog(raw) {
			t.Fatalf("%s: IsJobLog wrong (log %v, console %v)", f, lava.IsJobLog(log), lava.IsJobLog(raw))
		}
		console, err := lava.Console(log)
		if err != nil {
			t.Fatal(err)
		}
		if c := strings.ReplaceAll(string(raw), "\r", "") + "\n"; string(console) != c {
			t.Fatalf("%s: the console from the LAVA log differs from the captured one (%d bytes, want %d)", f, len(console), len(c))
		}
		want, got := judged(raw), judged(console)
		if want.Verdict == report.Error || got.Verdict != want.Verdict || len(got.Scenarios) != len(want.Scenarios) {
			t.Fatalf("%s: from the LAVA log %s (%s, %d scenarios), from the console %s (%d)", f, got.Verdict, got.Error, len(got.Scenarios), want.Verdict, len(want.Scenarios))
		}
		for i, s := range got.Scenarios {
			w := want.Scenarios[i]
			if s.Name != w.Name || s.Status != w.Status || len(s.Findings) != len(w.Findings) {
				t.Errorf("%s: %s %s (%d findings), the console says %s %s (%d)", f, s.Name, s.Status, len(s.Findings), w.Name, w.Status, len(w.Findings))
			}
		}
	}
}

// A LAVA log cut short (the device stopped printing mid-run) could not
// decide; it is never a pass.
func TestATruncatedLAVAJobLogCannotPass(t *testing.T) {
	raw := readCapture(t, captures[0])
	lines := strings.Split(string(raw), "\n")
	log := jobLog(strings.Join(lines[:len(lines)*2/3], "\n"))
	console, err := lava.Console([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	if r := judged(console); r.Verdict != report.Error {
		t.Errorf("a truncated job log was judged %s", r.Verdict)
	}
	if _, err := lava.Console([]byte("- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"no device\"}\n")); err == nil {
		t.Error("a log with no target lines gave a console")
	}
}

// testdata/console-hppa-lava-qemu.txt.gz: `dirtygate lava --arch hppa`'s
// kernel and initramfs booted as LAVA's qemu device type runs the job
// (qemu-system-hppa -machine hppa -nographic -net nic,model=virtio,...
// -net user -m 256 -monitor none -no-reboot -smp 2 ...), stopped after
// 90 s: the executor comes up and says so (the job's interactive test
// waits for that line), then waits for a host. Its log has no results:
// it could not decide, never a pass.
func TestAnExecutorJobLogCannotPass(t *testing.T) {
	raw := readCapture(t, "testdata/console-hppa-lava-qemu.txt.gz")
	console, err := lava.Console([]byte(jobLog(string(raw))))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(console), lava.ExecutorReady) {
		t.Fatalf("the executor's ready line is not in the console: the job's interactive test would time out")
	}
	if r := judged(console); r.Verdict != report.Error || r.Agent != nil {
		t.Errorf("an executor's console was judged %s", r.Verdict)
	}
}
