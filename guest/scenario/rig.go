//go:build linux

package scenario

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"dirtygate/guest/oracle"
	"dirtygate/guest/tap"
	"dirtygate/guest/vhost"
	"dirtygate/guest/virtq"
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
	canary     = 64 // bytes of canary words on each side of the log
	rxQueue    = 0  // vhost-net queue index of RX
	waitUsed   = 10 * time.Second
	pageShift  = 12
	headerSize = 12 // virtio_net_hdr_mrg_rxbuf: VERSION_1 is always acked
)

// Config is what one scenario asks of the rig.
type Config struct {
	Name        string
	MTU         int      // 0 = tap default (1500)
	Mergeable   bool     // ack VIRTIO_NET_F_MRG_RXBUF
	LogUsed     bool     // VHOST_VRING_F_LOG with log_guest_addr
	UsedOff     int      // used ring offset in guest memory; 0 = usedOff
	LogMisalign int      // bytes added to the word-aligned log base
	Preset      []uint64 // pages whose bits are set before the run
}

// Rig is one vhost-net device wired to a tap, with guest memory, an RX
// ring and a dirty log fenced by canaries and PROT_NONE guard pages.
type Rig struct {
	Cfg    Config
	Layout oracle.Layout
	Mem    *virtq.Memory
	RX     *virtq.Ring
	Net    *vhost.Net
	Tap    *tap.Tap

	kick, call, logFD int
	logMap            []byte // guard page, log pages, guard page
	rng               []byte // the checked range: canary, log, canary
	firstBit          uint64
	before            []byte
	nextDesc          int
	attached          bool
}

// Native is the layout of the kernel we run on: the agent runs natively.
func Native() oracle.Layout {
	var x uint16 = 0x0102
	be := (*[2]byte)(unsafe.Pointer(&x))[0] == 0x01
	return oracle.Layout{WordBits: int(unsafe.Sizeof(uintptr(0))) * 8, BigEndian: be}
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

// NewRig builds the device up to the point where RX buffers can be posted.
func NewRig(cfg Config) (*Rig, error) {
	r := &Rig{Cfg: cfg, Layout: Native(), kick: -1, call: -1, logFD: -1}
	built := false
	defer func() {
		if !built {
			r.Close()
		}
	}()
	var err error
	step := func(name string, e error) error {
		if e != nil {
			return &SetupError{Step: name, Err: e}
		}
		return nil
	}
	buf, err := unix.Mmap(-1, 0, guestPages<<pageShift, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err := step("mmap guest memory", err); err != nil {
		return nil, err
	}
	r.Mem = &virtq.Memory{Buf: buf, VA: uint64(uintptr(unsafe.Pointer(&buf[0]))), GPA: guestBase}
	if err := r.mapLog(); err != nil {
		return nil, err
	}
	if r.Net, err = vhost.OpenNet(); err != nil {
		return nil, step("open vhost-net", err)
	}
	if err := step("VHOST_SET_MEM_TABLE", r.Net.SetMemTable([]vhost.Region{{
		GuestPhysAddr: r.Mem.GPA, Size: uint64(len(buf)), UserAddr: r.Mem.VA,
	}})); err != nil {
		return nil, err
	}
	have, err := r.Net.Features()
	if err := step("VHOST_GET_FEATURES", err); err != nil {
		return nil, err
	}
	want := uint64(1)<<vhost.FeatureLogAll | uint64(1)<<vhost.FeatureVersion1
	if cfg.Mergeable {
		want |= 1 << vhost.FeatureMrgRxbuf
	}
	if have&want != want {
		return nil, step("VHOST_GET_FEATURES", fmt.Errorf("device offers %#x, lacks %#x", have, want&^have))
	}
	// The log must be in place before LOG_ALL is acked: vhost checks that
	// it covers the memory table.
	if err := step("VHOST_SET_LOG_BASE", r.Net.SetLogBase(r.LogBase())); err != nil {
		return nil, err
	}
	if r.logFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, step("eventfd", err)
	}
	if err := step("VHOST_SET_LOG_FD", r.Net.SetLogFD(r.logFD)); err != nil {
		return nil, err
	}
	if err := step("VHOST_SET_FEATURES", r.Net.SetFeatures(want)); err != nil {
		return nil, err
	}
	uo := cfg.UsedOff
	if uo == 0 {
		uo = usedOff
	}
	if r.RX, err = virtq.New(r.Mem, ringNum, descOff, availOff, uo); err != nil {
		return nil, step("lay out RX ring", err)
	}
	if r.kick, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, step("eventfd", err)
	}
	if r.call, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, step("eventfd", err)
	}
	addr := vhost.VringAddr{
		Index: rxQueue,
		Desc:  r.Mem.VAOf(r.RX.DescOff),
		Avail: r.Mem.VAOf(r.RX.AvailOff),
		Used:  r.Mem.VAOf(r.RX.UsedOff),
	}
	if cfg.LogUsed {
		addr.Flags = 1 << vhost.VringFLog
		addr.LogGuestAddr = r.Mem.GPAOf(r.RX.UsedOff)
	}
	for _, s := range []struct {
		name string
		err  func() error
	}{
		{"VHOST_SET_VRING_NUM", func() error { return r.Net.SetVringNum(rxQueue, ringNum) }},
		{"VHOST_SET_VRING_BASE", func() error { return r.Net.SetVringBase(rxQueue, 0) }},
		{"VHOST_SET_VRING_ADDR", func() error { return r.Net.SetVringAddr(addr) }},
		{"VHOST_SET_VRING_KICK", func() error { return r.Net.SetVringKick(rxQueue, r.kick) }},
		{"VHOST_SET_VRING_CALL", func() error { return r.Net.SetVringCall(rxQueue, r.call) }},
	} {
		if err := step(s.name, s.err()); err != nil {
			return nil, err
		}
	}
	if r.Tap, err = tap.Open(cfg.tapName(), headerSize, cfg.MTU); err != nil {
		return nil, step("tap", err)
	}
	if err := step("VHOST_NET_SET_BACKEND", r.Net.SetBackend(rxQueue, r.Tap.Fd())); err != nil {
		return nil, err
	}
	r.attached = true
	built = true
	return r, nil
}

func (c Config) tapName() string {
	n := "dg" + c.Name
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

// mapLog maps the log between two PROT_NONE guard pages, writes canaries
// around it and the preset bits into it, and keeps a copy as Before.
func (r *Rig) mapLog() error {
	ps := os.Getpagesize()
	logBytes := int(Pages() / 8)
	span := canary + r.Cfg.LogMisalign + logBytes + canary
	span = (span + 7) &^ 7
	pages := (span + ps - 1) / ps
	m, err := unix.Mmap(-1, 0, (pages+2)*ps, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return &SetupError{"mmap log", err}
	}
	r.logMap = m
	if err := unix.Mprotect(m[:ps], unix.PROT_NONE); err != nil {
		return &SetupError{"guard page", err}
	}
	if err := unix.Mprotect(m[(pages+1)*ps:], unix.PROT_NONE); err != nil {
		return &SetupError{"guard page", err}
	}
	// The checked range ends at the trailing guard page, so a bit written
	// past the canary faults instead of landing unseen.
	end := (pages + 1) * ps
	r.rng = m[end-span : end]
	r.firstBit = uint64(8 * (canary + r.Cfg.LogMisalign))
	// Canaries: every other bit of the words before and after the log.
	for b := uint64(0); b < r.firstBit; b += 2 {
		oracle.PutBit(r.rng, r.Layout, b)
	}
	for b := r.firstBit + Pages() + 1; b < uint64(8*len(r.rng)); b += 2 {
		oracle.PutBit(r.rng, r.Layout, b)
	}
	for _, p := range r.Cfg.Preset {
		oracle.PutBit(r.rng, r.Layout, r.firstBit+p)
	}
	r.before = append([]byte(nil), r.rng...)
	return nil
}

// LogBase is the user address handed to VHOST_SET_LOG_BASE.
func (r *Rig) LogBase() uint64 {
	return uint64(uintptr(unsafe.Pointer(&r.rng[0]))) + r.firstBit/8
}

// Seg is one descriptor of a buffer: an offset into guest memory and a length.
type Seg struct {
	Off int
	Len int
}

// Post writes a device-writable descriptor chain per buffer, offers them,
// and kicks. It returns the head of each chain.
func (r *Rig) Post(bufs ...[]Seg) ([]uint16, error) {
	var heads []uint16
	for _, b := range bufs {
		if r.nextDesc+len(b) > ringNum {
			return nil, fmt.Errorf("out of descriptors")
		}
		head := uint16(r.nextDesc)
		for i, s := range b {
			d := virtq.Desc{Addr: r.Mem.GPAOf(s.Off), Len: uint32(s.Len), Flags: virtq.DescWrite}
			if i < len(b)-1 {
				d.Flags |= virtq.DescNext
				d.Next = uint16(r.nextDesc + 1)
			}
			r.RX.SetDesc(r.nextDesc, d)
			r.nextDesc++
		}
		heads = append(heads, head)
	}
	r.Offer(heads...)
	return heads, nil
}

// Offer makes already written chains available again and kicks.
func (r *Rig) Offer(heads ...uint16) {
	r.RX.Offer(heads...)
	one := make([]byte, 8)
	binary.NativeEndian.PutUint64(one, 1)
	unix.Write(r.kick, one)
}

// Send transmits frames out of the tap; vhost receives them.
func (r *Rig) Send(frames ...[]byte) error {
	for _, f := range frames {
		if err := r.Tap.Send(f); err != nil {
			return err
		}
	}
	return nil
}

// WaitUsed waits until n more buffers are used and returns them.
func (r *Rig) WaitUsed(n int) ([]virtq.Used, error) {
	var got []virtq.Used
	deadline := time.Now().Add(waitUsed)
	for {
		got = append(got, r.RX.TakeUsed()...)
		if len(got) >= n {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("vhost used %d of %d buffers within %v (frames lost before vhost?)", len(got), n, waitUsed)
		}
		fds := []unix.PollFd{{Fd: int32(r.call), Events: unix.POLLIN}}
		unix.Poll(fds, 20)
		var b [8]byte
		unix.Read(r.call, b[:])
	}
}

// Stop detaches the backend. vhost flushes its worker first, so every log
// write of the packets seen so far is done when it returns: the final sync
// of a migration works the same way.
func (r *Rig) Stop() error {
	if !r.attached {
		return nil
	}
	r.attached = false
	return r.Net.SetBackend(rxQueue, -1)
}

// LogEvents reads and resets the log eventfd's counter.
func (r *Rig) LogEvents() uint64 {
	var b [8]byte
	n, err := unix.Read(r.logFD, b[:])
	if err != nil || n != 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(b[:])
}

// Log returns the checked range before and now, for the oracle.
func (r *Rig) Log() oracle.Log {
	return oracle.Log{
		Layout:   r.Layout,
		Before:   append([]byte(nil), r.before...),
		After:    append([]byte(nil), r.rng...),
		FirstBit: r.firstBit,
		Pages:    Pages(),
	}
}

// Page returns the guest page number of guest memory offset off.
func (r *Rig) Page(off int) uint64 { return (guestBase + uint64(off)) >> pageShift }

// OffOfPage is the guest memory offset where page p starts.
func OffOfPage(p uint64) int { return int(p<<pageShift) - guestBase }

// Written computes E from the used ring: for each used buffer, each
// descriptor of its chain is logged for the bytes actually written
// (min(len, what is left of used.len)), as vhost_log_write does.
func (r *Rig) Written(used []virtq.Used) (map[uint64]int, error) {
	w := map[uint64]int{}
	for _, u := range used {
		chain, err := r.RX.Chain(uint16(u.ID))
		if err != nil {
			return nil, err
		}
		rem := uint64(u.Len)
		for _, d := range chain {
			l := min(uint64(d.Len), rem)
			if l == 0 {
				break
			}
			for p := d.Addr >> pageShift; p <= (d.Addr+l-1)>>pageShift; p++ {
				w[p]++
			}
			rem -= l
		}
		if rem != 0 {
			return nil, fmt.Errorf("used buffer %d reports %d bytes, its chain holds only %d", u.ID, u.Len, uint64(u.Len)-rem)
		}
	}
	return w, nil
}

// UsedPages are the pages of the used ring (what VHOST_VRING_F_LOG may log).
func (r *Rig) UsedPages() map[uint64]int {
	a := map[uint64]int{}
	first := r.Page(r.RX.UsedOff)
	last := r.Page(r.RX.UsedOff + virtq.UsedSize(ringNum) - 1)
	for p := first; p <= last; p++ {
		a[p] = 0
	}
	return a
}

// Close tears everything down; safe on a half-built rig.
func (r *Rig) Close() {
	if r.Net != nil {
		r.Net.Close()
	}
	if r.Tap != nil {
		r.Tap.Close()
	}
	for _, fd := range []int{r.kick, r.call, r.logFD} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if r.Mem != nil {
		unix.Munmap(r.Mem.Buf)
	}
	if r.logMap != nil {
		unix.Munmap(r.logMap)
	}
}

// errnoOf extracts the errno of a failed vhost ioctl.
func errnoOf(err error) (unix.Errno, bool) {
	var ve *vhost.Error
	if errors.As(err, &ve) {
		return ve.Errno, true
	}
	return 0, false
}
