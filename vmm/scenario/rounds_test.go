package scenario

import (
	"reflect"
	"testing"
)

// The plan must receive every frame it sends by its last round (round 3's
// frame waits for round 4), and isolate each part of the used ring.
func TestRoundPlans(t *testing.T) {
	sent, used, restarts := 0, 0, 0
	for k, p := range roundPlans {
		sent += p.send
		used += p.used
		if p.restart {
			restarts++
		}
		if p.final != (k == len(roundPlans)-1) {
			t.Errorf("round %d: only the last round ends with the final stop", k+1)
		}
		if k == 0 && len(p.offer) == 0 {
			t.Errorf("round 1 posts the buffers")
		}
	}
	if sent != used || sent > 32 {
		t.Errorf("the plan sends %d frames and receives %d (at most 32 frames)", sent, used)
	}
	if restarts == 0 {
		t.Errorf("no stop and start: used->flags is never written alone")
	}
}

func TestCompactEntries(t *testing.T) {
	got := compactEntries([]string{"flags", "entry 8", "entry 9", "entry 10", "idx", "avail_event"})
	want := []string{"flags", "entries 8-10", "idx", "avail_event"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compactEntries = %v, want %v", got, want)
	}
}
