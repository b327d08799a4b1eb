package executor

import (
	"fmt"
	"strings"
)

// Stats count what the transport had to repair.
type Stats struct {
	// Calls made, the round trips that carried them, and the calls that
	// shared their round trip with others (a batch).
	Calls, RoundTrips, Batched int
	// Deferred are the calls nobody waited for (memory writes, write(),
	// what machine.Deferrer defers: a rig's set-up ioctls and guard
	// pages, its teardown's closes and unmaps) that went with a later
	// call's round trip instead of one of their own.
	Deferred                 int
	Resent, Torn, Duplicates int
	// Sent is the request lines' bytes on the console; Unpacked what they
	// would have been without packing (protocol 3), in the same encoding;
	// HistoryPacked requests went packed against the ones before (10).
	Sent, Unpacked, HistoryPacked int
	// Received is the response frames' characters on the console;
	// PackedResponses came packed (protocol 4: zero runs; 8: LZ4).
	Received, PackedResponses int
	// Repairs says why the first few resends happened.
	Repairs []string
}

// Summary says, for a report, what the transport over via had to repair.
func (s Stats) Summary(via string) string {
	out := fmt.Sprintf("executor over %s: %d calls in %d round trips (%d batched, %d of them deferred), %d resent, %d torn, %d duplicate responses dropped, requests %d KB on the console (%d KB unpacked; %d packed against the ones before), responses %d KB (%d packed)",
		via, s.Calls, s.RoundTrips, s.Batched, s.Deferred, s.Resent, s.Torn, s.Duplicates, s.Sent>>10, s.Unpacked>>10, s.HistoryPacked, s.Received>>10, s.PackedResponses)
	if len(s.Repairs) > 0 {
		out += "; " + strings.Join(s.Repairs, "; ")
	}
	return out
}
