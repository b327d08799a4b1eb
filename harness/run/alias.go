package run

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"dirtygate/harness/aliasmodel"
	"dirtygate/harness/executor"
	"dirtygate/harness/report"
	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/record"
	"dirtygate/vmm/vhost"
)

// aliasSetup is what a run with the cache model (--alias-model) needs at
// boot: the plugin, where it writes, the marker's physical address, and
// the kernel's symbols to name the writers.
type aliasSetup struct {
	plugin, out string
	markPA      uint64
	syms        *aliasmodel.Symbols
}

// logRange is a dirty log the VMM handed vhost: its user address and its
// size in bytes (from the memory table's highest page).
type logRange struct{ base, size uint64 }

// aliasScenario is what the model saw during one scenario.
type aliasScenario struct {
	logStale []aliasmodel.Stale // the VMM's stale reads of its log words
	// kernelStale: the kernel's stale reads of a log word the VMM had
	// written (a harvest's exchange with 0, a preset bit) through its
	// own alias: the kernel's read-modify-write then undoes that write.
	kernelStale []aliasmodel.Stale
	logBases    []uint64
	otherStale  int                // stale reads of anything else, while the scenario ran
	raw         []aliasmodel.Stale // not yet classified (classify)
	logReads    int                // the VMM's reads of its log (ReadMem, SwapWords)
}

// aliasWatch is the executor client with the model's eye on it: it knows
// the VMM's log from the ioctls it forwards, and after each read of guest
// memory it takes the plugin's new stale-read lines and charges them to
// the running scenario. The plugin writes (and flushes) a line in the
// vCPU's thread during the access, before the executor answers, so every
// stale read of a call is in the file when the call returns.
type aliasWatch struct {
	*executor.Client
	req       vhost.Requests
	bo        binary.ByteOrder
	out       string
	f         *os.File // opened at the first poll: QEMU creates it
	pending   []byte
	mu        sync.Mutex
	scenario  string
	logs      []logRange
	maxGPA    uint64
	per       map[string]*aliasScenario
	order     []string
	bootStale int // before the first scenario
}

func newAliasWatch(c *executor.Client, out string, req vhost.Requests, bigEndian bool) *aliasWatch {
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	return &aliasWatch{Client: c, out: out, req: req, bo: bo, per: map[string]*aliasScenario{}}
}

func (w *aliasWatch) close() {
	if w.f != nil {
		w.f.Close()
	}
}

func (w *aliasWatch) cur() *aliasScenario {
	s := w.per[w.scenario]
	if s == nil {
		s = &aliasScenario{}
		w.per[w.scenario] = s
		w.order = append(w.order, w.scenario)
	}
	return s
}

// progress follows the session's "scenario NAME: running" lines.
func (w *aliasWatch) progress(next io.Writer) io.Writer {
	return onScenario(next, func(name string) {
		w.mu.Lock()
		w.poll()
		w.classify()
		w.scenario = name
		w.logs, w.maxGPA = nil, 0
		w.cur()
		w.mu.Unlock()
	})
}

func (w *aliasWatch) Ioctl(fd int, req uint32, arg []byte) error {
	err := w.Client.Ioctl(fd, req, arg)
	if err == nil {
		w.note(req, arg)
	}
	return err
}

// Deferring is the client's deferring view (machine.Later) with the
// watch's eye on the ioctls queued through it: the rig hands vhost its
// memory table and log base that way (deferred since the executor's
// protocol 6), and a watch that missed them knew no log, so counted no
// read of one and judged nothing.
func (w *aliasWatch) Deferring(step string) machine.Machine {
	return aliasDeferring{Machine: w.Client.Deferring(step), w: w}
}

type aliasDeferring struct {
	machine.Machine
	w *aliasWatch
}

func (d aliasDeferring) Ioctl(fd int, req uint32, arg []byte) error {
	err := d.Machine.Ioctl(fd, req, arg)
	if err == nil { // queued: a failure later makes the scenario's set-up fail anyway
		d.w.note(req, arg)
	}
	return err
}

// note learns the VMM's log from the ioctl req that handed vhost arg.
func (w *aliasWatch) note(req uint32, arg []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch req {
	case w.req.SetMemTable:
		if len(arg) >= 8 {
			n := int(w.bo.Uint32(arg))
			for i := 0; i < n && 8+32*(i+1) <= len(arg); i++ {
				r := arg[8+32*i:]
				w.maxGPA = max(w.maxGPA, w.bo.Uint64(r)+w.bo.Uint64(r[8:]))
			}
		}
	case w.req.SetLogBase:
		if len(arg) >= 8 {
			base := w.bo.Uint64(arg)
			size := (w.maxGPA/4096 + 7) / 8
			w.logs = append(w.logs, logRange{base, size})
			s := w.cur()
			s.logBases = append(s.logBases, base)
		}
	}
}

func (w *aliasWatch) inLog(a, n uint64) bool {
	for _, l := range w.logs {
		if a < l.base+l.size && a+n > l.base {
			return true
		}
	}
	return false
}

func (w *aliasWatch) ReadMem(addr uint64, n int) ([]byte, error) {
	b, err := w.Client.ReadMem(addr, n)
	w.after(addr, uint64(n))
	return b, err
}

func (w *aliasWatch) SwapWords(addr uint64, n int) ([]byte, error) {
	b, err := w.Client.SwapWords(addr, n)
	w.after(addr, uint64(n*w.Client.ABI().WordBits/8))
	return b, err
}

func (w *aliasWatch) after(addr, n uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inLog(addr, n) {
		w.cur().logReads++
	}
	w.poll()
}

// poll reads the plugin's new lines.
func (w *aliasWatch) poll() {
	if w.f == nil {
		f, err := os.Open(w.out)
		if err != nil {
			return
		}
		w.f = f
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		w.pending = append(w.pending, buf[:n]...)
		if n == 0 || err != nil {
			break
		}
	}
	last := bytes.LastIndexByte(w.pending, '\n')
	if last < 0 {
		return
	}
	o, _ := aliasmodel.ParseOutput(w.pending[:last+1])
	w.pending = append([]byte(nil), w.pending[last+1:]...)
	for _, st := range o.Stale {
		if w.scenario == "" {
			w.bootStale++
			continue
		}
		s := w.cur()
		s.raw = append(s.raw, st)
	}
}

// classify sorts the running scenario's stale reads, with the logs it
// handed vhost. hppa's virtual addresses carry the space above bit 32:
// the kernel's is 0, the VMM's not (the light-weight syscall page's
// accesses to user memory show space 0: they are told by their address).
// The VMM's loads of its log are log stale reads; the kernel's loads of a
// word the VMM wrote, or of a physical page such a read touched (a word
// a stale write-back rolled back), are the kernel's; the rest is other.
func (w *aliasWatch) classify() {
	s := w.per[w.scenario]
	if s == nil || w.scenario == "" {
		return
	}
	user := func(va uint64) bool { return va>>32 != 0 }
	logPages := map[uint64]bool{}
	var rest []aliasmodel.Stale
	for _, st := range s.raw {
		switch {
		case user(st.VA) && w.inLog(st.VA&0xffffffff, uint64(max(st.Size, 1))):
			s.logStale = append(s.logStale, st)
			logPages[st.PA>>12] = true
		case !user(st.VA) && w.inLog(st.WVA&0xffffffff, 4):
			s.kernelStale = append(s.kernelStale, st)
			logPages[st.PA>>12] = true
		default:
			rest = append(rest, st)
		}
	}
	for _, st := range rest {
		if !user(st.VA) && logPages[st.PA>>12] {
			s.kernelStale = append(s.kernelStale, st)
		} else {
			s.otherStale++
		}
	}
	s.raw = nil
}

// judgeAlias adds what the model saw to the report: an alias finding per
// scenario whose VMM read a stale log word, the counts, and an error when
// the model cannot have judged anything (it never ran, or never saw the
// VMM read its log) or could not judge a scenario that passed.
func judgeAlias(r *report.Report, w *aliasWatch, a *aliasSetup) {
	w.mu.Lock()
	w.poll()
	w.classify()
	w.mu.Unlock()
	r.AliasModel = report.AliasModel{On: true, Output: a.out, Line: aliasmodel.Line, Alias: aliasmodel.Alias, BootStale: w.bootStale}
	am := &r.AliasModel
	b, err := os.ReadFile(a.out)
	if err != nil {
		r.Error = fmt.Sprintf("alias model: %v", err)
		return
	}
	o, err := aliasmodel.ParseOutput(b)
	switch {
	case err != nil:
		r.Error = fmt.Sprintf("alias model: %v", err)
		return
	case o.Header == "":
		r.Error = "alias model: the plugin never started (no header in " + a.out + ")"
		return
	case !o.Ended:
		am.Problems = append(am.Problems, "the plugin's exit summary is missing (QEMU killed?): its counts are partial")
	}
	am.Stats, am.Marks = o.Stats, o.Marks
	if o.Ended && o.Marks["applied"] == 0 {
		r.Error = "alias model: the kernel never announced a flush or purge (no marker seen): the model would see stale lines the kernel flushed"
		return
	}
	if o.Marks["dropped"] > 0 {
		am.Problems = append(am.Problems, fmt.Sprintf("%d stale reads past the plugin's limit were not printed", o.Marks["dropped"]))
	}
	reads, seen := 0, 0
	for _, name := range w.order {
		s := w.per[name]
		if name == "" {
			continue
		}
		reads += s.logReads
		for _, base := range s.logBases {
			if o.PageRead(base) {
				seen++
			}
		}
		am.Scenarios = append(am.Scenarios, report.AliasScenario{Name: name, LogReads: s.logReads,
			StaleLogReads: len(s.logStale), KernelStaleLogReads: len(s.kernelStale), OtherStale: s.otherStale})
		if len(s.logStale)+len(s.kernelStale) == 0 {
			continue
		}
		for i := range r.Scenarios {
			if r.Scenarios[i].Name == name {
				addAliasFinding(&r.Scenarios[i], s, a.syms)
			}
		}
	}
	var unjudged []string // passes the model had no read of a log to judge
	for _, sc := range r.Scenarios {
		if s := w.per[sc.Name]; sc.Status == record.Pass && (s == nil || s.logReads == 0) {
			unjudged = append(unjudged, sc.Name)
		}
	}
	switch {
	case reads == 0:
		r.Error = "alias model: the VMM never read a dirty log it had handed vhost: the model judged nothing"
	case o.Ended && seen == 0:
		r.Error = "alias model: the plugin saw none of the VMM's log pages read: it cannot have judged the log"
	case len(unjudged) > 0:
		// A pass under the model says its log reads were not stale: with
		// none seen it says nothing (the watch missed the log's set-up).
		r.Error = fmt.Sprintf("alias model: no read of a log the watch knew in %s: the model judged nothing there", strings.Join(unjudged, ", "))
	}
}

// addAliasFinding turns a scenario's stale reads into findings: one per log
// word the VMM read stale, one per log word the kernel read stale.
func addAliasFinding(sc *record.Scenario, s *aliasScenario, syms *aliasmodel.Symbols) {
	for _, w := range vmmStaleWords(s) {
		sc.Findings = append(sc.Findings, vmmStaleFinding(sc, w, syms))
	}
	sc.Findings = append(sc.Findings, kernelStaleFindings(s.kernelStale, syms)...)
	if sc.Status == record.Pass {
		sc.Status = record.Fail
	}
}

// staleWord is one word of one log the VMM read stale, with every read.
type staleWord struct {
	base, word uint64
	reads      []aliasmodel.Stale
}

// vmmStaleWords groups the VMM's stale log reads by log word, in log and
// word order.
func vmmStaleWords(s *aliasScenario) []*staleWord {
	type key struct{ base, word uint64 }
	byWord := map[key]*staleWord{}
	var words []*staleWord
	for _, st := range s.logStale {
		va := st.VA & 0xffffffff
		var base uint64 // the nearest log at or below the address
		for _, b := range s.logBases {
			if b <= va && b > base {
				base = b
			}
		}
		k := key{base, (va - base) / 4}
		w := byWord[k]
		if w == nil {
			w = &staleWord{base: k.base, word: k.word}
			byWord[k] = w
			words = append(words, w)
		}
		w.reads = append(w.reads, st)
	}
	sort.Slice(words, func(i, j int) bool {
		if words[i].base != words[j].base {
			return words[i].base < words[j].base
		}
		return words[i].word < words[j].word
	})
	return words
}

// vmmStaleFinding says which pages a stale log word hid, who wrote the word
// and through which alias, and where the VMM read it.
func vmmStaleFinding(sc *record.Scenario, w *staleWord, syms *aliasmodel.Symbols) oracle.Finding {
	first, last := w.word*32, w.word*32+31 // set_bit numbering, 32-bit longs (hppa)
	var pages []uint64
	if sc.Evidence != nil {
		for p := range sc.Evidence.Written {
			if p >= first && p <= last {
				pages = append(pages, p)
			}
		}
		for _, p := range sc.Evidence.Required {
			if p >= first && p <= last && sc.Evidence.Written[p] == 0 {
				pages = append(pages, p)
			}
		}
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i] < pages[j] })
	st := w.reads[0]
	writer := syms.Name(st.WPC)
	if writer == "" {
		writer = fmt.Sprintf("pc 0x%x", st.WPC)
	}
	how := "its cached copy"
	if st.Miss {
		how = "memory (the writer's dirty line not yet written back)"
	}
	written := "none written by this scenario"
	if len(pages) > 0 {
		written = "written by this scenario: " + pageRanges(pages)
	}
	detail := fmt.Sprintf("alias: log word %d (pages %d-%d; %s) read stale %d time(s) by the VMM at user address 0x%x (colour 0x%x) from %s: "+
		"the kernel had written it through 0x%x (colour 0x%x) in %s on CPU %d with no flush of the VMM's alias since: "+
		"on a virtually indexed cache that read cannot see the bits the kernel set there meanwhile",
		w.word, first, last, written, len(w.reads), st.VA&0xffffffff, st.VA&(aliasmodel.Alias-1)&^0xfff, how,
		st.WVA&0xffffffff, st.WVA&(aliasmodel.Alias-1)&^0xfff, writer, st.WVCPU)
	if len(pages) == 0 {
		pages = nil
	}
	return oracle.Finding{Kind: oracle.Alias, Detail: detail, Pages: pages,
		Cause: "kernel wrote the log through a non-equivalent alias of the VMM's page"}
}

// kernelStaleFindings reports the kernel's stale reads, one finding per log
// word (by physical address).
func kernelStaleFindings(stale []aliasmodel.Stale, syms *aliasmodel.Symbols) []oracle.Finding {
	kwords := map[uint64][]aliasmodel.Stale{}
	var kkeys []uint64
	for _, st := range stale {
		k := st.PA &^ 3
		if kwords[k] == nil {
			kkeys = append(kkeys, k)
		}
		kwords[k] = append(kwords[k], st)
	}
	sort.Slice(kkeys, func(i, j int) bool { return kkeys[i] < kkeys[j] })
	var out []oracle.Finding
	for _, k := range kkeys {
		st := kwords[k][0]
		writer := syms.Name(st.PC)
		if writer == "" {
			writer = fmt.Sprintf("pc 0x%x", st.PC)
		}
		wname := syms.Name(st.WPC)
		if wname == "" {
			wname = "the VMM" // user space, or the light-weight syscall page its atomic exchange runs in
		}
		out = append(out, oracle.Finding{Kind: oracle.Alias,
			Detail: fmt.Sprintf("alias: the kernel read a log word (physical 0x%x) stale %d time(s), through 0x%x (colour 0x%x) in %s on CPU %d: its newest write, by %s through 0x%x (colour 0x%x), had not reached the kernel's alias (a dirty line of another colour, or memory rolled back by a stale write-back): the kernel's read-modify-write writes an old word back (bits the VMM harvested come back), and when the VMM's line is written back later the kernel's new bit is lost",
				k, len(kwords[k]), st.VA&0xffffffff, st.VA&(aliasmodel.Alias-1)&^0xfff, writer, st.VCPU, wname, st.WVA&0xffffffff, st.WVA&(aliasmodel.Alias-1)&^0xfff),
			Cause: "kernel wrote the log through a non-equivalent alias of the VMM's page"})
	}
	return out
}

// pageRanges writes sorted pages as "3, 5-9".
func pageRanges(p []uint64) string {
	var s []string
	for i := 0; i < len(p); {
		j := i
		for j+1 < len(p) && p[j+1] == p[j]+1 {
			j++
		}
		if j == i {
			s = append(s, fmt.Sprint(p[i]))
		} else {
			s = append(s, fmt.Sprintf("%d-%d", p[i], p[j]))
		}
		i = j + 1
	}
	return strings.Join(s, ", ")
}
