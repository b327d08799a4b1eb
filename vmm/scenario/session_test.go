package scenario

import (
	"bytes"
	"io"
	"testing"
	"time"

	"dirtygate/vmm/record"
)

// Scenarios an arch lists as known not to work are reported as skipped with
// the reason and never touch the machine (nil here: a call would panic).
// A session where everything skipped decided nothing: exit 2, not a pass.
func TestSessionSkipsWithReason(t *testing.T) {
	skip := map[string]string{}
	for _, s := range All() {
		skip[s.Name] = "known to hang here"
	}
	var out bytes.Buffer
	code := Session(nil, record.NewWriter(&out), record.Hello{Agent: "test"}, nil, skip, io.Discard, time.Now())
	if code != 2 {
		t.Fatalf("exit %d: a session that skipped everything passed", code)
	}
	st, err := record.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range st.Records {
		if rec.Type != record.TypeScenario {
			continue
		}
		var s record.Scenario
		if err := rec.Into(&s); err != nil {
			t.Fatal(err)
		}
		if s.Status != record.Skip || len(s.Notes) == 0 || s.Notes[0] != "skipped on this arch: known to hang here" {
			t.Errorf("%s: %s %v", s.Name, s.Status, s.Notes)
		}
		n++
	}
	if n != len(All()) || st.Final == nil {
		t.Fatalf("%d scenario records of %d, final %v", n, len(All()), st.Final)
	}
}
