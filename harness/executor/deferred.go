package executor

// Calls that do not wait for their answer: a rig's teardown and set-up
// (machine.Deferrer), beside the memory writes and write()s of client.go.

import (
	"time"

	"dirtygate/vmm/machine"
)

// Deferring returns the client with Close and Munmap deferred as
// WriteMem is; Ioctl, Mprotect and BindPacket too where the executor
// stops a batch at a failed one (protocol 6); and Open, Eventfd and
// Socket where it also places the fd they return at a number the client
// chose (protocol 7), so the calls that use it queue behind them
// (machine.Deferrer). A rig's teardown, nine calls whose answers nobody
// reads, then travels in one round trip, the scenario's Flush, and its
// set-up waits only for the answers it reads (the features, the tap's
// ifindex and flags).
func (c *Client) Deferring(step string) machine.Machine { return deferring{c, step} }

type deferring struct {
	*Client
	step string
}

func (d deferring) Close(fd int) error {
	if !d.has(protoBatch) {
		return d.Client.Close(fd)
	}
	d.post(Call{Op: OpClose, Args: []uint64{uint64(fd)}}, 0, d.step)
	d.unplace(fd) // the close runs before any later call that places there
	return d.deferredErr()
}

func (d deferring) Munmap(addr uint64, size int) error {
	if !d.has(protoBatch) {
		return d.Client.Munmap(addr, size)
	}
	d.post(Call{Op: OpMunmap, Args: []uint64{addr, uint64(size)}}, 0, d.step)
	return d.deferredErr()
}

// Ioctl is deferred only where a failure stops what follows it: a
// device set up on a failed ioctl must not be driven further.
func (d deferring) Ioctl(fd int, req uint32, arg []byte) error {
	if !d.has(protoFence) {
		return d.Client.Ioctl(fd, req, arg)
	}
	d.post(Call{Op: OpIoctl, Args: []uint64{uint64(fd), uint64(req)}, Data: append([]byte(nil), arg...), Fence: true}, 0, d.step)
	return d.deferredErr()
}

func (d deferring) Mprotect(addr uint64, size int, prot machine.Prot) error {
	if !d.has(protoFence) {
		return d.Client.Mprotect(addr, size, prot)
	}
	d.post(Call{Op: OpMprotect, Args: []uint64{addr, uint64(size), uint64(prot)}, Fence: true}, 0, d.step)
	return d.deferredErr()
}

func (d deferring) BindPacket(fd, ifindex int) error {
	if !d.has(protoFence) {
		return d.Client.BindPacket(fd, ifindex)
	}
	d.post(Call{Op: OpBindPacket, Args: []uint64{uint64(fd), uint64(ifindex)}, Fence: true}, 0, d.step)
	return d.deferredErr()
}

func (d deferring) Open(path string) (int, error) {
	fd, ok := d.placeFd()
	if !ok {
		return d.Client.Open(path)
	}
	return fd, d.queuePlaced(Call{Op: OpOpen, Args: []uint64{uint64(fd)}, Data: []byte(path)}, fd)
}

func (d deferring) Eventfd() (int, error) {
	fd, ok := d.placeFd()
	if !ok {
		return d.Client.Eventfd()
	}
	return fd, d.queuePlaced(Call{Op: OpEventfd, Args: []uint64{uint64(fd)}}, fd)
}

func (d deferring) Socket(kind machine.SocketKind) (int, error) {
	fd, ok := d.placeFd()
	if !ok {
		return d.Client.Socket(kind)
	}
	return fd, d.queuePlaced(Call{Op: OpSocket, Args: []uint64{uint64(kind), uint64(fd)}}, fd)
}

// queuePlaced queues a call that returns an fd, to be moved to fd: fenced, so
// the calls queued after it, which use fd, never run if it fails.
func (d deferring) queuePlaced(k Call, fd int) error {
	k.Fence, k.Place = true, true
	d.post(k, int64(fd), d.step)
	return d.deferredErr()
}

// placedBase is the first fd number the client places at: above what the
// kernel hands the executor (the lowest free: a few dozen at most here),
// and the executor refuses a number already open (EBUSY) rather than
// take it over, so a collision is an error, never a wrong device.
const placedBase = 100

// placeFd reserves the lowest free number for a placed fd, where the
// executor places them (protocol 7).
func (c *Client) placeFd() (int, bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if !c.has(protoPlace) {
		return 0, false
	}
	if c.placed == nil {
		c.placed = map[int]bool{}
	}
	fd := placedBase
	for c.placed[fd] {
		fd++
	}
	c.placed[fd] = true
	return fd, true
}

// unplace frees the number of a placed fd being closed.
func (c *Client) unplace(fd int) {
	c.qmu.Lock()
	delete(c.placed, fd)
	c.qmu.Unlock()
}

// Nap waits up to ms for the eventfd fd and drains it, reading neither
// answer (machine.Napper): where the executor runs batches both travel
// with the next call that waits (a read of the ring the nap was for),
// and block the guest there, not the console.
func (c *Client) Nap(fd, ms int) error {
	if !c.has(protoBatch) {
		return machine.PollDrain(c, fd, ms)
	}
	c.postWait(Call{Op: OpPoll, Args: []uint64{uint64(fd), uint64(ms)}}, anyRet, "", time.Duration(ms)*time.Millisecond)
	c.post(Call{Op: OpRead, Args: []uint64{uint64(fd), 8}}, anyRet, "") // nothing to drain (EAGAIN) is fine
	return c.deferredErr()
}
