package executor

import (
	"encoding/binary"
	"hash/crc32"
)

// packDict packs src as one LZ4 block (lz4's doc/lz4_Block_format.md)
// whose matches may reach back into dict, the bytes the decoder holds
// right before where it writes src (protocol 10: the requests sent
// before). Greedy, with hash chains: what a VMM sends repeats what it sent
// a moment ago (the same ring layout, ioctl after ioctl on the same
// structures), which a block packed alone cannot see. It returns the
// block's length, or 0 when the block would not fit dst. The last match
// ends 5 bytes before src's end and starts 12 before it, as the format
// requires.
func packDict(dict, src, dst []byte) int {
	dict = dict[max(0, len(dict)-maxOffset):]
	buf := make([]byte, 0, len(dict)+len(src))
	buf = append(append(buf, dict...), src...)
	base, end := len(dict), len(buf)
	head := make([]int32, 1<<dictHashBits)
	for i := range head {
		head[i] = -1
	}
	prev := make([]int32, end)
	hash := func(i int) uint32 { return binary.LittleEndian.Uint32(buf[i:]) * 2654435761 >> (32 - dictHashBits) }
	insert := func(i int) {
		h := hash(i)
		prev[i], head[h] = head[h], int32(i)
	}
	for i := 0; i+4 <= base; i++ {
		insert(i)
	}
	o, anchor, i := 0, base, base
	for i+12 < end {
		best, off := 0, 0
		v := binary.LittleEndian.Uint32(buf[i:])
		for c, depth := head[hash(i)], 0; c >= 0 && depth < dictChainDepth && i-int(c) <= maxOffset; c, depth = prev[c], depth+1 {
			if binary.LittleEndian.Uint32(buf[c:]) != v {
				continue
			}
			l := 4
			for i+l < end-5 && buf[int(c)+l] == buf[i+l] {
				l++
			}
			if l > best {
				best, off = l, i-int(c)
			}
		}
		insert(i)
		if best < 4 || i+best > end-5 {
			i++
			continue
		}
		if o = putSeq(dst, o, buf[anchor:i], off, best); o < 0 {
			return 0
		}
		for j := i + 1; j < i+best && j+4 <= end; j++ {
			insert(j)
		}
		i += best
		anchor = i
	}
	if o = putSeq(dst, o, buf[anchor:end], 0, 0); o < 0 {
		return 0
	}
	return o
}

const (
	maxOffset      = 65535 // LZ4's farthest match
	dictHashBits   = 14
	dictChainDepth = 48
)

// putSeq appends one sequence to dst at o: the literals, then a match of
// mlen bytes off back (mlen 0: the last sequence, literals only). It
// returns the new length, or -1 when it does not fit.
func putSeq(dst []byte, o int, lit []byte, off, mlen int) int {
	ml := 0
	if mlen > 0 {
		ml = mlen - 4
	}
	need := 1 + len(lit)/255 + 1 + len(lit) + 2 + ml/255 + 1
	if o+need > len(dst) {
		return -1
	}
	tok := byte(min(len(lit), 15)<<4 | min(ml, 15))
	dst[o] = tok
	o++
	o = putLen(dst, o, len(lit))
	o += copy(dst[o:], lit)
	if mlen == 0 {
		return o
	}
	dst[o], dst[o+1] = byte(off), byte(off>>8)
	o += 2
	return putLen(dst, o, ml)
}

// putLen appends the bytes that continue a length of 15 or more.
func putLen(dst []byte, o, n int) int {
	if n < 15 {
		return o
	}
	for n -= 15; n >= 255; n -= 255 {
		dst[o] = 255
		o++
	}
	dst[o] = byte(n)
	return o + 1
}

// stream is the requests sent, each once, in order, as the executor
// keeps them (protocol 10): the last maxOffset bytes are what a request
// may be packed against, and end is the stream's length (mod 2^32) where
// they stop. Only roundTrip touches it, one request at a time (callMu).
type stream struct {
	b   []byte
	end uint32
}

func (s *stream) add(frame []byte) {
	s.b = append(s.b, frame...)
	s.end += uint32(len(frame))
	if len(s.b) > 4*maxOffset { // keep the window, copying rarely
		s.b = append(s.b[:0:0], s.b[len(s.b)-maxOffset:]...)
	}
}

// window is what the next request may be packed against, and where it ends.
func (s *stream) window() ([]byte, uint32) { return s.b[max(0, len(s.b)-maxOffset):], s.end }

// historyLine packs frame against dict, the stream before it, which ends
// at stream position end: 'Y' end:u32 rawlen:u32 block crc32:u32
// (protocol 10), or nil when packing does not shorten it.
func historyLine(frame, dict []byte, end uint32, b64 bool) []byte {
	out := make([]byte, 9, 9+len(frame)+4)
	out[0] = 'Y'
	be.PutUint32(out[1:], end)
	be.PutUint32(out[5:], uint32(len(frame)))
	n := packDict(dict, frame, out[9:cap(out)-4])
	if n == 0 || 9+n+4 >= len(frame) {
		return nil
	}
	out = out[:9+n]
	out = be.AppendUint32(out, crc32.ChecksumIEEE(out))
	return requestLine(out, b64)
}
