package aliasmodel

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

var (
	replayOnce sync.Once
	replayDir  string
	replayBin  string
	replayErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if replayDir != "" {
		os.RemoveAll(replayDir)
	}
	os.Exit(code)
}

// replay runs a trace through the model (csrc/replay.c, built with the
// host's gcc) and returns what it printed.
func replay(t *testing.T, trace string) *Output {
	t.Helper()
	replayOnce.Do(func() {
		replayDir, replayErr = os.MkdirTemp("", "aliasmodel-test-")
		if replayErr == nil {
			replayBin, replayErr = BuildReplay(context.Background(), replayDir)
		}
	})
	if replayErr != nil {
		t.Fatalf("cannot build the replayer: %v", replayErr)
	}
	cmd := exec.Command(replayBin)
	cmd.Stdin = strings.NewReader(trace)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, b)
	}
	o, err := ParseOutput(b)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// The addresses below are the hppa guest's: the kernel's linear map is the
// physical address + 0x10000000 (colour = pa mod 4 MiB), the VMM's log at a
// user address of another colour (0x40005000 for physical 0x801000, whose
// kernel alias 0x10801000 has colour 0x1000).
const (
	logPA   = "0x801000"
	userVA  = "0x40005000"
	kernVA  = "0x10801000"
	sameCol = "0x40405000" // the VMM address's colour: an equivalent alias of it
)

func tr(lines ...string) string {
	r := strings.NewReplacer("LOGPA", logPA, "USER", userVA, "KERN", kernVA, "SAME", sameCol)
	return r.Replace(strings.Join(lines, "\n")) + "\n"
}

func TestStaleHitFound(t *testing.T) {
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 4",     // the VMM reads its log word: cached in its colour
		"w 1 0x10200000 KERN LOGPA 4", // the kernel sets a bit through its alias
		"f KERN LOGPA 4096",           // and flushes its own alias (kunmap)
		"r 0 0x1004 USER LOGPA 4",     // the VMM reads again: its stale copy
	))
	if len(o.Stale) != 1 {
		t.Fatalf("want 1 stale read, got %+v", o.Stale)
	}
	s := o.Stale[0]
	if s.PC != 0x1004 || s.VA != 0x40005000 || s.PA != 0x801000 || s.Miss || s.WPC != 0x10200000 || s.WVA != 0x10801000 || s.WVCPU != 1 {
		t.Errorf("stale read %+v: want the VMM's second read, hitting its copy, written by pc 0x10200000 through 0x10801000 on vCPU 1", s)
	}
	if o.Stats["stale"] != 1 || o.Stats["promoted"] != 1 {
		t.Errorf("stats %v", o.Stats)
	}
}

func TestFlushOfReaderClearsIt(t *testing.T) {
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 4",
		"w 1 0x10200000 KERN LOGPA 4",
		"f KERN LOGPA 4096", // the writer's alias written back
		"f USER LOGPA 4096", // the reader's alias flushed: what the fix must do
		"r 0 0x1004 USER LOGPA 4",
	))
	if len(o.Stale) != 0 {
		t.Fatalf("a flushed reader's alias read stale: %+v", o.Stale)
	}
}

func TestPurgeOfReaderClearsIt(t *testing.T) {
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 4",
		"w 1 0x10200000 KERN LOGPA 4",
		"f KERN LOGPA 4096",
		"p USER LOGPA 4096",
		"r 0 0x1004 USER LOGPA 4",
	))
	if len(o.Stale) != 0 {
		t.Fatalf("%+v", o.Stale)
	}
}

func TestMissOnUnflushedWriter(t *testing.T) {
	// The reader never cached the line, but the writer's dirty copy was
	// never written back: the reader's miss fetches old memory.
	o := replay(t, tr(
		"w 1 0x10200000 KERN LOGPA 4",
		"r 0 0x1000 USER LOGPA 4",
	))
	if len(o.Stale) != 1 || !o.Stale[0].Miss {
		t.Fatalf("want one stale miss, got %+v", o.Stale)
	}
	// Written back first: fresh.
	o = replay(t, tr(
		"w 1 0x10200000 KERN LOGPA 4",
		"f KERN LOGPA 4096",
		"r 0 0x1000 USER LOGPA 4",
	))
	if len(o.Stale) != 0 {
		t.Fatalf("%+v", o.Stale)
	}
}

func TestFlushOfOtherColourOrLineDoesNotClearIt(t *testing.T) {
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 4",
		"w 1 0x10200000 KERN LOGPA 4",
		"f KERN LOGPA 4096",
		"f 0x40006000 LOGPA 4096", // the right lines through another colour
		"f USER 0x802000 4096",    // the reader's colour, another page
		"r 0 0x1004 USER LOGPA 4",
	))
	if len(o.Stale) != 1 {
		t.Fatalf("want the read still stale, got %+v", o.Stale)
	}
}

func TestSameColourNeverStale(t *testing.T) {
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 4",
		"w 0 0x1004 USER LOGPA 4",     // the VMM itself
		"r 1 0x1008 USER LOGPA 4",     // another CPU, same address
		"w 1 0x10200000 SAME LOGPA 4", // an equivalent alias (same colour, 4 MiB away)
		"r 0 0x100c USER LOGPA 4",
		"r 0 0x1010 SAME LOGPA 4",
	))
	if len(o.Stale) != 0 || o.Stats["promoted"] != 0 {
		t.Fatalf("same colour read stale: %+v %v", o.Stale, o.Stats)
	}
}

func TestOtherWordOfTheLineIsFresh(t *testing.T) {
	// Staleness is per word: the kernel wrote word 0; word 1 of the
	// VMM's copy is still right.
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 8",
		"w 1 0x10200000 KERN LOGPA 4",
		"f KERN LOGPA 4096",
		"r 0 0x1004 0x40005004 0x801004 4",
		"r 0 0x1008 USER LOGPA 4",
	))
	if len(o.Stale) != 1 || o.Stale[0].PC != 0x1008 {
		t.Fatalf("%+v", o.Stale)
	}
}

func TestFlushAll(t *testing.T) {
	o := replay(t, tr(
		"r 0 0x1000 USER LOGPA 4",
		"w 1 0x10200000 KERN LOGPA 4",
		"F",
		"r 0 0x1004 USER LOGPA 4",
		"w 0 0x1008 USER LOGPA 4", // after the flush the VMM owns it again
		"r 1 0x100c USER LOGPA 4",
	))
	if len(o.Stale) != 0 || o.Stats["flush_alls"] != 1 {
		t.Fatalf("%+v %v", o.Stale, o.Stats)
	}
}

func TestPurgeLosesDirtyData(t *testing.T) {
	// A purge of the only (dirty) copy discards the write: a later read,
	// even through the same colour, gets old memory.
	o := replay(t, tr(
		"w 1 0x10200000 KERN LOGPA 4",
		"p KERN LOGPA 4096",
		"r 1 0x10200004 KERN LOGPA 4",
	))
	if len(o.Stale) != 1 || o.Stats["dirty_purged"] != 1 {
		t.Fatalf("%+v %v", o.Stale, o.Stats)
	}
}

func TestStaleWritebackCounted(t *testing.T) {
	// The VMM's dirty copy (its own preset bit) is written back after the
	// kernel's newer word reached memory: memory rolls back.
	o := replay(t, tr(
		"w 0 0x1000 USER LOGPA 4",
		"r 1 0x10200000 KERN LOGPA 4", // the kernel's read misses the VMM's dirty word: stale
		"w 1 0x10200004 KERN LOGPA 4",
		"f KERN LOGPA 4096",
		"f USER LOGPA 4096",
	))
	if len(o.Stale) != 1 || o.Stats["stale_writebacks"] != 1 {
		t.Fatalf("%+v %v", o.Stale, o.Stats)
	}
}

func TestParseOutput(t *testing.T) {
	o, err := ParseOutput([]byte("dirtygate-alias 1 target=hppa vcpus=2 line=32 alias=0x400000 mark=0x1 marklen=3584\n" +
		"stale vcpu=0 pc=0x1 va=0x40005000 pa=0x801000 size=4 miss=1 wvcpu=1 wpc=0x2 wva=0x10801000\n" +
		"marks applied=10 torn=0 events=1 dropped=0 io=5 no_hwaddr=0\n" +
		"stats reads=3 writes=2 stale=1 flushes=1 purges=0 flush_alls=0 promoted=1 stale_writebacks=0 dirty_purged=0\n" +
		"readpages 10-12 40005-40005\nend\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Ended || o.Header == "" || len(o.Stale) != 1 || o.Marks["applied"] != 10 || o.Stats["reads"] != 3 {
		t.Fatalf("%+v", o)
	}
	if !o.PageRead(0x40005123) || !o.PageRead(0x11000) || o.PageRead(0x40006000) {
		t.Errorf("PageRead wrong for %v", o.ReadPages)
	}
}

// The plugin itself compiles against the carried API header (-Werror),
// and its argument names what the plugin parses.
func TestPluginBuilds(t *testing.T) {
	dir := t.TempDir()
	so, err := BuildPlugin(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := BuildPlugin(context.Background(), dir); err != nil || again != so {
		t.Errorf("not cached: %s then %s (%v)", so, again, err)
	}
	arg := PluginArg(so, "/tmp/x", 0x568000)
	for _, want := range []string{so + ",", "out=/tmp/x", "mark=0x568000", "marklen=3584", "line=32", "alias=0x400000"} {
		if !strings.Contains(arg, want) {
			t.Errorf("%s lacks %s", arg, want)
		}
	}
	out, err := exec.Command("nm", "-D", so).Output()
	if err == nil && (!strings.Contains(string(out), "qemu_plugin_install") || !strings.Contains(string(out), "qemu_plugin_version")) {
		t.Errorf("the plugin exports no qemu_plugin_install/qemu_plugin_version:\n%s", out)
	}
}
