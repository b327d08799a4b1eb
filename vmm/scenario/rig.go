package scenario

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/oracle"
	"dirtygate/vmm/tap"
	"dirtygate/vmm/vhost"
	"dirtygate/vmm/virtq"
)

// Guest memory layout shared by the scenarios. Guest-physical memory starts
// at 1 MiB, so page numbers start at 256 and the log's first 256 bits belong
// to nobody (any bit there is stray).
const (
	guestBase  = 1 << 20
	guestPages = 1024
	ringNum    = 256
	descOff    = 0        // page 256
	availOff   = 4096     // page 257
	usedOff    = 2 * 4096 // page 258 (used-ring scenarios move it)
	// Buffers start at page 288, outside the u32 word of the ring pages
	// (256..287), so an add replay explains data words on its own.
	bufBase    = 32 * 4096
	canary     = 64 // bytes of canary words at least, on each side of the log
	rxQueue    = 0  // vhost-net queue index of RX
	txQueue    = 1  // and of TX, whose rings sit on pages 264-266
	txDescOff  = 8 * 4096
	txAvailOff = 9 * 4096
	txUsedOff  = 10 * 4096
	waitUsed   = 10 * time.Second
	pageShift  = 12
	headerSize = 12              // virtio_net_hdr_mrg_rxbuf: VERSION_1 is always acked
	regionSize = 16 << pageShift // Config.Regions
)

// Config is what one scenario asks of the rig.
type Config struct {
	Name        string
	MTU         int      // 0 = tap default (1500)
	Mergeable   bool     // ack VIRTIO_NET_F_MRG_RXBUF
	UsedOff     int      // used ring offset in guest memory; 0 = usedOff
	LogMisalign int      // bytes added to the word-aligned log base
	Preset      []uint64 // pages whose bits are set before the run
	// TX sets up the TX queue too, its used ring logged (VHOST_VRING_F_LOG).
	TX bool
	// Regions are the guest-physical addresses of extra 64 KiB memory
	// regions, each its own mapping; the log grows to cover the highest.
	Regions []uint64
	// ProtectLog, when set, lists guest pages whose log page (the host page
	// holding their bit) gets LogProt once the device is set up, as a
	// broken VMM might do; Log() restores read-write before reading.
	ProtectLog []uint64
	LogProt    machine.Prot
	// LazyLog maps the log without populating it, as QEMU's is: the
	// kernel meets pages nobody touched yet (only the canaries are written).
	LazyLog bool
	// LogFD hands vhost a log eventfd (VHOST_SET_LOG_FD). QEMU 7.2 never
	// does with vhost-kernel (hw/virtio/vhost-backend.c: kernel_ops has no
	// set_log_fd; VHOST_USER_SET_LOG_FD is vhost-user's): only the
	// scenario that tests it asks for one.
	LogFD bool
	// UsedUnlogged leaves VHOST_VRING_F_LOG off on the RX queue, which
	// QEMU never does while logging: log-eventfd uses it so that every
	// signal it counts comes from logging the frames' data (6.1 signals
	// once per vhost_log_write), not from used-ring updates.
	UsedUnlogged bool
	// LogOff acks the features without VHOST_F_LOG_ALL: logging is
	// switched on later with SetLogging, as QEMU does when migration starts.
	LogOff bool
	// IOTLB negotiates VIRTIO_F_ACCESS_PLATFORM with IOTLB messages (v2):
	// every ring and buffer address the device sees is an IOVA, guest-
	// physical minus iovaShift, mapped by the device IOTLB entries QEMU
	// would send (iotlb.go): 4 KiB pages, or 2 MiB superpages for the
	// blocks of guest memory listed in IOTLBHuge (offsets). The log must
	// still hold guest-physical pages. Main memory only.
	IOTLB     bool
	IOTLBHuge []int
	// EventIdx acks VIRTIO_RING_F_EVENT_IDX, as a Linux guest does through
	// QEMU: vhost then publishes avail_event and writes used->flags only
	// when a backend is attached.
	EventIdx bool
}

// iovaShift is guest-physical minus IOVA under Config.IOTLB: IOVA 0 is the
// first byte of guest memory, so a kernel that logged IOVAs would set bits
// of pages below guestBase, which belong to nobody.
const iovaShift = guestBase

// DevAddr is the address the device is given for guest-physical gpa: an
// IOVA under Config.IOTLB, else gpa.
func (r *Rig) DevAddr(gpa uint64) uint64 {
	if r.Cfg.IOTLB {
		return gpa - iovaShift
	}
	return gpa
}

// GPAOfDev is the guest-physical address of device address a.
func (r *Rig) GPAOfDev(a uint64) uint64 {
	if r.Cfg.IOTLB {
		return a + iovaShift
	}
	return a
}

// ringAddr is the address VHOST_SET_VRING_ADDR takes for guest memory
// offset off: the user address, or under Config.IOTLB the IOVA.
func (r *Rig) ringAddr(off int) uint64 {
	if r.Cfg.IOTLB {
		return r.DevAddr(r.Mem.GPAOf(off))
	}
	return r.Mem.VAOf(off)
}

// Rig is one vhost-net device wired to a tap, with guest memory, an RX
// ring and a dirty log fenced by canaries and PROT_NONE guard pages.
type Rig struct {
	M      machine.Machine
	Cfg    Config
	Layout oracle.Layout
	Mem    *virtq.Memory
	RX     *virtq.Ring
	TX     *virtq.Ring // nil unless Config.TX
	Net    *vhost.Net
	Tap    *tap.Tap

	features          uint64 // acked, LOG_ALL included even when LogOff
	kick, call, logFD int
	txKick, txCall    int
	errFD             int
	peerOf            *Rig            // set on a peer: memory, log and log eventfd are the primary's
	extra             []*virtq.Memory // Config.Regions, in order
	pages             uint64          // guest pages the log covers
	logMap            uint64          // guard page, log pages, guard page
	logMapSize        int
	rngAddr           uint64 // the checked range: canary, log, canary
	rng               []byte // what was written there
	logBase           uint64 // VHOST_SET_LOG_BASE
	firstBit          uint64
	pageBase          uint64 // guest page of firstBit: 0, or a window's first page (sparseLog)
	before            []byte
	nextDesc          int
	attached          bool
	iotlbSent         map[int]bool // Config.IOTLB: guest memory offsets of the entries sent
}

// LayoutOf is the log layout of the process that drives vhost on m: its
// unsigned long, in its byte order.
func LayoutOf(m machine.Machine) oracle.Layout {
	abi := m.ABI()
	var b [2]byte
	abi.ByteOrder.PutUint16(b[:], 0x0102)
	return oracle.Layout{WordBits: abi.WordBits, BigEndian: b[0] == 0x01}
}

// Pages is the number of guest pages the log covers.
func Pages() uint64 { return (guestBase >> pageShift) + guestPages }

// SetupError is a failure to build the rig; the scenario could not decide,
// unless the failing step is what the scenario tests (an ABI finding).
type SetupError struct {
	Step string
	Err  error
}

func (e *SetupError) Error() string { return e.Step + ": " + e.Err.Error() }

func (e *SetupError) Unwrap() error { return e.Err }

// ErrLogAllRefused is the kernel saying it cannot log: VHOST_GET_FEATURES
// does not offer VHOST_F_LOG_ALL, or VHOST_SET_FEATURES refuses it while
// it accepts the same features without it. A VMM then knows it cannot
// migrate with the device: safe where the log helper is missing, a lost
// feature anywhere else.
var ErrLogAllRefused = errors.New("VHOST_F_LOG_ALL refused or not offered")

// NewRig builds the device up to the point where RX buffers can be posted.
func NewRig(m machine.Machine, cfg Config) (*Rig, error) {
	r := &Rig{M: m, Cfg: cfg, Layout: LayoutOf(m), kick: -1, call: -1, logFD: -1, txKick: -1, txCall: -1, errFD: -1}
	built := false
	defer func() {
		if !built {
			r.Close()
		}
	}()
	var err error
	step := func(name string, e error) error {
		if e != nil {
			return r.setupError(name, e)
		}
		return nil
	}
	if cfg.IOTLB && len(cfg.Regions) > 0 {
		return nil, step("config", fmt.Errorf("IOTLB covers the main memory only"))
	}
	// Guest memory is mapped untouched, as QEMU maps guest RAM without
	// -mem-prealloc (util/mmap-alloc.c: qemu_ram_mmap): the pages vhost
	// writes fault in on its copy_to_user, as they do under QEMU, and no
	// scenario pays for zeroing 4 MiB it never reads (~50 ms on hppa).
	va, err := m.MmapLazy(guestPages << pageShift)
	if err := step("mmap guest memory", err); err != nil {
		return nil, err
	}
	r.Mem = &virtq.Memory{M: m, VA: va, GPA: guestBase, Size: guestPages << pageShift}
	r.pages = Pages()
	for _, gpa := range cfg.Regions {
		va, err := m.MmapLazy(regionSize)
		if err := step(fmt.Sprintf("mmap region at %#x", gpa), err); err != nil {
			return nil, err
		}
		r.extra = append(r.extra, &virtq.Memory{M: m, VA: va, GPA: gpa, Size: regionSize})
		r.pages = max(r.pages, (gpa+regionSize)>>pageShift)
	}
	if err := r.mapLog(); err != nil {
		return nil, err
	}
	if cfg.LogFD {
		if r.logFD, err = machine.Later(m, "eventfd").Eventfd(); err != nil {
			return nil, step("eventfd", err)
		}
	}
	uo := cfg.UsedOff
	if uo == 0 {
		uo = usedOff
	}
	if err := r.openDevice(step, descOff, availOff, uo); err != nil {
		return nil, err
	}
	for _, p := range cfg.ProtectLog {
		if err := step("mprotect log page", m.Mprotect(r.LogPageOf(p), m.ABI().PageSize, cfg.LogProt)); err != nil {
			return nil, err
		}
	}
	built = true
	return r, nil
}

// NewPeer adds device k (1, 2, ...) to primary's guest memory and dirty
// log, as a VMM with several NICs has: its own vhost worker, rings (on
// pages 272 + 3(k-1) onwards) and tap, logging into the same bitmap.
func NewPeer(primary *Rig, k int) (*Rig, error) {
	p := primary
	cfg := p.Cfg
	cfg.Name = fmt.Sprintf("%s%d", p.Cfg.Name, k)
	cfg.TX = false
	r := &Rig{M: p.M, Cfg: cfg, Layout: p.Layout, Mem: p.Mem, peerOf: p, kick: -1, call: -1, logFD: p.logFD,
		txKick: -1, txCall: -1, errFD: -1, rngAddr: p.rngAddr, rng: p.rng, firstBit: p.firstBit, pageBase: p.pageBase, logBase: p.logBase, before: p.before,
		extra: p.extra, pages: p.pages}
	step := func(name string, e error) error {
		if e != nil {
			se := r.setupError(name, e)
			se.Step = fmt.Sprintf("device %d: %s", k, se.Step)
			return se
		}
		return nil
	}
	base := (16 + 3*(k-1)) * 4096
	if err := r.openDevice(step, base, base+4096, base+2*4096); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// openDevice opens and configures one vhost-net device on r's memory and
// log, with its RX ring at the given offsets, and attaches a tap.
func (r *Rig) openDevice(step func(string, error) error, desc, avail, used int) error {
	if err := r.openNet(step); err != nil {
		return err
	}
	if err := r.negotiate(step); err != nil {
		return err
	}
	rxq := queue{index: rxQueue, name: "RX", offs: [3]int{desc, avail, used},
		logUsed: !r.Cfg.LogOff && !r.Cfg.UsedUnlogged, ring: &r.RX, kick: &r.kick, call: &r.call, newErrFD: true}
	if err := r.setupQueue(step, rxq); err != nil {
		return err
	}
	if r.Cfg.TX {
		tx := queue{index: txQueue, name: "TX", suffix: " (TX)", offs: [3]int{txDescOff, txAvailOff, txUsedOff},
			logUsed: !r.Cfg.LogOff, ring: &r.TX, kick: &r.txKick, call: &r.txCall}
		if err := r.setupQueue(step, tx); err != nil {
			return err
		}
	}
	return r.attach(step)
}

// taps counts the taps this process made: a tap's name carries its number,
// so no two rigs of a process share a name, even while one is still being
// torn down in the background, or where names cut to IFNAMSIZ would meet
// (inject-enosys, inject-enosys-half).
var taps atomic.Uint32

// tapName is a fresh interface name for the rig's tap, dg<number><name>
// cut to 15 bytes, and its interface index, tapIndexBase + number: chosen,
// so the tap's set-up waits for no answer (tap.Open).
func (c Config) tapName() (string, int) {
	k := taps.Add(1)
	n := fmt.Sprintf("dg%d%s", k, c.Name)
	if len(n) > 15 {
		n = n[:15]
	}
	return n, tapIndexBase + int(k)
}

// tapIndexBase is above the interfaces a test kernel has of its own (lo).
const tapIndexBase = 1000

// Stop detaches the backend. vhost flushes its worker first, so every log
// write of the packets seen so far is done when it returns: the final sync
// of a migration works the same way. As QEMU stops a vhost-net device
// (hw/net/vhost_net.c: vhost_net_stop_one, then hw/virtio/vhost.c:
// vhost_virtqueue_stop): VHOST_NET_SET_BACKEND -1 on every queue in
// order, then VHOST_GET_VRING_BASE on each; QEMU syncs the log after that.
func (r *Rig) Stop() error {
	if !r.attached {
		return nil
	}
	r.attached = false
	queues := []uint32{rxQueue}
	if r.TX != nil {
		queues = append(queues, txQueue)
	}
	for _, q := range queues {
		// Deferred where the machine can: VHOST_GET_VRING_BASE waits.
		if err := r.later("VHOST_NET_SET_BACKEND -1").SetBackend(q, -1); err != nil {
			return err
		}
	}
	for _, q := range queues {
		// What it answers (the last avail index) is not read: deferred
		// where the machine can, it travels with the log's read.
		if _, err := r.later("VHOST_GET_VRING_BASE").VringBase(q); err != nil {
			return err
		}
	}
	return nil
}

// Page returns the guest page number of guest memory offset off.
func (r *Rig) Page(off int) uint64 { return (guestBase + uint64(off)) >> pageShift }

// OffOfPage is the guest memory offset where page p starts.
func OffOfPage(p uint64) int { return int(p<<pageShift) - guestBase }

// Close tears everything down; safe on a half-built rig, and on a closed
// one (it takes what it closes out of the rig). Where the machine can
// (machine.Releaser) the teardown runs in the background, or its calls
// travel with the next call that waits (machine.Deferrer), in the same
// order: the devices, then the memory they were given.
func (r *Rig) Close() {
	var fds []int
	if r.Net != nil {
		fds = append(fds, r.Net.Fd())
	}
	if r.Tap != nil {
		fds = append(fds, r.Tap.Fds()...)
	}
	fds = append(fds, r.kick, r.call, r.txKick, r.txCall, r.errFD)
	r.Net, r.Tap, r.kick, r.call, r.txKick, r.txCall, r.errFD = nil, nil, -1, -1, -1, -1, -1
	var maps [][2]uint64 // address, size
	if r.peerOf == nil { // else memory, log and log eventfd are the primary's
		if r.logFD >= 0 {
			fds = append(fds, r.logFD)
		}
		if r.Mem != nil {
			maps = append(maps, [2]uint64{r.Mem.VA, uint64(r.Mem.Size)})
		}
		for _, x := range r.extra {
			maps = append(maps, [2]uint64{x.VA, uint64(x.Size)})
		}
		if r.logMapSize != 0 {
			maps = append(maps, [2]uint64{r.logMap, uint64(r.logMapSize)})
		}
		r.logFD, r.Mem, r.extra, r.logMapSize = -1, nil, nil, 0
	}
	teardown := func(m machine.Machine) {
		for _, fd := range fds {
			if fd >= 0 {
				m.Close(fd)
			}
		}
		for _, x := range maps {
			m.Munmap(x[0], int(x[1]))
		}
	}
	if rel, ok := r.M.(machine.Releaser); ok {
		rel.Release(teardown)
		return
	}
	teardown(machine.Later(r.M, "teardown"))
}
