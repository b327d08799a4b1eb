package run

import (
	"context"
	"strings"
	"testing"

	"dirtygate/arches"
	"dirtygate/harness/report"
)

// The target plumbing, end to end on this host: the program is built,
// started through exec:, its hello is checked against arches/, and what it
// reports is judged. (The host kernel may lack vhost-net; then every
// scenario must be an error naming that, never a pass.)
func TestTargetAgentOnHost(t *testing.T) {
	a, _ := arches.Lookup("x86_64")
	o := Options{Arch: a, CacheDir: t.TempDir(), OutDir: t.TempDir(), Only: []string{"rx-spread"}}
	r := Target(context.Background(), o, "exec:$DIRTYGATE_PROGRAM")
	if r.Agent == nil || len(r.Scenarios) != 1 {
		t.Fatalf("no agent or scenarios: %+v", r)
	}
	s := r.Scenarios[0]
	switch {
	case s.Status == "error" && strings.Contains(s.Error, "vhost-net"):
		if r.Verdict != report.Error {
			t.Fatalf("verdict %s for a run that could not decide", r.Verdict)
		}
	case s.Status == "pass" && r.Verdict == report.Pass:
	default:
		t.Fatalf("rx-spread on the host: %s %q, verdict %s", s.Status, s.Error, r.Verdict)
	}
}

// An executor that is not the arch the user named is refused before any
// scenario runs: its answers would be decoded with the wrong ABI.
func TestTargetExecutorArchMismatch(t *testing.T) {
	bin := localExecutor(t)
	a, _ := arches.Lookup("hppa")
	o := Options{Arch: a, CacheDir: t.TempDir(), OutDir: t.TempDir()}
	r := Target(context.Background(), o, "exec:"+bin)
	if r.Verdict != report.Error || !strings.Contains(r.Error, "64-bit little-endian") || len(r.Scenarios) != 0 {
		t.Fatalf("verdict %s, error %q, %d scenarios", r.Verdict, r.Error, len(r.Scenarios))
	}
}
