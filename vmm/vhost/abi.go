// Package vhost speaks the vhost and vhost-net ioctl ABI (linux/vhost.h) and
// lays out the structures it takes. abi.go is pure data and encoding, shared
// with the host; net.go drives a real /dev/vhost-net on a machine.
//
// Runs on both sides, through machine: in the agent, and on the host driving the executor.
package vhost

import (
	"encoding/binary"

	"dirtygate/vmm/ioctl"
)

// Feature bits (linux/virtio_config.h, virtio_net.h, vhost.h).
const (
	FeatureMrgRxbuf       = 15 // VIRTIO_NET_F_MRG_RXBUF
	FeatureLogAll         = 26 // VHOST_F_LOG_ALL
	FeatureNetVirtioHdr   = 27 // VHOST_NET_F_VIRTIO_NET_HDR, also VIRTIO_F_ANY_LAYOUT
	FeatureIndirectDesc   = 28 // VIRTIO_RING_F_INDIRECT_DESC
	FeatureEventIdx       = 29 // VIRTIO_RING_F_EVENT_IDX
	FeatureVersion1       = 32 // VIRTIO_F_VERSION_1
	FeatureAccessPlatform = 33 // VIRTIO_F_ACCESS_PLATFORM
)

// Device IOTLB (linux/vhost_types.h): with VIRTIO_F_ACCESS_PLATFORM the
// addresses in the rings are IOVAs, translated by entries the VMM writes
// to the device as struct vhost_msg_v2.
const (
	BackendIOTLBMsgV2 = 1   // VHOST_BACKEND_F_IOTLB_MSG_V2
	IOTLBMsgV2        = 0x2 // VHOST_IOTLB_MSG_V2
	IOTLBUpdate       = 2   // VHOST_IOTLB_UPDATE
	AccessRW          = 0x3 // VHOST_ACCESS_RW
	sizeMsgV2         = 72  // struct vhost_msg_v2
)

// VringFLog is VHOST_VRING_F_LOG: log used-ring writes at log_guest_addr.
const VringFLog = 0

// PageSize is VHOST_PAGE_SIZE: one log bit per 4 KiB of guest-physical
// memory, whatever the host page size.
const PageSize = 0x1000

// Sizes of the structures the ioctls take; they are the same on every arch
// (only u32/u64/int fields, naturally packed).
const (
	sizeU64         = 8
	sizeInt         = 4
	sizeMemoryHdr   = 8  // struct vhost_memory without regions
	sizeMemRegion   = 32 // struct vhost_memory_region
	sizeVringState  = 8  // struct vhost_vring_state
	sizeVringFile   = 8  // struct vhost_vring_file
	sizeVringAddr   = 40 // struct vhost_vring_addr
	vhostIoctlMagic = 0xAF
)

// Requests are the ioctl numbers of one encoding.
type Requests struct {
	GetFeatures, SetFeatures, SetOwner, ResetOwner, SetMemTable uint32
	SetLogBase, SetLogFD                                        uint32
	SetVringNum, SetVringAddr, SetVringBase, GetVringBase       uint32
	SetVringKick, SetVringCall, SetVringErr                     uint32
	NetSetBackend                                               uint32
	GetBackendFeatures, SetBackendFeatures                      uint32
}

// RequestsFor computes every request number with the given _IOC encoding.
func RequestsFor(e ioctl.Encoding) Requests {
	const m = vhostIoctlMagic
	return Requests{
		GetFeatures:   e.IOR(m, 0x00, sizeU64),
		SetFeatures:   e.IOW(m, 0x00, sizeU64),
		SetOwner:      e.IO(m, 0x01),
		ResetOwner:    e.IO(m, 0x02),
		SetMemTable:   e.IOW(m, 0x03, sizeMemoryHdr),
		SetLogBase:    e.IOW(m, 0x04, sizeU64),
		SetLogFD:      e.IOW(m, 0x07, sizeInt),
		SetVringNum:   e.IOW(m, 0x10, sizeVringState),
		SetVringAddr:  e.IOW(m, 0x11, sizeVringAddr),
		SetVringBase:  e.IOW(m, 0x12, sizeVringState),
		GetVringBase:  e.IOWR(m, 0x12, sizeVringState),
		SetVringKick:  e.IOW(m, 0x20, sizeVringFile),
		SetVringCall:  e.IOW(m, 0x21, sizeVringFile),
		SetVringErr:   e.IOW(m, 0x22, sizeVringFile),
		NetSetBackend: e.IOW(m, 0x30, sizeVringFile),

		SetBackendFeatures: e.IOW(m, 0x25, sizeU64),
		GetBackendFeatures: e.IOR(m, 0x26, sizeU64),
	}
}

// Region is struct vhost_memory_region.
type Region struct {
	GuestPhysAddr uint64
	Size          uint64
	UserAddr      uint64
}

// MemoryTable encodes struct vhost_memory with its regions in byte order bo.
func MemoryTable(bo binary.ByteOrder, regions []Region) []byte {
	b := make([]byte, sizeMemoryHdr+sizeMemRegion*len(regions))
	bo.PutUint32(b[0:], uint32(len(regions)))
	for i, r := range regions {
		o := b[sizeMemoryHdr+sizeMemRegion*i:]
		bo.PutUint64(o[0:], r.GuestPhysAddr)
		bo.PutUint64(o[8:], r.Size)
		bo.PutUint64(o[16:], r.UserAddr)
	}
	return b
}

// VringAddr is struct vhost_vring_addr: user virtual addresses of the
// rings, and the guest-physical address of the used ring for logging.
type VringAddr struct {
	Index        uint32
	Flags        uint32
	Desc         uint64
	Used         uint64
	Avail        uint64
	LogGuestAddr uint64
}

// Encode lays out the structure in byte order bo.
func (a VringAddr) Encode(bo binary.ByteOrder) []byte {
	b := make([]byte, sizeVringAddr)
	bo.PutUint32(b[0:], a.Index)
	bo.PutUint32(b[4:], a.Flags)
	bo.PutUint64(b[8:], a.Desc)
	bo.PutUint64(b[16:], a.Used)
	bo.PutUint64(b[24:], a.Avail)
	bo.PutUint64(b[32:], a.LogGuestAddr)
	return b
}

// Pair encodes struct vhost_vring_state or vhost_vring_file (two 32-bit fields).
func Pair(bo binary.ByteOrder, index uint32, value int32) []byte {
	b := make([]byte, 8)
	bo.PutUint32(b[0:], index)
	bo.PutUint32(b[4:], uint32(value))
	return b
}

// IOTLBUpdateMsg encodes struct vhost_msg_v2 carrying a VHOST_IOTLB_UPDATE
// that maps [iova, iova+size) to user address uaddr, read-write.
func IOTLBUpdateMsg(bo binary.ByteOrder, iova, size, uaddr uint64) []byte {
	b := make([]byte, sizeMsgV2)
	bo.PutUint32(b[0:], IOTLBMsgV2) // type; asid (b[4:8]) stays 0
	bo.PutUint64(b[8:], iova)       // struct vhost_iotlb_msg
	bo.PutUint64(b[16:], size)
	bo.PutUint64(b[24:], uaddr)
	b[32] = AccessRW
	b[33] = IOTLBUpdate
	return b
}
