package executor

import (
	"fmt"
	"math"
	"time"

	"dirtygate/vmm/machine"
)

// Call sends one call and returns the executor's answer. Calls made at
// the same time from several goroutines (a harvest loop beside the
// traffic, devices driven side by side) travel in one batch when the
// executor has batches: one round trip, and they run in the guest back to
// back, as a VMM's threads would, not a console round trip apart.
func (c *Client) Call(op byte, wait time.Duration, args []uint64, data []byte) (Response, error) {
	k := &pending{Call: Call{Op: op, Args: args, Data: data}, wait: wait,
		reply: c.replyBound(op, args, data), done: make(chan result, 1)}
	c.qmu.Lock()
	c.queue = append(c.queue, k)
	c.qmu.Unlock()
	c.callMu.Lock()
	defer c.callMu.Unlock()
	for {
		select {
		case res := <-k.done: // it went in another caller's batch
			if err := c.deferredErr(); res.err == nil && err != nil {
				return Response{}, err
			}
			return res.r, res.err
		default:
		}
		c.send(c.take())
	}
}

// post queues a call that nobody waits for (a deferred write): the next
// Call's round trips carry it. want is the return that means success
// (write(): every byte; a placed call: its fd); anything else is the call's failure, kept for
// the calls after it. A fenced call's failure also stops the calls after
// it in its batch (protocol 6); step names it in the failure.
func (c *Client) post(call Call, want int64, step string) { c.postWait(call, want, step, 0) }

// postWait is post for a call that blocks in the guest for up to wait
// (a poll): its round trip waits that much longer. want anyRet: every
// return is a success (only a lost round trip fails it).
func (c *Client) postWait(call Call, want int64, step string, wait time.Duration) {
	k := &pending{Call: call, deferred: true, want: want, step: step, wait: wait, done: make(chan result, 1)}
	c.qmu.Lock()
	c.queue = append(c.queue, k)
	c.qmu.Unlock()
	c.count(func(s *Stats) { s.Deferred++ })
}

// deferredErr is the first failure of a deferred call, if any.
func (c *Client) deferredErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deferErr
}

// Flush sends the deferred calls still queued and returns the first
// failure of a deferred call since the last Flush, forgetting it: each
// scenario ends with one (machine.Flusher), so a failure is charged to the
// scenario whose call it was and the next one starts clean. A lost round
// trip is never forgotten (every later call fails with it).
func (c *Client) Flush() error {
	c.callMu.Lock()
	for {
		c.qmu.Lock()
		n := len(c.queue)
		c.qmu.Unlock()
		if n == 0 {
			break
		}
		c.send(c.take())
	}
	c.callMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.deferErr
	c.deferErr = nil
	if c.broken != nil {
		return c.broken
	}
	return err
}

// pending is a call waiting for its round trip.
type pending struct {
	Call
	wait  time.Duration
	reply int // the most bytes its response carries
	done  chan result
	// deferred: nobody waits for it; a failure (a lost round trip, or a
	// return other than want) is kept for the next call. step is what
	// its caller named it (machine.Deferrer).
	deferred bool
	want     int64
	step     string
}

// anyRet is the want of a deferred call whose return nobody reads (Nap).
const anyRet = math.MinInt64

type result struct {
	r   Response
	err error
}

// batchable says whether op may share a round trip: not the calls that
// open or end the conversation.
func batchable(op byte) bool { return op != OpHello && op != OpReboot && op != OpBatch }

// replyBound is the most data the response to a call carries.
func (c *Client) replyBound(op byte, args []uint64, data []byte) int {
	switch op {
	case OpReadMem:
		if len(args) == 4 { // two ranges (protocol 9)
			return int(args[1] + args[3])
		}
		return int(args[1])
	case OpRead:
		return int(args[1])
	case OpSwapWords:
		return int(args[1]) * c.abi.WordBits / 8
	case OpIoctl:
		return len(data)
	case OpChildView:
		return c.forkN
	case OpVhostWorkers:
		return 4 * 64
	}
	return 0
}

// take removes the calls the next round trip carries from the queue: the
// oldest, and those after it that fit one batch's request and response.
func (c *Client) take() []*pending {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	n, req, rep := 0, 0, 0
	for ; n < len(c.queue); n++ {
		k := c.queue[n]
		if n > 0 && (!c.has(protoBatch) || !batchable(c.queue[0].Op) || !batchable(k.Op) ||
			req+k.size() > c.dataMax() || rep+resultHead+k.reply > c.dataMax()) {
			break
		}
		req += k.size()
		rep += resultHead + k.reply
	}
	batch := append([]*pending(nil), c.queue[:n]...)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	return batch
}

// send makes the round trip of batch and hands each call its result.
func (c *Client) send(batch []*pending) {
	if len(batch) == 1 && !batch[0].Place { // placing is a batch's
		k := batch[0]
		r, err := c.roundTrip(k.Op, k.wait, k.Args, k.Data, 1)
		k.done <- result{r, err}
		c.noteDeferred(k, r, err)
		return
	}
	var wait time.Duration
	calls := make([]Call, len(batch))
	for i, k := range batch {
		wait += k.wait + time.Duration(2*k.reply)*c.PerByte
		calls[i] = k.Call
	}
	r, err := c.roundTrip(OpBatch, wait, nil, EncodeBatch(calls), len(batch))
	var rs []Response
	if err == nil {
		rs, err = DecodeBatch(r, len(batch))
		if n := len(rs); err == nil && n < len(batch) && !fenceFailed(batch[n-1], rs[n-1]) {
			err = fmt.Errorf("batch of %d calls: the executor ran %d", len(batch), n)
		}
		if err != nil {
			// Some calls may have run: never send them again.
			err = fmt.Errorf("executor: %w", err)
			c.mu.Lock()
			c.broken = err
			c.mu.Unlock()
		}
	}
	for i, k := range batch {
		var r Response
		e := err
		switch {
		case e != nil:
		case i < len(rs):
			r = rs[i]
		default: // after a fenced call that failed: never ran
			e = fmt.Errorf("%w: %w", machine.ErrNotRun, c.deferredErr())
		}
		c.noteDeferred(k, r, e) // before the answer: a call not run after it names its failure
		k.done <- result{r: r, err: e}
	}
}

// fenceFailed says whether a batch may end at k: a fenced call that
// failed (protocol 6), after which the executor runs nothing more.
func fenceFailed(k *pending, r Response) bool { return k.Fence && r.Ret < 0 && r.Ret >= -4095 }

// noteDeferred keeps the first failure of a deferred call: its round
// trip lost (err), or a return other than the one it wanted.
func (c *Client) noteDeferred(k *pending, r Response, err error) {
	if !k.deferred || (err == nil && (r.Ret == k.want || k.want == anyRet)) {
		return
	}
	var what, call string
	switch k.Op {
	case OpWrite:
		what, call = fmt.Sprintf("a deferred write(%d) of %d bytes", k.Args[0], len(k.Data)), "write"
	case OpClose:
		what, call = fmt.Sprintf("a deferred close(%d)", k.Args[0]), "close"
	case OpMunmap:
		what, call = fmt.Sprintf("a deferred munmap of %d bytes at %#x", k.Args[1], k.Args[0]), "munmap"
	case OpIoctl:
		what, call = fmt.Sprintf("a deferred ioctl %#x on fd %d", k.Args[1], k.Args[0]), "ioctl"
	case OpMprotect:
		what, call = fmt.Sprintf("a deferred mprotect of %d bytes at %#x", k.Args[1], k.Args[0]), "mprotect"
	case OpOpen:
		what, call = fmt.Sprintf("a deferred open of %s as fd %d", k.Data, k.want), "open"
	case OpEventfd:
		what, call = fmt.Sprintf("a deferred eventfd as fd %d", k.want), "eventfd"
	case OpSocket:
		what, call = fmt.Sprintf("a deferred socket as fd %d", k.want), "socket"
	case OpPoll:
		what, call = fmt.Sprintf("a deferred poll of fd %d", k.Args[0]), "poll"
	case OpRead:
		what, call = fmt.Sprintf("a deferred read of fd %d", k.Args[0]), "read"
	case OpBindPacket:
		what, call = fmt.Sprintf("a deferred bind of fd %d to ifindex %d", k.Args[0], k.Args[1]), "bind"
	case OpRelease:
		what, call = "a teardown in the background ("+releaseSummary(k.Data)+")", "close or munmap"
	default:
		what, call = fmt.Sprintf("a deferred write of %d bytes at %#x", len(k.Data), k.Args[0]), "writemem"
	}
	switch {
	case err != nil:
	case r.Ret < 0 && r.Ret >= -4095:
		err = &machine.Errno{Op: call, Num: int(-r.Ret), Name: c.errnos.Name(int(-r.Ret))}
	default:
		err = fmt.Errorf("it returned %d", r.Ret)
	}
	c.keepDeferred(&machine.DeferredError{Step: k.step, Call: what, Err: err})
}

// keepDeferred keeps err for the next call and Flush, unless one is kept.
func (c *Client) keepDeferred(err error) {
	c.mu.Lock()
	if c.deferErr == nil {
		c.deferErr = err
	}
	c.mu.Unlock()
}
