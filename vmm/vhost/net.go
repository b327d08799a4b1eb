package vhost

import (
	"encoding/binary"
	"fmt"

	"dirtygate/vmm/machine"
)

// Net is an open /dev/vhost-net on a machine, driven the way a VMM drives it.
type Net struct {
	m   machine.Machine
	fd  int
	req Requests
	bo  binary.ByteOrder
}

// OpenNet opens /dev/vhost-net and becomes its owner. Where the machine
// defers (machine.Later), both travel with the next call that waits,
// which returns their failure (step "open vhost-net", "VHOST_SET_OWNER").
func OpenNet(m machine.Machine) (*Net, error) {
	fd, err := machine.Later(m, "open vhost-net").Open("/dev/vhost-net")
	if err != nil {
		return nil, err
	}
	abi := m.ABI()
	n := &Net{m: m, fd: fd, req: RequestsFor(abi.Ioctl), bo: abi.ByteOrder}
	if err := n.Via(machine.Later(m, "VHOST_SET_OWNER")).ioctl("VHOST_SET_OWNER", n.req.SetOwner, nil); err != nil {
		m.Close(fd)
		return nil, err
	}
	return n, nil
}

// Fd is the device's descriptor: closing it releases the device and
// vhost stops its worker (Rig.Close does, with the rest of the rig).
func (n *Net) Fd() int { return n.fd }

// Via is the device driven through m, another view of its machine (a
// machine.Deferrer's Deferring): the same fd and encoding.
func (n *Net) Via(m machine.Machine) *Net {
	v := *n
	v.m = m
	return &v
}

// ioctl issues one request with arg pointing at buf (nil for none).
func (n *Net) ioctl(name string, r uint32, buf []byte) error {
	if err := n.m.Ioctl(n.fd, r, buf); err != nil {
		return &Error{Op: name, Err: err}
	}
	return nil
}

// Error is a failed vhost ioctl; machine.ErrnoName finds its errno.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

func (n *Net) u64(v uint64) []byte {
	b := make([]byte, 8)
	n.bo.PutUint64(b, v)
	return b
}

// Features returns VHOST_GET_FEATURES.
func (n *Net) Features() (uint64, error) {
	b := make([]byte, 8)
	if err := n.ioctl("VHOST_GET_FEATURES", n.req.GetFeatures, b); err != nil {
		return 0, err
	}
	return n.bo.Uint64(b), nil
}

// SetFeatures acks features.
func (n *Net) SetFeatures(f uint64) error {
	return n.ioctl("VHOST_SET_FEATURES", n.req.SetFeatures, n.u64(f))
}

// SetMemTable tells vhost how guest-physical addresses map to user addresses.
func (n *Net) SetMemTable(regions []Region) error {
	return n.ioctl("VHOST_SET_MEM_TABLE", n.req.SetMemTable, MemoryTable(n.bo, regions))
}

// SetLogBase takes a pointer to a u64 holding the log's user address.
func (n *Net) SetLogBase(addr uint64) error {
	return n.ioctl("VHOST_SET_LOG_BASE", n.req.SetLogBase, n.u64(addr))
}

// SetLogFD sets the eventfd vhost signals after logging.
func (n *Net) SetLogFD(fd int) error {
	b := make([]byte, 4)
	n.bo.PutUint32(b, uint32(int32(fd)))
	return n.ioctl("VHOST_SET_LOG_FD", n.req.SetLogFD, b)
}

// SetVringNum sets the ring size of queue idx.
func (n *Net) SetVringNum(idx, num uint32) error {
	return n.ioctl("VHOST_SET_VRING_NUM", n.req.SetVringNum, Pair(n.bo, idx, int32(num)))
}

// SetVringBase sets the next avail index vhost reads.
func (n *Net) SetVringBase(idx, base uint32) error {
	return n.ioctl("VHOST_SET_VRING_BASE", n.req.SetVringBase, Pair(n.bo, idx, int32(base)))
}

// VringBase returns VHOST_GET_VRING_BASE: the next avail index vhost
// would read (6.1 only reads it; QEMU calls it when a queue stops).
func (n *Net) VringBase(idx uint32) (uint32, error) {
	b := Pair(n.bo, idx, 0)
	if err := n.ioctl("VHOST_GET_VRING_BASE", n.req.GetVringBase, b); err != nil {
		return 0, err
	}
	return n.bo.Uint32(b[4:]), nil
}

// SetVringAddr sets the ring addresses and used-ring logging.
func (n *Net) SetVringAddr(a VringAddr) error {
	return n.ioctl("VHOST_SET_VRING_ADDR", n.req.SetVringAddr, a.Encode(n.bo))
}

// SetVringKick sets the eventfd written when buffers are available.
func (n *Net) SetVringKick(idx uint32, fd int) error {
	return n.ioctl("VHOST_SET_VRING_KICK", n.req.SetVringKick, Pair(n.bo, idx, int32(fd)))
}

// SetVringCall sets the eventfd vhost signals on used buffers.
func (n *Net) SetVringCall(idx uint32, fd int) error {
	return n.ioctl("VHOST_SET_VRING_CALL", n.req.SetVringCall, Pair(n.bo, idx, int32(fd)))
}

// SetVringErr sets the eventfd vhost signals on a queue error (vq_err).
func (n *Net) SetVringErr(idx uint32, fd int) error {
	return n.ioctl("VHOST_SET_VRING_ERR", n.req.SetVringErr, Pair(n.bo, idx, int32(fd)))
}

// SetBackend attaches a tap fd to queue idx (0 = RX, 1 = TX); -1 detaches.
func (n *Net) SetBackend(idx uint32, fd int) error {
	return n.ioctl("VHOST_NET_SET_BACKEND", n.req.NetSetBackend, Pair(n.bo, idx, int32(fd)))
}

// SetBackendFeatures acks VHOST_SET_BACKEND_FEATURES.
func (n *Net) SetBackendFeatures(f uint64) error {
	return n.ioctl("VHOST_SET_BACKEND_FEATURES", n.req.SetBackendFeatures, n.u64(f))
}

// BackendFeatures returns VHOST_GET_BACKEND_FEATURES.
func (n *Net) BackendFeatures() (uint64, error) {
	b := make([]byte, 8)
	if err := n.ioctl("VHOST_GET_BACKEND_FEATURES", n.req.GetBackendFeatures, b); err != nil {
		return 0, err
	}
	return n.bo.Uint64(b), nil
}

// MapIOTLB writes one device IOTLB entry: IOVAs [iova, iova+size) are
// user addresses [uaddr, uaddr+size).
func (n *Net) MapIOTLB(iova, size, uaddr uint64) error {
	k, err := n.m.Write(n.fd, IOTLBUpdateMsg(n.bo, iova, size, uaddr))
	if err == nil && k != sizeMsgV2 {
		err = fmt.Errorf("wrote %d of %d bytes", k, sizeMsgV2)
	}
	if err != nil {
		return &Error{Op: fmt.Sprintf("IOTLB update %#x+%#x", iova, size), Err: err}
	}
	return nil
}
