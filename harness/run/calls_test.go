package run

import (
	"encoding/binary"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dirtygate/harness/executor"
	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
	"dirtygate/vmm/machine"
)

// Calls are charged to the scenario whose "running" line went by last,
// counted by the real executor's client.
func TestScenarioCalls(t *testing.T) {
	cmd := exec.Command(localExecutor(t))
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	abi := machine.ABI{Ioctl: ioctl.Generic, ByteOrder: binary.LittleEndian, WordBits: 64, PageSize: 4096}
	c := executor.NewClient(in, abi, errno.Generic)
	go io.Copy(c.Scanner(), out)
	if err := c.WaitReady(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	calls := newScenarioCalls(c)
	progress := onScenario(io.Discard, calls.start)
	io.WriteString(progress, "dirtygate: scenario first: running\n")
	for i := 0; i < 3; i++ {
		if _, err := c.Eventfd(); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(progress, "dirtygate: scenario first: pass\ndirtygate: scenario second: running\n")
	if _, err := c.Mmap(4096); err != nil {
		t.Fatal(err)
	}
	got := calls.summary()
	// The seconds vary; the counts do not.
	re := regexp.MustCompile(`^calls/round trips/seconds per scenario: first 3/3 [0-9]+\.[0-9]s, second 1/1 [0-9]+\.[0-9]s$`)
	if !re.MatchString(got) {
		t.Fatalf("summary %q, want it to match %v", got, re)
	}
	if strings.Contains(got, "pass") {
		t.Fatal("a result line started a scenario")
	}
}

// localExecutor builds executor.c for this host, as the harness does for a
// target.
func localExecutor(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc needed")
	}
	bin := filepath.Join(t.TempDir(), "executor")
	root, _ := filepath.Abs("../..")
	if out, err := exec.Command("gcc", "-static", "-nostdlib", "-ffreestanding", "-fno-pic", "-no-pie",
		"-fno-stack-protector", "-Os", "-o", bin, filepath.Join(root, "guest/executor/csrc/executor.c"), "-lgcc").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}
