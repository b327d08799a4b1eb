package executor

import (
	"encoding/binary"
	"hash/crc32"
)

// stream is the requests sent, each once, in order, as the executor
// keeps them (protocol 10): a request may be packed against the last
// maxOffset bytes before it. b is a window on the stream's end, which is
// end (mod 2^32); its positions are chained by hash as requests are
// added and packed, so the bytes before a request are indexed once, not
// once per request (re-indexing a 64 KB window took ~0.6 ms a request).
type stream struct {
	b       []byte
	end     uint32
	head    []int32 // per hash, the latest position chained (-1: none)
	prev    []int32 // per position, the one chained before it with its hash
	indexed int     // positions below it are chained
}

// add appends a frame the executor will keep, sliding the window down
// (and re-chaining it) every few hundred KB.
func (s *stream) add(frame []byte) {
	if len(s.b) > 3*maxOffset {
		s.b = append(s.b[:0:0], s.b[len(s.b)-maxOffset:]...)
		s.head = nil
	}
	s.b = append(s.b, frame...)
	s.end += uint32(len(frame))
}

// packLast packs the last n bytes added as one LZ4 block (lz4's
// doc/lz4_Block_format.md) whose matches may reach back into the stream
// before them, the bytes the decoder holds right before where it writes
// them. Greedy, with hash chains: what a VMM sends repeats what it sent a
// moment ago (the same ring layout, ioctl after ioctl on the same
// structures), which a block packed alone cannot see. It returns the
// block's length, or 0 when the block would not fit dst. The last match
// ends 5 bytes before the end and starts 12 before it, as the format
// requires.
func (s *stream) packLast(n int, dst []byte) int {
	buf, base, end := s.b, len(s.b)-n, len(s.b)
	if s.head == nil {
		s.head = make([]int32, 1<<dictHashBits)
		for i := range s.head {
			s.head[i] = -1
		}
		s.prev, s.indexed = s.prev[:0], 0
	}
	for len(s.prev) < end {
		s.prev = append(s.prev, -1)
	}
	hash := func(i int) uint32 { return binary.LittleEndian.Uint32(buf[i:]) * 2654435761 >> (32 - dictHashBits) }
	insert := func(i int) {
		h := hash(i)
		s.prev[i], s.head[h] = s.head[h], int32(i)
	}
	for ; s.indexed < base && s.indexed+4 <= end; s.indexed++ { // the tail of the frame before
		insert(s.indexed)
	}
	o, anchor, i := 0, base, base
	for i+12 < end {
		best, off := 0, 0
		v := binary.LittleEndian.Uint32(buf[i:])
		for c, depth := s.head[hash(i)], 0; c >= 0 && depth < dictChainDepth && i-int(c) <= maxOffset; c, depth = s.prev[c], depth+1 {
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
	s.indexed = max(s.indexed, i)
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

// historyLine packs frame, the request added to the stream last, against
// the stream before it: 'Y' end:u32 rawlen:u32 block crc32:u32 (protocol
// 10), end being where that stream ends; nil when packing does not
// shorten it.
func (s *stream) historyLine(frame []byte, b64 bool) []byte {
	out := make([]byte, 9, 9+len(frame)+4)
	out[0] = 'Y'
	be.PutUint32(out[1:], s.end-uint32(len(frame)))
	be.PutUint32(out[5:], uint32(len(frame)))
	n := s.packLast(len(frame), out[9:cap(out)-4])
	if n == 0 || 9+n+4 >= len(frame) {
		return nil
	}
	out = out[:9+n]
	out = be.AppendUint32(out, crc32.ChecksumIEEE(out))
	return requestLine(out, b64)
}
