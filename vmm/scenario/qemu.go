package scenario

import (
	"dirtygate/vmm/vhost"
	"dirtygate/vmm/virtq"
)

// What the rig hands vhost the way QEMU 7.2 does (the README's "What QEMU
// hands vhost" table): ring addresses, used-ring logging, backend
// features, and switching logging on and off while the device runs.

// SetLogging switches logging on or off while the device runs, as QEMU
// does when migration starts or ends (hw/virtio/vhost.c:
// vhost_migration_log): on, the log base first (vhost_dev_log_resize);
// then, both ways, VHOST_SET_FEATURES with or without VHOST_F_LOG_ALL and
// the backend features (vhost_dev_set_features), and every started
// queue's VHOST_SET_VRING_ADDR with VHOST_VRING_F_LOG set or clear
// (vhost_dev_set_log). Off, QEMU frees the log without telling vhost.
func (r *Rig) SetLogging(on bool) error {
	if on {
		if err := r.Net.SetLogBase(r.LogBase()); err != nil {
			return err
		}
	}
	f := r.features
	if !on {
		f &^= 1 << vhost.FeatureLogAll
	}
	if err := r.Net.SetFeatures(f); err != nil {
		return err
	}
	r.backendCap()
	if err := r.Net.SetVringAddr(r.vringAddr(rxQueue, r.RX, on)); err != nil {
		return err
	}
	if r.TX != nil {
		return r.Net.SetVringAddr(r.vringAddr(txQueue, r.TX, on))
	}
	return nil
}

// vringAddr is what QEMU's vhost_virtqueue_set_addr (hw/virtio/vhost.c)
// hands VHOST_SET_VRING_ADDR: the rings' user addresses, or under a
// vIOMMU their IOVAs (vhost_memory_map returns the address untouched);
// log_guest_addr the used ring's address as the guest gave it (its
// guest-physical address, or under a vIOMMU its IOVA: 6.1 then logs the
// used ring through the IOTLB and ignores it), whether logging is on or
// not; VHOST_VRING_F_LOG exactly while the device logs (log_enabled).
func (r *Rig) vringAddr(idx uint32, q *virtq.Ring, log bool) vhost.VringAddr {
	a := vhost.VringAddr{
		Index:        idx,
		Desc:         r.ringAddr(q.DescOff),
		Avail:        r.ringAddr(q.AvailOff),
		Used:         r.ringAddr(q.UsedOff),
		LogGuestAddr: r.DevAddr(r.Mem.GPAOf(q.UsedOff)),
	}
	if log {
		a.Flags = 1 << vhost.VringFLog
	}
	return a
}

// backendCap acks the backend features after VHOST_SET_FEATURES, as
// QEMU does in every configuration (hw/virtio/vhost-backend.c:
// vhost_kernel_set_backend_cap, called from vhost_dev_set_features): what
// the device offers of VHOST_BACKEND_F_IOTLB_MSG_V2. Like QEMU, a kernel
// without the ioctls simply has none.
func (r *Rig) backendCap() uint64 {
	bf, err := r.Net.BackendFeatures()
	if err != nil {
		return 0
	}
	bf &= 1 << vhost.BackendIOTLBMsgV2
	if r.Net.SetBackendFeatures(bf) != nil {
		return 0
	}
	return bf
}
