package run

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dirtygate/harness/aliasmodel"
	"dirtygate/harness/executor"
	"dirtygate/harness/report"
	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
	"dirtygate/vmm/vhost"
)

const aliasHeader = "dirtygate-alias 1 target=hppa vcpus=2 line=32 alias=0x400000 mark=0x568000 marklen=3584\n"

func aliasEnd(applied int) string {
	return "marks applied=" + itoa(applied) + " torn=0 events=1 dropped=0 io=1 no_hwaddr=0\n" +
		"stats reads=10 writes=5 stale=1 flushes=3 purges=0 flush_alls=0 promoted=1 stale_writebacks=0 dirty_purged=0\n" +
		"readpages f76e8-f76ea\nend\n"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// watchWith is an aliasWatch that went through one scenario whose VMM
// handed vhost a log at 0xf76e9000 (64 pages of 4 KiB guest memory: 8
// bytes) and read it, while the plugin wrote out.
func watchWith(t *testing.T, out string) (*aliasWatch, *aliasSetup) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alias-model.txt")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w := newAliasWatch(nil, path, vhostReqs(), true)
	t.Cleanup(w.close)
	w.progress(nopWriter{}).Write([]byte("\ndirtygate: scenario harvest: running\n"))
	w.logs = []logRange{{0xf76e9000, 8}}
	w.cur().logBases = []uint64{0xf76e9000}
	w.cur().logReads = 3
	// The plugin writes while the scenario runs.
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.poll()
	w.mu.Unlock()
	return w, &aliasSetup{out: path, syms: &aliasmodel.Symbols{}}
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

func harvestReport() *report.Report {
	return &report.Report{Scenarios: []record.Scenario{{Name: "harvest", Status: record.Pass,
		Evidence: &record.Evidence{Written: map[uint64]int{33: 1, 40: 2, 70: 1}}}}}
}

func TestAliasFinding(t *testing.T) {
	out := aliasHeader +
		"stale vcpu=1 pc=0x100010a34 va=0x1f76e9004 pa=0x5e1004 size=4 miss=0 wvcpu=0 wpc=0x102a0b10 wva=0x105e1004\n" +
		"stale vcpu=0 pc=0x102e61b0 va=0x105e1004 pa=0x5e1004 size=4 miss=1 wvcpu=1 wpc=0x4a8 wva=0x1f76e9004\n" +
		"stale vcpu=1 pc=0x100010a34 va=0x1f76ea000 pa=0x5e2000 size=4 miss=0 wvcpu=0 wpc=0x102a0b10 wva=0x105e2000\n" +
		aliasEnd(40)
	w, a := watchWith(t, out)
	r := harvestReport()
	judgeAlias(r, w, a)
	if r.Error != "" {
		t.Fatalf("error %q", r.Error)
	}
	s := r.Scenarios[0]
	if s.Status != record.Fail || len(s.Findings) != 2 || s.Findings[0].Kind != oracle.Alias || s.Findings[1].Kind != oracle.Alias {
		t.Fatalf("want two alias findings (the VMM's stale read, the kernel's) failing harvest, got %+v", s)
	}
	if !strings.Contains(s.Findings[1].Detail, "the kernel read a log word (physical 0x5e1004) stale 1 time(s), through 0x105e1004") {
		t.Errorf("kernel's stale read: %q", s.Findings[1].Detail)
	}
	f := s.Findings[0]
	if len(f.Pages) != 2 || f.Pages[0] != 33 || f.Pages[1] != 40 {
		t.Errorf("pages %v, want the written pages of log word 1: 33, 40", f.Pages)
	}
	for _, want := range []string{"log word 1", "0xf76e9004", "0x105e1004", "CPU 0"} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("detail %q lacks %q", f.Detail, want)
		}
	}
	if !r.AliasModel.On || len(r.AliasModel.Scenarios) != 1 || r.AliasModel.Scenarios[0].StaleLogReads != 1 || r.AliasModel.Scenarios[0].KernelStaleLogReads != 1 || r.AliasModel.Scenarios[0].OtherStale != 1 {
		t.Errorf("alias model summary %+v", r.AliasModel)
	}
}

func TestAliasModelCannotPassByItself(t *testing.T) {
	for name, out := range map[string]string{
		"no plugin":        "",
		"no markers":       aliasHeader + aliasEnd(0),
		"no log page read": aliasHeader + strings.Replace(aliasEnd(9), "readpages f76e8-f76ea", "readpages 10000-10010", 1),
	} {
		w, a := watchWith(t, out)
		r := harvestReport()
		judgeAlias(r, w, a)
		if r.Error == "" {
			t.Errorf("%s: no error; the model judged nothing", name)
		}
	}
	// The VMM never read a log.
	w, a := watchWith(t, aliasHeader+aliasEnd(9))
	w.cur().logReads = 0
	r := harvestReport()
	judgeAlias(r, w, a)
	if r.Error == "" {
		t.Error("no log read: no error")
	}
	// A second scenario passed with no read of a log the watch knew (as
	// when the watch missed the deferred set-up): the model judged nothing
	// there, so the run cannot stand as judged by it.
	w, a = watchWith(t, aliasHeader+aliasEnd(9))
	r = harvestReport()
	r.Scenarios = append(r.Scenarios, record.Scenario{Name: "rx-spread", Status: record.Pass})
	judgeAlias(r, w, a)
	if !strings.Contains(r.Error, "rx-spread") {
		t.Errorf("a pass the model never judged: error %q, want one naming rx-spread", r.Error)
	}
	// Clean.
	w, a = watchWith(t, aliasHeader+aliasEnd(9))
	r = harvestReport()
	judgeAlias(r, w, a)
	if r.Error != "" || r.Scenarios[0].Status != record.Pass {
		t.Errorf("a clean run: %q %+v", r.Error, r.Scenarios[0])
	}
}

func vhostReqs() vhost.Requests { return vhost.RequestsFor(ioctl.Parisc) }

// The rig hands vhost its memory table and log base through the deferring
// view (machine.Later): the watch must see them there, or it knows no log
// and judges nothing (every --alias-model run from the executor's
// protocol 6 until this test: "the VMM never read a dirty log").
func TestAliasWatchSeesTheDeferredSetUp(t *testing.T) {
	w := newAliasWatch(executor.NewClient(io.Discard, machine.ABI{}, errno.Table{}), filepath.Join(t.TempDir(), "out"), vhostReqs(), true)
	v, ok := machine.Later(w, "set-up").(aliasDeferring)
	if !ok {
		t.Fatalf("machine.Later of the watch is %T: the rig's deferred ioctls would bypass it", machine.Later(w, "set-up"))
	}
	v.Machine = queued{} // as the client's view: queued, answered later
	w.progress(nopWriter{}).Write([]byte("\ndirtygate: scenario harvest: running\n"))
	table := make([]byte, 8+32) // one region: 64 pages of guest memory at 0
	binary.BigEndian.PutUint32(table, 1)
	binary.BigEndian.PutUint64(table[16:], 64*4096)
	if err := v.Ioctl(3, vhostReqs().SetMemTable, table); err != nil {
		t.Fatal(err)
	}
	if err := v.Ioctl(3, vhostReqs().SetLogBase, binary.BigEndian.AppendUint64(nil, 0xf76e9000)); err != nil {
		t.Fatal(err)
	}
	if !w.inLog(0xf76e9000, 8) || w.inLog(0xf76e9008, 1) {
		t.Fatalf("the watch learnt the logs %+v, want the 8 bytes at 0xf76e9000", w.logs)
	}
}

// queued is a machine whose ioctls succeed without running.
type queued struct{ machine.Machine }

func (queued) Ioctl(int, uint32, []byte) error { return nil }
