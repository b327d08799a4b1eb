//go:build linux && amd64

package executor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dirtygate/vmm/errno"
	"dirtygate/vmm/ioctl"
	"dirtygate/vmm/machine"
	"dirtygate/vmm/machine/machinetest"
)

// buildLocal compiles executor.c for this host with gcc, exactly as the
// harness does for a target, so the client is tested against the real C.
func buildLocal(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc is needed to build the executor: apt-get install gcc")
	}
	out := filepath.Join(t.TempDir(), "executor")
	cmd := exec.Command("gcc", "-static", "-nostdlib", "-ffreestanding", "-fno-pic", "-no-pie",
		"-fno-stack-protector", "-Os", "-Wall", "-Werror", "-o", out, "../../guest/executor/csrc/executor.c", "-lgcc")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

// damage sits between the executor's stdout and the client, and tears,
// drops or duplicates chosen response frames (counted from 1; the ready
// frame is 1).
type damage struct {
	mu        sync.Mutex
	n         int
	tear      map[int]bool
	drop      map[int]bool
	dup       map[int]bool
	dropAfter int // drop every frame after this one; 0 = never
}

func (d *damage) pump(src io.Reader, dst io.Writer) {
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		k, err := src.Read(tmp)
		buf = append(buf, tmp[:k]...)
		for {
			s := bytes.Index(buf, []byte("%&")) // the executor's frames (protocol 8)
			if s < 0 {
				break
			}
			e := bytes.IndexByte(buf[s:], '$')
			if e < 0 {
				break
			}
			frame := buf[s : s+e+1]
			dst.Write(buf[:s])
			d.mu.Lock()
			d.n++
			n := d.n
			d.mu.Unlock()
			switch {
			case d.dropAfter > 0 && n > d.dropAfter, d.drop[n]:
			case d.tear[n]:
				dst.Write(frame[:len(frame)/2])
				dst.Write([]byte("\r\n[ 12.5] printk in the middle\r\n"))
				dst.Write(frame[len(frame)/2:])
			case d.dup[n]:
				dst.Write(frame)
				dst.Write(frame)
			default:
				dst.Write(frame)
			}
			buf = buf[s+e+1:]
		}
		if err != nil {
			return
		}
	}
}

func start(t *testing.T, d *damage) *Client { return startWith(t, d, nil) }

// helloed is start, and the hello that turns on the executor's protocol.
func helloed(t *testing.T, d *damage) *Client {
	t.Helper()
	c := start(t, d)
	if _, err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	return c
}

// startWith starts the local executor behind d, with wrap (if not nil)
// between the client and the executor's stdin.
func startWith(t *testing.T, d *damage, wrap func(io.Writer) io.Writer) *Client {
	t.Helper()
	bin := buildLocal(t)
	cmd := exec.Command(bin)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	var w io.Writer = in
	if wrap != nil {
		w = wrap(in)
	}
	abi := machine.ABI{Ioctl: ioctl.Generic, ByteOrder: binary.LittleEndian, WordBits: 64, PageSize: os.Getpagesize()}
	c := NewClient(w, abi, errno.Generic)
	c.Timeout = 300 * time.Millisecond
	c.PerByte = 60 * time.Microsecond // scaled down as Timeout is
	go d.pump(out, c.Scanner())
	if err := c.WaitReady(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

func exercise(t *testing.T, c *Client) {
	t.Helper()
	h, err := c.Hello()
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 12 || h.WordBytes != 8 || h.BigEndian || h.Machine != "x86_64" {
		t.Fatalf("hello = %+v", h)
	}
	addr, err := c.Mmap(3 * 4096)
	if err != nil {
		t.Fatal(err)
	}
	pattern := bytes.Repeat([]byte("dirtygate"), 2000) // 18000 bytes: two frames
	pattern = pattern[:3*4096-100]
	if err := c.WriteMem(addr+50, pattern); err != nil {
		t.Fatal(err)
	}
	back, err := c.ReadMem(addr+50, len(pattern))
	if err != nil || !bytes.Equal(back, pattern) {
		t.Fatalf("read back %d bytes (err %v), differs from what was written", len(back), err)
	}
	if err := c.WriteMem(addr+8, []byte{1, 2, 3, 4}); err != nil { // one 32-bit store
		t.Fatal(err)
	}
	if w, _ := c.ReadMem(addr+8, 4); !bytes.Equal(w, []byte{1, 2, 3, 4}) {
		t.Fatalf("32-bit word reads back %v", w)
	}
	// Harvest: words swapped with zero, old values back; OR sets bits.
	words := make([]byte, 16)
	binary.LittleEndian.PutUint64(words, 0x8000000000000001)
	binary.LittleEndian.PutUint64(words[8:], 0x10)
	if err := c.WriteMem(addr+64, words); err != nil {
		t.Fatal(err)
	}
	mask := make([]byte, 8)
	binary.LittleEndian.PutUint64(mask, 0x300)
	if err := c.OrWord(addr+72, mask); err != nil {
		t.Fatal(err)
	}
	old, err := c.SwapWords(addr+64, 2)
	if err != nil || binary.LittleEndian.Uint64(old) != 0x8000000000000001 || binary.LittleEndian.Uint64(old[8:]) != 0x310 {
		t.Fatalf("swapwords: %x, %v", old, err)
	}
	if now, _ := c.ReadMem(addr+64, 16); !bytes.Equal(now, make([]byte, 16)) {
		t.Fatalf("words after the swap: %x, want zero", now)
	}
	if err := c.Mprotect(addr+4096, 4096, machine.ProtNone); err != nil {
		t.Fatal(err)
	}
	efd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	if ready, err := c.Poll(efd, 10); err != nil || ready {
		t.Fatalf("empty eventfd: ready %v, %v", ready, err)
	}
	one := make([]byte, 8)
	binary.LittleEndian.PutUint64(one, 3)
	if n, err := c.Write(efd, one); err != nil || n != 8 {
		t.Fatalf("eventfd write: %d, %v", n, err)
	}
	if ready, err := c.Poll(efd, 1000); err != nil || !ready {
		t.Fatalf("signalled eventfd: ready %v, %v", ready, err)
	}
	if b, err := c.Read(efd, 8); err != nil || binary.LittleEndian.Uint64(b) != 3 {
		t.Fatalf("eventfd read: %v, %v", b, err)
	}
	// An error comes back as the target's errno, named from its table.
	if _, err := c.Read(efd, 8); machine.ErrnoName(err) != "EAGAIN" {
		t.Fatalf("reading an empty non-blocking eventfd: %v, want EAGAIN", err)
	}
	fd, err := c.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ioctl(fd, 0x5401, make([]byte, 60)); machine.ErrnoName(err) != "ENOTTY" { // TCGETS
		t.Fatalf("TCGETS on /dev/null: %v, want ENOTTY", err)
	}
	if _, err := c.Open("/nonexistent"); machine.ErrnoName(err) != "ENOENT" {
		t.Fatalf("open of a missing file: %v", err)
	}
	// No vhost device here: no workers; this thread may be placed.
	if tids, err := c.VhostWorkers(); err != nil || len(tids) != 0 {
		t.Fatalf("vhost workers of a process without vhost: %v, %v", tids, err)
	}
	if err := c.SetAffinity(0, 0); err != nil {
		t.Fatalf("placing the executor on CPU 0: %v", err)
	}
	if err := c.SetAffinity(0, 4096); machine.ErrnoName(err) != "EINVAL" {
		t.Fatalf("placing it on CPU 4096: %v, want EINVAL", err)
	}
	for _, fd := range []int{fd, efd} {
		if err := c.Close(fd); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Munmap(addr, 3*4096); err != nil {
		t.Fatal(err)
	}
}

func TestExecutorClean(t *testing.T) {
	c := start(t, &damage{})
	exercise(t, c)
	machinetest.Fork(t, c)
	machinetest.OpenReadOnly(t, c)
	if st := c.Stats(); st.Resent+st.Torn+st.Duplicates != 0 {
		t.Fatalf("clean link needed repairs: %+v", st)
	}
}

// Torn, lost and duplicated responses are repaired by resending with the
// same sequence number; the executor answers from its cache, so a call is
// never run twice (the eventfd count and the memory checks would show it).
func TestExecutorRepairsDamage(t *testing.T) {
	d := &damage{tear: map[int]bool{3: true, 9: true}, drop: map[int]bool{5: true, 12: true}, dup: map[int]bool{7: true, 15: true}}
	c := start(t, d)
	exercise(t, c)
	st := c.Stats()
	if st.Torn != 2 || st.Resent != 4 || st.Duplicates < 2 {
		t.Fatalf("stats %+v: want 2 torn, 4 resent, >= 2 duplicates", st)
	}
}

// A link that stops answering fails the call, and every later one, with
// ErrLost: it is never read as a result.
func TestExecutorLostLink(t *testing.T) {
	c := helloed(t, &damage{dropAfter: 2})
	if _, err := c.Mmap(4096); !errors.Is(err, ErrLost) {
		t.Fatalf("mmap on a dead link: %v, want ErrLost", err)
	}
	if _, err := c.Eventfd(); !errors.Is(err, ErrLost) {
		t.Fatalf("later call: %v, want ErrLost", err)
	}
}

// A guest that stops reading its console (the pipe to QEMU full) fails the
// call after its tries, instead of blocking the host in a write forever.
func TestStuckGuestDoesNotBlockTheHost(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	w.SetWriteDeadline(time.Now().Add(time.Second))
	for { // fill the pipe: nobody reads it
		if _, err := w.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	c := NewClient(w, machine.ABI{Ioctl: ioctl.Generic, ByteOrder: binary.LittleEndian, WordBits: 64, PageSize: 4096}, errno.Generic)
	c.Timeout = 50 * time.Millisecond
	start := time.Now()
	_, err = c.Eventfd()
	if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "stopped reading") {
		t.Fatalf("call into a full pipe: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

// trickle is a console the guest reads slowly: writes return at once (the
// pipe to QEMU buffers them) and reach the executor at rate bytes per ms.
type trickle struct {
	ch chan []byte
}

func newTrickle(dst io.Writer, rate int) *trickle {
	t := &trickle{ch: make(chan []byte, 64)}
	go func() {
		for b := range t.ch {
			for len(b) > 0 {
				n := min(rate, len(b))
				dst.Write(b[:n])
				b = b[n:]
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return t
}

func (t *trickle) Write(b []byte) (int, error) {
	t.ch <- append([]byte(nil), b...)
	return len(b), nil
}

// A long request on a slow console is waited for in proportion to its
// length, not resent while the guest is still reading it (a 9014-byte
// frame on a loaded hppa guest was resent until the link was declared lost).
func TestLongRequestOnSlowConsole(t *testing.T) {
	for _, perByte := range []time.Duration{0, time.Millisecond} {
		bin := buildLocal(t)
		cmd := exec.Command(bin)
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		abi := machine.ABI{Ioctl: ioctl.Generic, ByteOrder: binary.LittleEndian, WordBits: 64, PageSize: os.Getpagesize()}
		c := NewClient(newTrickle(in, 8), abi, errno.Generic)
		c.Timeout, c.PerByte, c.Tries = 300*time.Millisecond, perByte, 2
		go (&damage{}).pump(out, c.Scanner())
		if err := c.WaitReady(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		addr, err := c.Mmap(8192)
		if err == nil {
			// Random: packing cannot shorten it. 8 KB of hex: about 1 s at 8 bytes/ms.
			b := make([]byte, 4096)
			rand.NewChaCha8([32]byte{1}).Read(b)
			err = c.WriteMem(addr, b)
		}
		st := c.Stats()
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		if perByte == 0 && st.Resent == 0 {
			t.Errorf("without a per-byte wait the long request was not resent: the test shows nothing (%+v)", st)
		}
		if perByte > 0 && (err != nil || st.Resent != 0) {
			t.Errorf("with %v a byte: %v, stats %+v: want no resend", perByte, err, st)
		}
	}
}

// concurrently drives the executor from several goroutines at once, as
// the harvest and concurrent scenarios do, and checks every call ran once:
// each goroutine's eventfd counts its writes, its memory holds its values.
func concurrently(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	addr, err := c.Mmap(4096)
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 40
	errs := make(chan error, workers)
	for k := 0; k < workers; k++ {
		go func() {
			errs <- func() error {
				efd, err := c.Eventfd()
				if err != nil {
					return err
				}
				one := make([]byte, 8)
				binary.LittleEndian.PutUint64(one, 1)
				at := addr + uint64(64*k)
				for i := 0; i < rounds; i++ {
					v := []byte{byte(k), byte(i), 0xd1, 0x77, 0x9a, 0x7e, byte(k), byte(i)}
					if err := c.WriteMem(at, v); err != nil {
						return err
					}
					if back, err := c.ReadMem(at, 8); err != nil || !bytes.Equal(back, v) {
						return fmt.Errorf("worker %d round %d: read back %x (%v), wrote %x", k, i, back, err, v)
					}
					if _, err := c.Write(efd, one); err != nil {
						return err
					}
				}
				b, err := c.Read(efd, 8)
				if err != nil {
					return err
				}
				if n := binary.LittleEndian.Uint64(b); n != rounds {
					return fmt.Errorf("worker %d: its eventfd counted %d writes, it made %d", k, n, rounds)
				}
				return c.Close(efd)
			}()
		}()
	}
	for k := 0; k < workers; k++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// Concurrent callers share round trips: the executor runs a batch's calls
// in order, each once, and hands each caller its own result.
func TestExecutorBatchesConcurrentCalls(t *testing.T) {
	c := start(t, &damage{})
	concurrently(t, c)
	st := c.Stats()
	if st.Batched == 0 || st.RoundTrips >= st.Calls {
		t.Fatalf("stats %+v: four goroutines' calls never shared a round trip", st)
	}
	t.Logf("%s", st.Summary("a pipe"))
}

// A torn, lost or duplicated batch response is repaired like any other:
// the batch is resent with its sequence number and answered from the
// executor's cache, so no call in it runs twice (the eventfd counts).
func TestExecutorRepairsDamagedBatches(t *testing.T) {
	d := &damage{tear: map[int]bool{6: true, 20: true}, drop: map[int]bool{9: true, 31: true}, dup: map[int]bool{12: true, 40: true}}
	c := start(t, d)
	concurrently(t, c)
	if st := c.Stats(); st.Batched == 0 || st.Resent < 4 {
		t.Fatalf("stats %+v: want batches and 4 resends", st)
	}
}

func TestBatchEncoding(t *testing.T) {
	calls := []Call{{Op: OpReadMem, Args: []uint64{0x1000, 4}}, {Op: OpWrite, Args: []uint64{3}, Data: []byte("frame")}}
	b := EncodeBatch(calls)
	if len(b) != calls[0].size()+calls[1].size() || b[0] != OpReadMem || b[1] != 2 {
		t.Fatalf("packed % x", b)
	}
	// The executor's answer: 4 bytes read, then write returned 5.
	res := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}
	rs, err := DecodeBatch(Response{Seq: 7, Ret: 2, Data: res}, 2)
	if err != nil || len(rs) != 2 || !bytes.Equal(rs[0].Data, []byte{1, 2, 3, 4}) || rs[1].Ret != 5 || rs[1].Seq != 7 {
		t.Fatalf("unpacked %+v, %v", rs, err)
	}
	// A batch that ended at a fenced call that failed: its results only.
	if rs, err := DecodeBatch(Response{Seq: 7, Ret: 1, Data: res[:16]}, 2); err != nil || len(rs) != 1 {
		t.Fatalf("a batch cut at its first call: %+v, %v", rs, err)
	}
	if b := EncodeBatch([]Call{{Op: OpIoctl, Fence: true}}); b[0] != OpIoctl|0x80 {
		t.Fatalf("a fenced call packs as % x", b)
	}
	for _, bad := range []struct {
		r    Response
		want string
	}{
		{Response{Ret: 3, Data: res}, "ran 3"},
		{Response{Ret: 0, Data: res}, "ran 0"},
		{Response{Ret: 1, Data: res}, "after the last"},
		{Response{Ret: 2, Data: res[:20]}, "result 2 of 2 cut short"},
		{Response{Ret: 2, Data: res[:14]}, "says 4 bytes"},
		{Response{Ret: 2, Data: append(res[:len(res):len(res)], 9)}, "after the last"},
	} {
		if _, err := DecodeBatch(bad.r, 2); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("DecodeBatch(%d calls run, %d bytes): %v, want %q", bad.r.Ret, len(bad.r.Data), err, bad.want)
		}
	}
}

// Memory writes wait for the next call and travel in its round trip, in
// order: fifty ring-sized writes and the read after them take one or two
// round trips, and the read sees every write.
func TestDeferredWrites(t *testing.T) {
	c := helloed(t, &damage{})
	addr, err := c.Mmap(4096)
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	want := make([]byte, 50*32)
	for i := 0; i < 50; i++ { // 16 bytes every 32: none merges with the one before (TestContiguousWrites)
		b := bytes.Repeat([]byte{byte(i)}, 16)
		if err := c.WriteMem(addr+uint64(32*i), b); err != nil {
			t.Fatal(err)
		}
		b[0] = 0xff // the caller may reuse its buffer once WriteMem returns
		copy(want[32*i:], bytes.Repeat([]byte{byte(i)}, 16))
	}
	got, err := c.ReadMem(addr, len(want))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %x, %v", got, err)
	}
	st := c.Stats()
	if st.Deferred-before.Deferred != 50 || st.RoundTrips-before.RoundTrips > 2 || st.Calls-before.Calls != 51 {
		t.Fatalf("stats before %+v after %+v: want 50 deferred writes and the read in at most 2 round trips", before, st)
	}
}

// A deferred write whose round trip is lost is never taken for done: the
// call that carried it fails, and so does every later write.
func TestDeferredWriteOnALostLink(t *testing.T) {
	c := helloed(t, &damage{dropAfter: 3})
	addr, err := c.Mmap(4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMem(addr, []byte{1, 2, 3, 4}); err != nil {
		t.Fatalf("a deferred write: %v", err)
	}
	if _, err := c.Eventfd(); !errors.Is(err, ErrLost) {
		t.Fatalf("the call carrying the write: %v, want ErrLost", err)
	}
	if err := c.WriteMem(addr, []byte{5}); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "deferred write") {
		t.Fatalf("a later write: %v, want the deferred write's loss", err)
	}
}

// Deferred write()s run in order before the next call: three kicks of an
// eventfd, then its read, see the sum, in one round trip.
func TestDeferredSyscallWrites(t *testing.T) {
	c := helloed(t, &damage{})
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	for _, v := range []uint64{1, 2, 4} {
		if n, err := c.Write(fd, binary.LittleEndian.AppendUint64(nil, v)); n != 8 || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
	}
	b, err := c.Read(fd, 8)
	if err != nil || len(b) != 8 || binary.LittleEndian.Uint64(b) != 7 {
		t.Fatalf("read %x, %v: want 7", b, err)
	}
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 || st.Deferred-before.Deferred != 3 {
		t.Fatalf("stats before %+v after %+v: want 3 deferred writes and the read in one round trip", before, st)
	}
}

// A deferred write() the guest refuses (a closed fd) fails every call
// after it until Flush, which returns it once: the scenario that made the
// call owns the failure, and the next scenario starts clean.
func TestDeferredSyscallFailure(t *testing.T) {
	c := helloed(t, &damage{})
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(fd); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Write(fd, make([]byte, 8)); n != 8 || err != nil {
		t.Fatalf("a deferred write: %d, %v", n, err)
	}
	if _, err := c.Eventfd(); machine.ErrnoName(err) != "EBADF" || !strings.Contains(err.Error(), "deferred write") {
		t.Fatalf("the call after the write: %v, want the write's EBADF", err)
	}
	if _, err := c.Mmap(4096); machine.ErrnoName(err) != "EBADF" {
		t.Fatalf("the failure is kept until Flush: %v", err)
	}
	if err := c.Flush(); machine.ErrnoName(err) != "EBADF" {
		t.Fatalf("Flush: %v, want EBADF", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("a second Flush: %v", err)
	}
	if _, err := c.Eventfd(); err != nil {
		t.Fatalf("after Flush: %v", err)
	}
	// A write refused for its size is a failure too (an eventfd takes
	// exactly 8 bytes: EINVAL).
	fd, _ = c.Eventfd()
	c.Write(fd, make([]byte, 9))
	if err := c.Flush(); machine.ErrnoName(err) != "EINVAL" {
		t.Fatalf("Flush after a 9-byte eventfd write: %v, want EINVAL", err)
	}
}

// A teardown through Deferring sends nothing until the next call that
// waits, then travels with it in order: an eventfd closed that way is
// closed for the read after it, the close and munmap cost no round trip
// of their own, and a close the guest refuses is charged by Flush as a
// close.
func TestDeferredTeardown(t *testing.T) {
	c := helloed(t, &damage{})
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := c.Mmap(4096)
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	d := c.Deferring("teardown")
	if err := d.Close(fd); err != nil {
		t.Fatal(err)
	}
	if err := d.Munmap(addr, 4096); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.RoundTrips != before.RoundTrips {
		t.Fatalf("a deferred teardown made %d round trips", st.RoundTrips-before.RoundTrips)
	}
	if _, err := c.Read(fd, 8); machine.ErrnoName(err) != "EBADF" {
		t.Fatalf("read after the deferred close: %v, want EBADF", err)
	}
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 || st.Deferred-before.Deferred != 2 {
		t.Fatalf("stats before %+v after %+v: want the close and munmap deferred, one round trip", before, st)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	d.Close(fd) // closed already: EBADF
	if err := c.Flush(); machine.ErrnoName(err) != "EBADF" || !strings.Contains(err.Error(), "deferred close") {
		t.Fatalf("Flush after closing a closed fd: %v, want the close's EBADF", err)
	}
}

// A deferred ioctl that fails stops the calls queued after it (protocol
// 6): the close behind it never runs, the call that carried them fails
// as not run, naming the ioctl's step and errno, and one that succeeds
// costs no round trip of its own.
func TestFencedDeferral(t *testing.T) {
	c := helloed(t, &damage{})
	fd, err := c.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	const fionbio = 0x5421 // x86_64's: the executor under test is the host's
	before := c.Stats()
	if err := c.Deferring("set non-blocking").Ioctl(fd, fionbio, []byte{1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Eventfd(); err != nil {
		t.Fatalf("the call after a deferred ioctl that succeeds: %v", err)
	}
	if st := c.Stats(); st.RoundTrips-before.RoundTrips != 1 {
		t.Fatalf("stats before %+v after %+v: want the ioctl in the eventfd's round trip", before, st)
	}
	d := c.Deferring("VHOST_SET_VRING_NUM")
	d.Ioctl(999, fionbio, []byte{1, 0, 0, 0}) // EBADF
	d.Close(fd)
	_, err = c.Eventfd()
	var de *machine.DeferredError
	if !errors.Is(err, machine.ErrNotRun) || !errors.As(err, &de) || de.Step != "VHOST_SET_VRING_NUM" || machine.ErrnoName(err) != "EBADF" {
		t.Fatalf("the call behind a failed deferred ioctl: %v, want not run, naming the step and EBADF", err)
	}
	if err := c.Flush(); machine.ErrnoName(err) != "EBADF" {
		t.Fatalf("Flush: %v, want the ioctl's EBADF", err)
	}
	if n, err := c.Write(fd, binary.LittleEndian.AppendUint64(nil, 5)); n != 8 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b, err := c.Read(fd, 8); err != nil || binary.LittleEndian.Uint64(b) != 5 {
		t.Fatalf("the eventfd after the batch: %x, %v: the close behind the failed ioctl ran", b, err)
	}
}
