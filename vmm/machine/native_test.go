//go:build linux

package machine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/machine/machinetest"
)

// The agent forks itself with raw system calls (no Go runtime in the
// child): copy-on-write must behave as for any process.
func TestNativeFork(t *testing.T) { machinetest.Fork(t, machine.Native()) }

func TestNativeOpenReadOnly(t *testing.T) { machinetest.OpenReadOnly(t, machine.Native()) }

// Released teardowns run one at a time, in the order released (a rig's
// devices are closed before its memory is unmapped), and Settle waits
// for all of them; Spawn settles before it starts a child.
func TestNativeReleaseOrder(t *testing.T) {
	m := machine.Native()
	rel, ok := m.(machine.Releaser)
	if !ok {
		t.Fatal("the native machine does not release in the background")
	}
	var got []int
	running := 0
	for i := range 20 {
		rel.Release(func(machine.Machine) {
			running++
			if running != 1 {
				t.Errorf("release %d ran beside another", i)
			}
			time.Sleep(time.Millisecond)
			got = append(got, i)
			running--
		})
	}
	rel.Settle()
	if len(got) != 20 {
		t.Fatalf("Settle returned after %d of 20 releases", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("releases ran in the order %v", got)
		}
	}
	done := false
	rel.Release(func(machine.Machine) { time.Sleep(20 * time.Millisecond); done = true })
	if _, err := m.(machine.Spawner).Spawn("/bin/true", nil); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Error("Spawn started its child before the released work had run")
	}
}

// A prestarted program waits, started, until Spawn with the same path and
// env lets it go; Spawn then returns its output. One with another env is
// started afresh.
func TestNativePrestart(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	script := "#!/bin/sh\necho $$ >" + dir + "/started.tmp\nmv " + dir + "/started.tmp " + dir + "/started\nhead -c 1 >/dev/null\necho ran $X $$\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	m := machine.Native()
	p, ok := m.(machine.Prestarter)
	if !ok {
		t.Fatal("the native machine cannot prestart")
	}
	p.Prestart(prog, []string{"X=held"})
	var pid []byte
	for i := 0; ; i++ {
		var err error
		if pid, err = os.ReadFile(filepath.Join(dir, "started")); err == nil {
			break
		}
		if i == 200 {
			t.Fatal("the prestarted program never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, err := m.(machine.Spawner).Spawn(prog, []string{"X=held"})
	if want := "ran held " + string(pid); err != nil || string(out) != want {
		t.Fatalf("Spawn of the prestarted program: %q, %v; want %q (the process started before)", out, err, want)
	}
	out, err = m.(machine.Spawner).Spawn(prog, []string{"X=fresh"})
	if err != nil || !strings.HasPrefix(string(out), "ran fresh ") {
		t.Fatalf("Spawn of a program not prestarted: %q, %v", out, err)
	}
}
