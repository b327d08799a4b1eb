package oracle

// MoveOf returns the bijection a Misplaced finding names, applied to bit
// numbers from the start of the checked range (Log.BitOf), so a report
// can draw where each page's bit went. ok is false for other findings.
func MoveOf(f Finding) (name string, move func(bit uint64) uint64, ok bool) {
	if f.Kind != Misplaced {
		return "", nil, false
	}
	for _, bj := range bijections {
		if bj.cause == f.Cause {
			return bj.name, bj.f, true
		}
	}
	return "", nil, false
}
