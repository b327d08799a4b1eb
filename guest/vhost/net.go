//go:build linux

package vhost

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"dirtygate/guest/ioctl"
)

var req = RequestsFor(ioctl.Native)

// Net is an open /dev/vhost-net, driven the way a VMM drives it.
type Net struct {
	fd int
}

// OpenNet opens /dev/vhost-net and becomes its owner.
func OpenNet() (*Net, error) {
	fd, err := unix.Open("/dev/vhost-net", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/vhost-net: %w", err)
	}
	n := &Net{fd: fd}
	if err := n.ioctl("VHOST_SET_OWNER", req.SetOwner, nil); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return n, nil
}

// Close releases the device; vhost stops its worker.
func (n *Net) Close() error { return unix.Close(n.fd) }

// ioctl issues one request with arg pointing at buf (nil for none).
func (n *Net) ioctl(name string, r uint32, buf []byte) error {
	var p uintptr
	if len(buf) > 0 {
		p = uintptr(unsafe.Pointer(&buf[0]))
	}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(n.fd), uintptr(r), p)
	runtime.KeepAlive(buf)
	if e != 0 {
		return &Error{Op: name, Errno: e}
	}
	return nil
}

// Error is a failed vhost ioctl, with the errno kept for ABI checks.
type Error struct {
	Op    string
	Errno unix.Errno
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.Op, e.Errno, unix.ErrnoName(e.Errno))
}

func (e *Error) Unwrap() error { return e.Errno }

var bo = binary.NativeEndian

func u64(v uint64) []byte {
	b := make([]byte, 8)
	bo.PutUint64(b, v)
	return b
}

// Features returns VHOST_GET_FEATURES.
func (n *Net) Features() (uint64, error) {
	b := make([]byte, 8)
	if err := n.ioctl("VHOST_GET_FEATURES", req.GetFeatures, b); err != nil {
		return 0, err
	}
	return bo.Uint64(b), nil
}

// SetFeatures acks features.
func (n *Net) SetFeatures(f uint64) error {
	return n.ioctl("VHOST_SET_FEATURES", req.SetFeatures, u64(f))
}

// SetMemTable tells vhost how guest-physical addresses map to ours.
func (n *Net) SetMemTable(regions []Region) error {
	return n.ioctl("VHOST_SET_MEM_TABLE", req.SetMemTable, MemoryTable(bo, regions))
}

// SetLogBase takes a pointer to a u64 holding the log's user address.
func (n *Net) SetLogBase(addr uint64) error {
	return n.ioctl("VHOST_SET_LOG_BASE", req.SetLogBase, u64(addr))
}

// SetLogFD sets the eventfd vhost signals after logging.
func (n *Net) SetLogFD(fd int) error {
	b := make([]byte, 4)
	bo.PutUint32(b, uint32(int32(fd)))
	return n.ioctl("VHOST_SET_LOG_FD", req.SetLogFD, b)
}

// SetVringNum sets the ring size of queue idx.
func (n *Net) SetVringNum(idx, num uint32) error {
	return n.ioctl("VHOST_SET_VRING_NUM", req.SetVringNum, Pair(bo, idx, int32(num)))
}

// SetVringBase sets the next avail index vhost reads.
func (n *Net) SetVringBase(idx, base uint32) error {
	return n.ioctl("VHOST_SET_VRING_BASE", req.SetVringBase, Pair(bo, idx, int32(base)))
}

// SetVringAddr sets the ring addresses and used-ring logging.
func (n *Net) SetVringAddr(a VringAddr) error {
	return n.ioctl("VHOST_SET_VRING_ADDR", req.SetVringAddr, a.Encode(bo))
}

// SetVringKick sets the eventfd we write to when buffers are available.
func (n *Net) SetVringKick(idx uint32, fd int) error {
	return n.ioctl("VHOST_SET_VRING_KICK", req.SetVringKick, Pair(bo, idx, int32(fd)))
}

// SetVringCall sets the eventfd vhost signals on used buffers.
func (n *Net) SetVringCall(idx uint32, fd int) error {
	return n.ioctl("VHOST_SET_VRING_CALL", req.SetVringCall, Pair(bo, idx, int32(fd)))
}

// SetBackend attaches a tap fd to queue idx (0 = RX, 1 = TX); -1 detaches.
func (n *Net) SetBackend(idx uint32, fd int) error {
	return n.ioctl("VHOST_NET_SET_BACKEND", req.NetSetBackend, Pair(bo, idx, int32(fd)))
}
