package executor

// A rig's teardown in the background (protocol 12, machine.Releaser).

import (
	"fmt"

	"dirtygate/vmm/machine"
)

// The most fds and mappings one OpRelease carries (executor.c's
// RELEASE_FDS, RELEASE_MAPS); a teardown with more goes in several.
const releaseFds, releaseMaps = 64, 64

// Release runs f, a rig's teardown, against a view that collects its
// Close and Munmap calls, and queues them as one OpRelease that travels
// with the next call that waits, as the deferred teardown did
// (machine.Later). From protocol 12 the executor hands the fds to a helper
// process that closes them on the guest's other CPU while the next
// scenario runs (the last close of a tap or a vhost device is most of a
// scenario's teardown), and unmaps the memory once they are closed:
// executor.c's release. Before it, f's calls are deferred one by one.
func (c *Client) Release(f func(machine.Machine)) {
	if !c.has(protoRelease) {
		f(c.Deferring("teardown"))
		return
	}
	v := &releasing{Client: c}
	f(v)
	for fds, maps := v.fds, v.maps; len(fds) > 0 || len(maps) > 0; {
		n, k := min(len(fds), releaseFds), min(len(maps), releaseMaps)
		c.post(Call{Op: OpRelease, Data: encodeRelease(fds[:n], maps[:k])}, 0, "teardown")
		fds, maps = fds[n:], maps[k:]
	}
	for _, fd := range v.fds {
		c.unplace(int(fd)) // the executor closes its copy before any later call
	}
}

// Settle waits until the executor's helper has closed everything released
// and the executor has unmapped what waited for it (OpSettle). A failure
// of what ran in the background is kept as a deferred call's, for the
// next Flush. The executor also settles by itself before a fork and
// before listing vhost workers, as the Go agent does.
func (c *Client) Settle() {
	if !c.has(protoRelease) {
		return
	}
	if _, err := c.sys("settle", OpSettle, 0, nil, nil); err != nil {
		c.keepDeferred(&machine.DeferredError{Step: "teardown", Call: "the background teardown (the helper's closes, the munmaps after them)", Err: err})
	}
}

// releasing is the view Release hands its teardown.
type releasing struct {
	*Client
	fds  []uint32
	maps [][2]uint64
}

func (v *releasing) Close(fd int) error {
	v.fds = append(v.fds, uint32(fd))
	return nil
}

func (v *releasing) Munmap(addr uint64, size int) error {
	v.maps = append(v.maps, [2]uint64{addr, uint64(size)})
	return nil
}

// encodeRelease is OpRelease's data: nfd:u32 fd:u32... nmap:u32
// (addr:u64 len:u64)..., big-endian as every frame.
func encodeRelease(fds []uint32, maps [][2]uint64) []byte {
	b := be.AppendUint32(nil, uint32(len(fds)))
	for _, fd := range fds {
		b = be.AppendUint32(b, fd)
	}
	b = be.AppendUint32(b, uint32(len(maps)))
	for _, m := range maps {
		b = be.AppendUint64(be.AppendUint64(b, m[0]), m[1])
	}
	return b
}

// releaseSummary says what an OpRelease's data held, for its failure.
func releaseSummary(data []byte) string {
	if len(data) < 4 {
		return "malformed"
	}
	nfd := int(be.Uint32(data))
	if len(data) < 8+4*nfd {
		return "malformed"
	}
	fds := make([]uint32, nfd)
	for i := range fds {
		fds[i] = be.Uint32(data[4+4*i:])
	}
	return fmt.Sprintf("close fds %v, unmap %d mappings", fds, be.Uint32(data[4+4*nfd:]))
}
