package oracle

// BitsWithout and HasBit expose the checker's bit sets to the tests,
// which compare them with Bits on captured logs.
func BitsWithout(a, b []byte, l Layout) []uint64 { return newBitSet(a, l).without(newBitSet(b, l)) }

func HasBit(raw []byte, l Layout, n uint64) bool { return newBitSet(raw, l).has(n) }
