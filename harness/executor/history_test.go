//go:build linux && amd64

package executor

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// ringRound is what a VMM sends again and again: descriptors, avail
// entries, an index, then a read of the used ring.
func ringRound(t *testing.T, c *Client, addr uint64, round int) {
	t.Helper()
	desc := make([]byte, 16*16)
	for i := 0; i < 16; i++ {
		be.PutUint64(desc[16*i:], 0x120000+uint64(4096*(i+16*round)))
		be.PutUint32(desc[16*i+8:], 2048)
	}
	if err := c.WriteMem(addr, desc); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMem(addr+1024, []byte{0, 0, byte(round), 0}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadMem(addr, len(desc))
	if err != nil || !bytes.Equal(got, desc) {
		t.Fatalf("round %d: read back differs (%v)", round, err)
	}
}

// Requests go packed against the ones before them (protocol 10) and
// arrive intact, across responses torn, lost and duplicated (a request
// resent is unpacked against the same stream as the first time), a
// request torn on its way, and the executor's stream sliding down (more
// than its buffer of requests, incompressible ones among them).
func TestHistoryPacking(t *testing.T) {
	tears := 0
	d := &damage{tear: map[int]bool{6: true, 20: true}, drop: map[int]bool{9: true, 31: true}, dup: map[int]bool{13: true}}
	c := startWith(t, d, func(in io.Writer) io.Writer {
		return &lineTamper{w: in, tamper: func(n int, line []byte) []byte {
			b, err := base64.RawStdEncoding.DecodeString(string(bytes.TrimSpace(line[1:])))
			if err == nil && len(b) > 0 && b[0] == 'Y' && n > 30 && tears == 0 {
				tears++
				i := len(line) / 2
				line[i] = "BA"[map[bool]int{true: 1}[line[i] == 'A']]
			}
			return line
		}}
	})
	if _, err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	addr, err := c.Mmap(64 * 1024)
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 12*1024)
	r := rand.NewChaCha8([32]byte{3})
	for round := 0; round < 60; round++ {
		ringRound(t, c, addr, round)
		if round%2 == 0 { // 30 x 12 KB that packs against nothing: the stream slides (every ~300 KB)
			r.Read(noise)
			if err := c.WriteMem(addr+16384, noise); err != nil {
				t.Fatal(err)
			}
			if got, err := c.ReadMem(addr+16384, len(noise)); err != nil || !bytes.Equal(got, noise) {
				t.Fatalf("round %d: noise read back differs (%v)", round, err)
			}
		}
	}
	// A request that repeats one 36 KB back in the stream, with the
	// stream slid down in between: the executor keeps what can be reached.
	far := make([]byte, 3000)
	r.Read(far)
	for i := 0; i < 2; i++ {
		if err := c.WriteMem(addr+32768, far); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			for k := 0; k < 3; k++ {
				r.Read(noise)
				if err := c.WriteMem(addr+16384, noise); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got, err := c.ReadMem(addr+32768, len(far)); err != nil || !bytes.Equal(got, far) {
			t.Fatalf("far repeat %d: read back differs (%v)", i, err)
		}
	}
	st := c.Stats()
	if st.HistoryPacked < 60 || tears != 1 || st.Resent < 5 {
		t.Fatalf("stats %+v, %d torn requests: want most requests packed against the ones before, resends of them", st, tears)
	}
}

// packLast's blocks unpack (lz4's own decoder, with the dictionary) to
// what was packed, end as the format requires, and pack a request that
// repeats the ones before to a fraction of one packed alone.
func TestPackDict(t *testing.T) {
	var s stream
	slid := false
	r := rand.NewChaCha8([32]byte{5})
	for i := 0; i < 400; i++ { // past a slide of the window (3 x 64 KB)
		f := Request{Seq: uint32(i), Op: OpBatch, Data: EncodeBatch([]Call{
			{Op: OpWriteMem, Args: []uint64{0x40000000 + uint64(i%7)*16}, Data: bytes.Repeat([]byte{byte(i % 5)}, 16*(1+i%9))},
			{Op: OpIoctl, Args: []uint64{100, 0x4008af00}, Data: make([]byte, 8)},
			{Op: OpReadMem, Args: []uint64{0x40002000, 4}},
		})}.frame()
		if i%10 == 0 {
			f = make([]byte, 1+i*31)
			r.Read(f)
		}
		before := len(s.b)
		s.add(f)
		slid = slid || len(s.b) < before+len(f)
		dict := s.b[:len(s.b)-len(f)]
		dst := make([]byte, len(f)+64)
		n := s.packLast(len(f), dst)
		if n == 0 {
			t.Fatalf("frame %d (%d bytes) did not fit %d", i, len(f), len(dst))
		}
		out := make([]byte, len(f))
		if k, err := lz4.UncompressBlockWithDict(dst[:n], out, dict); err != nil || k != len(f) || !bytes.Equal(out, f) {
			t.Fatalf("frame %d: unpacked %d of %d bytes (%v)", i, k, len(f), err)
		}
		if len(f) >= 5 && !bytes.Equal(dst[n-5:n], f[len(f)-5:]) {
			t.Fatalf("frame %d: the block does not end in 5 literals", i)
		}
		if i > 20 && i%10 != 0 && n > len(f)/3 {
			t.Fatalf("frame %d: %d bytes packed to %d against the frames before", i, len(f), n)
		}
	}
	if !slid {
		t.Fatal("the window never slid: the test did not reach the re-chaining")
	}
}
