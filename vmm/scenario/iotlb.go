package scenario

import "slices"

// Device IOTLB entries shaped as QEMU 7.2 sends them. QEMU answers each
// VHOST_IOTLB_MISS with one entry: the vIOMMU page holding the address
// (hw/virtio/vhost.c: vhost_device_iotlb_miss: iova & ~addr_mask, size
// addr_mask + 1 cut at the end of the memory region, the vIOMMU's
// permission), sent by vhost_backend_update_device_iotlb
// (hw/virtio/vhost-backend.c) as a struct vhost_msg_v2 of type
// VHOST_IOTLB_UPDATE; at start it sends the used ring's first page
// unasked (vhost_dev_start). A vIOMMU page is 4 KiB, or a 2 MiB superpage
// where the guest mapped one. The rig has no miss handler: it sends each
// entry before vhost can need it (the rings' at set-up, a buffer's when it
// is posted), once, which leaves vhost with the entries QEMU's answers
// would have given it. Permission: read-write, what the vIOMMU gives the
// rings' coherent memory (a guest may map RX buffers write-only; 6.1
// checks writes the same way).

// hugeIOTLB is a vIOMMU superpage.
const hugeIOTLB = 2 << 20

// iotlbMap sends the entries covering n bytes of guest memory at off that
// have not been sent yet. IOVA = guest memory offset, so IOVA alignment
// is offset alignment.
func (r *Rig) iotlbMap(off, n int) error {
	if !r.Cfg.IOTLB || n <= 0 {
		return nil
	}
	if r.iotlbSent == nil {
		r.iotlbSent = map[int]bool{}
	}
	for p := off &^ (vhostPage - 1); p < off+n; p += vhostPage {
		start, size := p, vhostPage
		if slices.Contains(r.Cfg.IOTLBHuge, p&^(hugeIOTLB-1)) {
			start, size = p&^(hugeIOTLB-1), hugeIOTLB
		}
		if r.iotlbSent[start] {
			continue
		}
		size = min(size, r.Mem.Size-start)
		if err := r.Net.MapIOTLB(r.DevAddr(r.Mem.GPAOf(start)), uint64(size), r.Mem.VAOf(start)); err != nil {
			return err
		}
		r.iotlbSent[start] = true
	}
	return nil
}

// vhostPage is the vIOMMU's small page.
const vhostPage = 4096
