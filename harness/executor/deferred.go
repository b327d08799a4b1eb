package executor

// Calls that do not wait for their answer: a rig's teardown and set-up
// (machine.Deferrer), beside the memory writes and write()s of client.go.

import "dirtygate/vmm/machine"

// Deferring returns the client with Close and Munmap deferred as
// WriteMem is, and Ioctl and Mprotect too where the executor stops a
// batch at a failed one (protocol 6) (machine.Deferrer): a rig's
// teardown, nine calls whose answers nobody reads, then travels in one
// round trip, the scenario's Flush, and its set-up's dozen ioctls and
// guard pages in the round trips of the calls that return an fd.
func (c *Client) Deferring(step string) machine.Machine { return deferring{c, step} }

type deferring struct {
	*Client
	step string
}

func (d deferring) Close(fd int) error {
	if !d.defers() {
		return d.Client.Close(fd)
	}
	d.post(OpClose, []uint64{uint64(fd)}, nil, 0, false, d.step)
	return d.deferredErr()
}

func (d deferring) Munmap(addr uint64, size int) error {
	if !d.defers() {
		return d.Client.Munmap(addr, size)
	}
	d.post(OpMunmap, []uint64{addr, uint64(size)}, nil, 0, false, d.step)
	return d.deferredErr()
}

// Ioctl is deferred only where a failure stops what follows it: a
// device set up on a failed ioctl must not be driven further.
func (d deferring) Ioctl(fd int, req uint32, arg []byte) error {
	if !d.fences() {
		return d.Client.Ioctl(fd, req, arg)
	}
	d.post(OpIoctl, []uint64{uint64(fd), uint64(req)}, append([]byte(nil), arg...), 0, true, d.step)
	return d.deferredErr()
}

func (d deferring) Mprotect(addr uint64, size int, prot machine.Prot) error {
	if !d.fences() {
		return d.Client.Mprotect(addr, size, prot)
	}
	d.post(OpMprotect, []uint64{addr, uint64(size), uint64(prot)}, nil, 0, true, d.step)
	return d.deferredErr()
}

// fences says whether the executor stops a batch at a fenced call that
// failed (protocol 6).
func (c *Client) fences() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.fencing
}

// defers says whether calls with no result but success wait for the next
// call's round trip: where the executor runs batches.
func (c *Client) defers() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.batching
}
