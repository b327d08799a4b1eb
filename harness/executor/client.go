package executor

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierrec/lz4/v4"

	"dirtygate/vmm/errno"
	"dirtygate/vmm/machine"
)

// Client is a machine.Machine whose calls run in the executor.
type Client struct {
	w      io.Writer
	abi    machine.ABI
	errnos errno.Table
	// Timeout is how long one try waits for its response, on top of the
	// call's own waiting (Poll); Tries is how often a call is sent.
	Timeout time.Duration
	Tries   int
	// PerByte is added to a try's wait for each byte of its request: the
	// guest reads a long line (a 9014-byte frame is 18 KB of hex) at the
	// console's pace, which is slow on a loaded TCG host and on a board
	// at 9600 baud (about 1 ms a byte), so a fixed wait resent big
	// requests that were still being read.
	PerByte time.Duration

	in     chan event
	callMu sync.Mutex   // one round trip in flight: the wire has no multiplexing
	qmu    sync.Mutex   // queue, placed
	queue  []*pending   // calls waiting for a round trip, oldest first
	placed map[int]bool // the fd numbers placed (protocol 7) and not closed
	// proto is the protocol the executor said in its hello (0 before):
	// what the client may use of it is has(proto...).
	proto atomic.Int32
	// packer packs requests (protocol 3); sent is the stream of requests
	// sent, as the executor keeps it (protocol 10). roundTrip's alone.
	packer lz4.CompressorHC // HC: the guest decodes the same blocks; ~6% fewer characters than the fast compressor
	sent   stream
	seq    uint32
	mu     sync.Mutex
	stats  Stats
	broken error // set by the first lost call: every later call fails fast
	// deferErr is the first failure of a deferred call since the last
	// Flush: every call returns it until then, so a call that went wrong
	// never goes unseen.
	deferErr error
	forkN    int // the size of the waiting child's view (Fork)
}

type event struct {
	r   Response
	err error
}

// NewClient returns a client that writes requests to w. Feed everything
// the executor prints to the Scanner from Scanner(). abi and errnos are the
// target's, from arches/.
func NewClient(w io.Writer, abi machine.ABI, errnos errno.Table) *Client {
	return &Client{w: w, abi: abi, errnos: errnos, Timeout: 5 * time.Second, Tries: 4, PerByte: time.Millisecond,
		in: make(chan event, 64)}
}

// Scanner returns the writer the executor's output must go to.
func (c *Client) Scanner() io.Writer {
	return NewScanner(func(r Response, err error) {
		select {
		case c.in <- event{r, err}:
		default: // nobody is waiting and the queue is full: drop, it is stale
		}
	})
}

// Stats returns the transport's repair counts so far.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Repairs = append([]string(nil), s.Repairs...)
	return s
}

// ErrLost is a call that got no intact response after every try.
var ErrLost = errors.New("executor: no intact response")

// WaitReady waits for the executor's ready frame (sequence 0).
func (c *Client) WaitReady(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case e := <-c.in:
			if e.err == nil && e.r.Seq == 0 {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("the executor did not report ready within %v (boot failure? see the console log)", timeout)
		}
	}
}

// roundTrip sends one request (calls of them, for the counts) and waits
// for its response, resending a lost or torn one.
func (c *Client) roundTrip(op byte, wait time.Duration, args []uint64, data []byte, calls int) (Response, error) {
	c.mu.Lock()
	if c.broken != nil {
		c.mu.Unlock()
		return Response{}, c.broken
	}
	c.seq++
	seq := c.seq
	c.stats.Calls += calls
	c.stats.RoundTrips++
	if calls > 1 {
		c.stats.Batched += calls
	}
	c.mu.Unlock()
	frame := Request{Seq: seq, Op: op, Args: args, Data: data}.frame()
	line, history := c.line(frame)
	unpacked := 2 + 2*len(frame) // '>', the hex, '\n'
	if c.has(protoBase64) {
		unpacked = 2 + base64.RawStdEncoding.EncodedLen(len(frame))
	}
	c.count(func(s *Stats) {
		s.Sent += len(line)
		s.Unpacked += unpacked
		if history {
			s.HistoryPacked++
		}
	})
	wait += time.Duration(len(line)) * c.PerByte
	var last error
	for try := 0; try < c.Tries; try++ {
		if try > 0 {
			c.count(func(s *Stats) { s.Resent++ })
		}
		// A guest that stops reading its console fills the pipe; a write
		// into it must not wait forever (os.Pipe files take deadlines).
		if d, ok := c.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
			d.SetWriteDeadline(time.Now().Add(4*c.Timeout + wait))
		}
		_, err := c.w.Write(line)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			last = fmt.Errorf("the guest stopped reading its console: %w", err)
			c.repair(seq, op, try, last)
			continue
		}
		if err != nil {
			return Response{}, fmt.Errorf("executor: sending request %d: %w", seq, err)
		}
		r, err := c.await(seq, c.Timeout+wait)
		if err == nil {
			return r, nil
		}
		last = err
		c.repair(seq, op, try, err)
	}
	err := fmt.Errorf("%w to request %d (op %d) after %d tries: %v", ErrLost, seq, op, c.Tries, last)
	c.mu.Lock()
	c.broken = err
	c.mu.Unlock()
	return Response{}, err
}

// line renders frame as the shortest line the executor reads of plain,
// 'Z' (protocol 3) and 'Y' (10), and adds it to the stream of requests
// sent, which the executor keeps whatever the line: history says it went
// as 'Y'. roundTrip's alone (one round trip at a time).
func (c *Client) line(frame []byte) (line []byte, history bool) {
	b64 := c.has(protoBase64)
	c.sent.add(frame)
	if !c.has(protoPack) {
		return requestLine(frame, b64), false
	}
	line = packedLine(frame, &c.packer, b64)
	if c.has(protoHistory) {
		if y := c.sent.historyLine(frame, b64); y != nil && len(y) < len(line) {
			return y, true
		}
	}
	return line, false
}

// The protocol versions (the executor's hello) from which the client
// uses what each brought; executor.c's OP_HELLO lists them all.
const (
	protoBatch     = 2  // batches; calls nobody waits for deferred
	protoPack      = 3  // requests LZ4-packed
	protoBase64    = 5  // requests in base64
	protoFence     = 6  // a fenced call that fails ends its batch
	protoPlace     = 7  // fds placed at a number the client chose
	protoTwoRanges = 9  // a read of two ranges, a barrier between
	protoHistory   = 10 // requests packed against the ones before
	protoBigFrames = 11 // frames of MaxData, not maxDataBefore
	protoRelease   = 12 // teardown in the background (OpRelease, OpSettle)
)

// has says whether the executor speaks protocol v.
func (c *Client) has(v int32) bool { return c.proto.Load() >= v }

// dataMax is the most data a frame to the executor carries.
func (c *Client) dataMax() int {
	if c.has(protoBigFrames) {
		return MaxData
	}
	return maxDataBefore
}

// repair notes why try of request seq failed (the first 8 are kept).
func (c *Client) repair(seq uint32, op byte, try int, err error) {
	c.count(func(s *Stats) {
		if len(s.Repairs) < 8 {
			s.Repairs = append(s.Repairs, fmt.Sprintf("request %d (op %d) try %d: %v", seq, op, try+1, err))
		}
	})
}

// Err is the loss that broke the connection, or nil.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// await waits for the response to seq, dropping duplicates of earlier ones.
func (c *Client) await(seq uint32, d time.Duration) (Response, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e := <-c.in:
			switch {
			case e.err != nil:
				c.count(func(s *Stats) { s.Torn++ })
				return Response{}, e.err
			case e.r.Seq < seq:
				c.count(func(s *Stats) { s.Duplicates++ })
			case e.r.Seq > seq:
				return Response{}, fmt.Errorf("response to request %d while waiting for %d: the executor is out of step", e.r.Seq, seq)
			default:
				c.count(func(s *Stats) {
					s.Received += e.r.Wire
					if e.r.Packed {
						s.PackedResponses++
					}
				})
				return e.r, nil
			}
		case <-t.C:
			return Response{}, fmt.Errorf("no response to request %d within %v", seq, d)
		}
	}
}

func (c *Client) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// Hello is what the executor says about itself.
type Hello struct {
	Version   int
	WordBytes int
	BigEndian bool
	Machine   string // uname -m
	Release   string // uname -r
}

// Hello asks the executor what it runs on.
func (c *Client) Hello() (Hello, error) {
	r, err := c.Call(OpHello, 0, nil, nil)
	if err != nil {
		return Hello{}, err
	}
	if len(r.Data) < 3 {
		return Hello{}, fmt.Errorf("executor hello: %d bytes", len(r.Data))
	}
	h := Hello{Version: int(r.Data[0]), WordBytes: int(r.Data[1]), BigEndian: r.Data[2] == 1}
	c.proto.Store(int32(h.Version))
	var strs []string
	rest := r.Data[3:]
	for len(rest) > 0 {
		i := 0
		for i < len(rest) && rest[i] != 0 {
			i++
		}
		strs = append(strs, string(rest[:i]))
		rest = rest[min(i+1, len(rest)):]
	}
	if len(strs) >= 2 {
		h.Machine, h.Release = strs[0], strs[1]
	}
	return h, nil
}

// Reboot ends the VM (the executor is PID 1 there).
func (c *Client) Reboot() error {
	_, err := c.Call(OpReboot, 0, nil, nil)
	return err
}

// sys makes a call whose Ret is a syscall result: -4095..-1 is -errno.
func (c *Client) sys(name string, op byte, wait time.Duration, args []uint64, data []byte) (Response, error) {
	r, err := c.Call(op, wait, args, data)
	if err != nil {
		return r, err
	}
	if r.Ret < 0 && r.Ret >= -4095 {
		n := int(-r.Ret)
		return r, &machine.Errno{Op: name, Num: n, Name: c.errnos.Name(n)}
	}
	return r, nil
}

func (c *Client) ABI() machine.ABI { return c.abi }

func (c *Client) Open(path string) (int, error) {
	r, err := c.sys("open "+path, OpOpen, 0, nil, []byte(path))
	return int(r.Ret), err
}

func (c *Client) Close(fd int) error {
	_, err := c.sys("close", OpClose, 0, []uint64{uint64(fd)}, nil)
	c.unplace(fd)
	return err
}

func (c *Client) Ioctl(fd int, req uint32, arg []byte) error {
	r, err := c.sys("ioctl", OpIoctl, 0, []uint64{uint64(fd), uint64(req)}, arg)
	if err != nil {
		return err
	}
	if len(r.Data) != len(arg) {
		return fmt.Errorf("ioctl: %d bytes back for a %d-byte argument", len(r.Data), len(arg))
	}
	copy(arg, r.Data)
	return nil
}

// addr reads a returned address: a 32-bit target's long is sign-extended.
func (c *Client) addr(ret int64) uint64 {
	if c.abi.WordBits == 32 {
		return uint64(uint32(ret))
	}
	return uint64(ret)
}

func (c *Client) Mmap(size int) (uint64, error) {
	r, err := c.sys("mmap", OpMmap, 0, []uint64{uint64(size), 0}, nil)
	return c.addr(r.Ret), err
}

func (c *Client) MmapLazy(size int) (uint64, error) {
	r, err := c.sys("mmap", OpMmap, 0, []uint64{uint64(size), 1}, nil)
	return c.addr(r.Ret), err
}

func (c *Client) Mprotect(addr uint64, size int, prot machine.Prot) error {
	_, err := c.sys("mprotect", OpMprotect, 0, []uint64{addr, uint64(size), uint64(prot)}, nil)
	return err
}

func (c *Client) Munmap(addr uint64, size int) error {
	_, err := c.sys("munmap", OpMunmap, 0, []uint64{addr, uint64(size)}, nil)
	return err
}

// replyWait is the console time of a reply carrying n bytes (2n: hex, an
// upper bound since base64).
func (c *Client) replyWait(n int) time.Duration { return time.Duration(2*n) * c.PerByte }

func (c *Client) Eventfd() (int, error) {
	r, err := c.sys("eventfd", OpEventfd, 0, nil, nil)
	return int(r.Ret), err
}

func (c *Client) Read(fd int, n int) ([]byte, error) {
	n = min(n, c.dataMax())
	r, err := c.sys("read", OpRead, c.replyWait(n), []uint64{uint64(fd), uint64(n)}, nil)
	return r.Data, err
}

// Write is write(2). Where the executor runs batches it is deferred as
// WriteMem is, and counted a success only if it writes every byte: the
// callers (frames, kicks, IOTLB messages, control files) need all of it,
// and none decides anything on a write's errno. A failure is returned by
// the next call and by the scenario's Flush. Deferred, a scenario's frames
// and kicks go in the round trip of its next wait instead of one each:
// on hppa the whole set went from 3,600 round trips to 2,070.
func (c *Client) Write(fd int, b []byte) (int, error) {
	if max := c.dataMax(); len(b) > max {
		return 0, fmt.Errorf("write of %d bytes: the executor takes at most %d", len(b), max)
	}
	if c.has(protoBatch) {
		c.post(Call{Op: OpWrite, Args: []uint64{uint64(fd)}, Data: append([]byte(nil), b...)}, int64(len(b)), "")
		return len(b), c.deferredErr()
	}
	r, err := c.sys("write", OpWrite, 0, []uint64{uint64(fd)}, b)
	return int(r.Ret), err
}

func (c *Client) Socket(kind machine.SocketKind) (int, error) {
	r, err := c.sys("socket", OpSocket, 0, []uint64{uint64(kind)}, nil)
	return int(r.Ret), err
}

func (c *Client) BindPacket(fd, ifindex int) error {
	_, err := c.sys("bind", OpBindPacket, 0, []uint64{uint64(fd), uint64(ifindex)}, nil)
	return err
}

func (c *Client) Poll(fd int, ms int) (bool, error) {
	r, err := c.sys("poll", OpPoll, time.Duration(ms)*time.Millisecond, []uint64{uint64(fd), uint64(ms)}, nil)
	return r.Ret > 0, err
}

func (c *Client) Fork(addr uint64, n int, touch bool) error {
	if max := c.dataMax(); n > max {
		return fmt.Errorf("fork: a view of %d bytes; the executor takes at most %d", n, max)
	}
	t := uint64(0)
	if touch {
		t = 1
	}
	_, err := c.sys("fork", OpFork, 0, []uint64{addr, uint64(n), t}, nil)
	if err == nil {
		c.forkN = n
	}
	return err
}

func (c *Client) VhostWorkers() ([]int, error) {
	r, err := c.sys("vhost workers", OpVhostWorkers, 0, nil, nil)
	if err != nil {
		return nil, err
	}
	if r.Ret != 0 || len(r.Data)%4 != 0 {
		return nil, fmt.Errorf("vhost workers: executor returned %d with %d bytes", r.Ret, len(r.Data))
	}
	var tids []int
	for b := r.Data; len(b) >= 4; b = b[4:] {
		tids = append(tids, int(be.Uint32(b)))
	}
	return tids, nil
}

func (c *Client) SetAffinity(tid, cpu int) error {
	_, err := c.sys("sched_setaffinity", OpSetAffinity, 0, []uint64{uint64(tid), uint64(cpu)}, nil)
	return err
}

func (c *Client) ChildView() ([]byte, error) {
	r, err := c.sys("child view", OpChildView, 0, nil, nil)
	if err != nil {
		return nil, err
	}
	if len(r.Data) != c.forkN {
		return nil, fmt.Errorf("child view: %d of %d bytes", len(r.Data), c.forkN)
	}
	return r.Data, nil
}
