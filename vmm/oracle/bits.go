package oracle

import "encoding/binary"

// order is the target's byte order.
func (l Layout) order() binary.ByteOrder {
	if l.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// bytesPerWord is sizeof(unsigned long) on the target.
func (l Layout) bytesPerWord() int { return l.WordBits / 8 }

// WordAt decodes unsigned long i of raw in the target's byte order.
func WordAt(raw []byte, l Layout, i int) uint64 {
	w := l.bytesPerWord()
	b := raw[i*w : (i+1)*w]
	if w == 8 {
		return l.order().Uint64(b)
	}
	return uint64(l.order().Uint32(b))
}

// Words is how many whole unsigned longs raw holds.
func Words(raw []byte, l Layout) int { return len(raw) / l.bytesPerWord() }

// locate finds the byte and mask of bit n under set_bit numbering: bit
// n % W of word n / W, the word stored in the target's byte order.
func locate(l Layout, n uint64) (int, byte) {
	w := uint64(l.WordBits)
	inWord := n % w
	byteInWord := inWord / 8
	if l.BigEndian {
		byteInWord = w/8 - 1 - byteInWord
	}
	return int((n/w)*(w/8) + byteInWord), byte(1) << (inWord % 8)
}

// PutBit sets bit n of raw, as set_bit would on the target.
func PutBit(raw []byte, l Layout, n uint64) {
	i, m := locate(l, n)
	raw[i] |= m
}

// ClearBit clears bit n of raw.
func ClearBit(raw []byte, l Layout, n uint64) {
	i, m := locate(l, n)
	raw[i] &^= m
}

// TestBit reports whether bit n of raw is set.
func TestBit(raw []byte, l Layout, n uint64) bool {
	i, m := locate(l, n)
	return i < len(raw) && raw[i]&m != 0
}

// Bits lists the set bits of raw in set_bit numbering, in order.
func Bits(raw []byte, l Layout) []uint64 { return newBitSet(raw, l).without(bitSet{l: l}) }

// SimulateAdd returns what a kernel that logs with FUTEX_OP_ADD of
// 1 << (p % 32) on the u32 at log_base + 4 * (p / 32), once per log call,
// would leave, starting from before: the seed patch's behaviour. counts
// maps pages to log calls. firstBit must be a multiple of 32 (the seed
// patch rejects log bases that are not 4-byte aligned).
func SimulateAdd(before []byte, l Layout, firstBit uint64, counts map[uint64]int) []byte {
	return simulate(before, l, firstBit, counts, false)
}

// SimulateOr is SimulateAdd with FUTEX_OP_OR: what a correct u32-word
// log gives.
func SimulateOr(before []byte, l Layout, firstBit uint64, counts map[uint64]int) []byte {
	return simulate(before, l, firstBit, counts, true)
}

func simulate(before []byte, l Layout, firstBit uint64, counts map[uint64]int, or bool) []byte {
	out := append([]byte(nil), before...)
	base := int(firstBit / 8)
	for p, n := range counts {
		off := base + 4*int(p/32)
		if off+4 > len(out) {
			continue
		}
		v := l.order().Uint32(out[off:])
		switch {
		case or && n > 0:
			v |= 1 << (p % 32)
		case !or:
			v += uint32(n) << (p % 32) // u32 arithmetic: a carry out of bit 31 is lost
		}
		l.order().PutUint32(out[off:], v)
	}
	return out
}

// bitSet is a raw log read as the set of its set bits, in set_bit
// numbering: the bits Bits lists, without building them. The checked
// range holds canaries of mostly set bits around the log, so a map of
// every set bit cost a millisecond a check natively and ~10 ms under TCG.
type bitSet struct {
	raw []byte
	l   Layout
	n   uint64 // bits in whole words; a trailing partial word is not read
}

func newBitSet(raw []byte, l Layout) bitSet {
	return bitSet{raw: raw, l: l, n: uint64(Words(raw, l) * l.WordBits)}
}

func (s bitSet) has(b uint64) bool { return b < s.n && TestBit(s.raw, s.l, b) }

// without lists, in order, the bits set in s and clear in o.
func (s bitSet) without(o bitSet) []uint64 {
	var out []uint64
	for i := 0; i < Words(s.raw, s.l); i++ {
		v := WordAt(s.raw, s.l, i)
		if i < Words(o.raw, o.l) {
			v &^= WordAt(o.raw, o.l, i)
		}
		for b := 0; v != 0; b++ {
			if v&1 != 0 {
				out = append(out, uint64(i*s.l.WordBits+b))
			}
			v >>= 1
		}
	}
	return out
}

// wordSet holds, by u32 word index from the log base, the words where
// the add replay agrees with the log (a slice: the checked range has a
// thousand words, most of them agreeing zeros or canaries).
type wordSet []bool

func (w wordSet) has(j uint64) bool { return j < uint64(len(w)) && w[j] }
