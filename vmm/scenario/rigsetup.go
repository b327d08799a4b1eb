package scenario

// The device's setup, step by step as QEMU does it: vhost-net opened with
// the memory table, the features negotiated with the log in place, each
// queue set up, the tap attached.

import (
	"errors"
	"fmt"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/tap"
	"dirtygate/vmm/vhost"
	"dirtygate/vmm/virtq"
)

// openNet opens vhost-net and hands it the memory table.
func (r *Rig) openNet(step func(string, error) error) error {
	var err error
	if r.Net, err = vhost.OpenNet(r.M); err != nil {
		return step("open vhost-net", err)
	}
	regs := []vhost.Region{{GuestPhysAddr: r.Mem.GPA, Size: uint64(r.Mem.Size), UserAddr: r.Mem.VA}}
	for _, x := range r.extra {
		regs = append(regs, vhost.Region{GuestPhysAddr: x.GPA, Size: uint64(x.Size), UserAddr: x.VA})
	}
	return step("VHOST_SET_MEM_TABLE", r.later("VHOST_SET_MEM_TABLE").SetMemTable(regs))
}

// later is the device with its ioctls deferred where the machine can
// (machine.Deferrer: the executor's client, a console round trip each
// saved): for the set-up's ioctls that answer only success, each followed
// by a call that waits (an eventfd, the features, the tap), which carries
// it and fails, naming step, if it did. Elsewhere the device itself.
func (r *Rig) later(step string) *vhost.Net { return r.Net.Via(machine.Later(r.M, step)) }

// setupError is step name's failure, err. Where a later call returned a
// deferred call's failure it is that call's step's, and it is taken off
// the machine (machine.Flusher) so that it is reported once, here, and
// not again by the scenario's Flush (misaligned-N reads a refused
// VHOST_SET_LOG_BASE as a finding, not as an error).
func (r *Rig) setupError(name string, err error) *SetupError {
	var d *machine.DeferredError
	if errors.As(err, &d) {
		if d.Step != "" {
			name = d.Step
		}
		if f, ok := r.M.(machine.Flusher); ok {
			f.Flush()
		}
	}
	if name == "open vhost-net" && machine.ErrnoName(err) == "ENOENT" {
		err = fmt.Errorf("%w (no vhost-net in this kernel: CONFIG_VHOST_NET, or modprobe vhost_net)", err)
	}
	return &SetupError{Step: name, Err: err}
}

// negotiate acks the features the configuration needs, LOG_ALL among
// them, with the log in place first; a kernel that does not offer or
// accept LOG_ALL gives ErrLogAllRefused.
func (r *Rig) negotiate(step func(string, error) error) error {
	cfg := r.Cfg
	have, err := r.Net.Features()
	if err := step("VHOST_GET_FEATURES", err); err != nil {
		return err
	}
	want := uint64(1)<<vhost.FeatureLogAll | uint64(1)<<vhost.FeatureVersion1
	if cfg.Mergeable {
		want |= 1 << vhost.FeatureMrgRxbuf
	}
	if cfg.IOTLB {
		want |= 1 << vhost.FeatureAccessPlatform
	}
	if cfg.EventIdx {
		want |= 1 << vhost.FeatureEventIdx
	}
	if have&want == want&^(1<<vhost.FeatureLogAll) && have&want != want {
		return step("VHOST_GET_FEATURES", fmt.Errorf("%w: the device offers %#x", ErrLogAllRefused, have))
	}
	if have&want != want {
		return step("VHOST_GET_FEATURES", fmt.Errorf("device offers %#x, lacks %#x", have, want&^have))
	}
	// The log is in place before LOG_ALL is acked, as when QEMU starts
	// migrating (hw/virtio/vhost.c: vhost_migration_log calls
	// vhost_dev_log_resize, then vhost_dev_set_log). With LogOff it is
	// handed over when logging starts (SetLogging), as there.
	if !cfg.LogOff {
		if err := step("VHOST_SET_LOG_BASE", r.later("VHOST_SET_LOG_BASE").SetLogBase(r.LogBase())); err != nil {
			return err
		}
	}
	if cfg.LogFD {
		if err := step("VHOST_SET_LOG_FD", r.Net.SetLogFD(r.logFD)); err != nil {
			return err
		}
	}
	r.features = want
	if cfg.LogOff {
		want &^= 1 << vhost.FeatureLogAll
	}
	if err := r.Net.SetFeatures(want); err != nil {
		var d *machine.DeferredError // a deferred call before it failed: it never ran
		if !errors.As(err, &d) && want&(1<<vhost.FeatureLogAll) != 0 && r.Net.SetFeatures(want&^(1<<vhost.FeatureLogAll)) == nil {
			err = fmt.Errorf("%w: %w (accepted without it)", ErrLogAllRefused, err)
		}
		return step("VHOST_SET_FEATURES", err)
	}
	if bf := r.backendCap(); cfg.IOTLB && bf&(1<<vhost.BackendIOTLBMsgV2) == 0 {
		return step("VHOST_SET_BACKEND_FEATURES", fmt.Errorf("the device does not offer VHOST_BACKEND_F_IOTLB_MSG_V2"))
	}
	return nil
}

// queue is one virtqueue to set up: RX, or TX (whose used ring is logged).
type queue struct {
	index      uint32
	name       string // "RX", "TX"
	suffix     string // appended to the step names: "" for RX, " (TX)"
	offs       [3]int // descriptor table, avail ring, used ring
	logUsed    bool   // VHOST_VRING_F_LOG: the used ring is logged
	ring       **virtq.Ring
	kick, call *int
	// newErrFD: the queue makes the rig's error eventfd (RX; TX shares it).
	newErrFD bool
}

// setupQueue maps the rings in the IOTLB (with IOTLB), lays them out,
// and hands vhost their size, base, addresses and eventfds, as QEMU does
// (hw/virtio/vhost.c: vhost_virtqueue_start, vhost_virtqueue_init gives
// every queue an error eventfd).
func (r *Rig) setupQueue(step func(string, error) error, q queue) error {
	sizes := [3]int{virtq.DescSize(ringNum), virtq.AvailSize(ringNum), virtq.UsedSize(ringNum)}
	for i, off := range q.offs {
		if err := step("IOTLB update"+q.suffix, r.iotlbMap(off, sizes[i])); err != nil {
			return err
		}
	}
	var err error
	if *q.ring, err = virtq.New(r.Mem, ringNum, q.offs[0], q.offs[1], q.offs[2]); err != nil {
		return step("lay out "+q.name+" ring", err)
	}
	if *q.kick, err = machine.Later(r.M, "eventfd").Eventfd(); err != nil {
		return step("eventfd", err)
	}
	if *q.call, err = machine.Later(r.M, "eventfd").Eventfd(); err != nil {
		return step("eventfd", err)
	}
	addr := r.vringAddr(q.index, *q.ring, q.logUsed)
	for _, s := range []struct {
		name string
		err  func(*vhost.Net) error
	}{
		{"VHOST_SET_VRING_NUM", func(n *vhost.Net) error { return n.SetVringNum(q.index, ringNum) }},
		{"VHOST_SET_VRING_BASE", func(n *vhost.Net) error { return n.SetVringBase(q.index, 0) }},
		{"VHOST_SET_VRING_ADDR", func(n *vhost.Net) error { return n.SetVringAddr(addr) }},
		{"VHOST_SET_VRING_KICK", func(n *vhost.Net) error { return n.SetVringKick(q.index, *q.kick) }},
		{"VHOST_SET_VRING_CALL", func(n *vhost.Net) error { return n.SetVringCall(q.index, *q.call) }},
	} {
		if err := step(s.name+q.suffix, s.err(r.later(s.name+q.suffix))); err != nil {
			return err
		}
	}
	if q.newErrFD {
		if r.errFD, err = machine.Later(r.M, "eventfd").Eventfd(); err != nil {
			return step("eventfd", err)
		}
	}
	return step("VHOST_SET_VRING_ERR"+q.suffix, r.later("VHOST_SET_VRING_ERR"+q.suffix).SetVringErr(q.index, r.errFD))
}

// attach opens the tap and makes it every queue's backend.
func (r *Rig) attach(step func(string, error) error) error {
	var err error
	name, index := r.Cfg.tapName()
	if r.Tap, err = tap.Open(r.M, name, index, headerSize, r.Cfg.MTU); err != nil {
		return step("tap", err)
	}
	if err := step("VHOST_NET_SET_BACKEND", r.later("VHOST_NET_SET_BACKEND").SetBackend(rxQueue, r.Tap.Fd())); err != nil {
		return err
	}
	if r.Cfg.TX {
		if err := step("VHOST_NET_SET_BACKEND (TX)", r.later("VHOST_NET_SET_BACKEND (TX)").SetBackend(txQueue, r.Tap.Fd())); err != nil {
			return err
		}
	}
	r.attached = true
	return nil
}
