package record

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// On the wire a scenario's bitmaps travel as runs, not hex. They are most
// of a scenario record (x86_64: ~17 KB of hex each for before and after,
// 1.1 MB of JSON over the 31 records) and nearly all one repeated byte
// (the canary 0x55, zeros around the window): JSON-encoding and deflating
// that hex was ~100 ms of the ~0.4 s sending x86_64's records took its
// agent under TCG.
// The host reads them back into hex (Evidence.UnmarshalJSON), so reports,
// replays and the oracle see the evidence as before.
//
// The runs of a bitmap are comma-separated tokens in byte order: "N*hh" is
// N (decimal, at least minRun, no leading zero) copies of the byte hh, any
// other token a non-empty even-length run of lowercase hex digits, copied
// as it is. "" is the empty bitmap.

// minRun is the shortest repeat written as a run: with the commas it
// puts around itself, "3*55" is no shorter than "555555".
const minRun = 4

// maxRunsHex bounds what runs may expand to (hex characters): a record's
// body is bounded (maxInflated), and so is what its runs stand for.
const maxRunsHex = maxInflated

// bitmapRuns writes a bitmap as runs.
func bitmapRuns(b []byte) string {
	var out strings.Builder
	lit := 0 // start of the pending literal
	flush := func(end int) {
		if end > lit {
			if out.Len() > 0 {
				out.WriteByte(',')
			}
			out.WriteString(hex.EncodeToString(b[lit:end]))
		}
	}
	for i := 0; i < len(b); {
		j := i + 1
		for j < len(b) && b[j] == b[i] {
			j++
		}
		if j-i >= minRun {
			flush(i)
			if out.Len() > 0 {
				out.WriteByte(',')
			}
			fmt.Fprintf(&out, "%d*%02x", j-i, b[i])
			lit = j
		}
		i = j
	}
	flush(len(b))
	return out.String()
}

// runsHex reads runs back into lowercase hex, refusing a malformed token
// and more than maxRunsHex characters.
func runsHex(r string) (string, error) {
	if r == "" {
		return "", nil
	}
	var b strings.Builder
	for _, tok := range strings.Split(r, ",") {
		n, hh, isRun := strings.Cut(tok, "*")
		switch {
		case isRun:
			count, err := strconv.Atoi(n)
			if err != nil || strconv.Itoa(count) != n || count < minRun || !isHex(hh) || len(hh) != 2 {
				return "", fmt.Errorf("bad run %q", tok)
			}
			if b.Len()+2*count > maxRunsHex {
				return "", fmt.Errorf("runs expand past %d hex digits", maxRunsHex)
			}
			b.WriteString(strings.Repeat(hh, count))
		case tok == "" || len(tok)%2 != 0 || !isHex(tok):
			return "", fmt.Errorf("bad literal %q", tok)
		default:
			if b.Len()+len(tok) > maxRunsHex {
				return "", fmt.Errorf("runs expand past %d hex digits", maxRunsHex)
			}
			b.WriteString(tok)
		}
	}
	return b.String(), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// wireScenario is a Scenario as Writer.Send puts it on the wire: its
// evidence's bitmaps as runs. Its Evidence field shadows Scenario's.
type wireScenario struct {
	Scenario
	Evidence *wireEvidence `json:"evidence,omitempty"`
}

// wireEvidence is Evidence with before and after as runs; its empty Before
// and After shadow (and so omit) the hex ones.
type wireEvidence struct {
	*Evidence
	Before     string `json:"before,omitempty"`
	After      string `json:"after,omitempty"`
	BeforeRuns string `json:"before_runs"`
	AfterRuns  string `json:"after_runs"`
}

// evidenceRuns are the runs NewEvidence made of the hex it wrote.
type evidenceRuns struct{ before, after, beforeRuns, afterRuns string }

// wire returns s as it is sent: its bitmaps as runs, those NewEvidence
// made while the hex is still what it wrote, else made from the hex when
// that is canonical (lowercase, as NewEvidence and UnmarshalJSON write
// it); as hex otherwise.
func (s Scenario) wire() any {
	ev := s.Evidence
	if ev == nil {
		return s
	}
	r := ev.runs
	if r == nil || r.before != ev.Before || r.after != ev.After {
		before, err1 := hex.DecodeString(ev.Before)
		after, err2 := hex.DecodeString(ev.After)
		if err1 != nil || err2 != nil || hex.EncodeToString(before) != ev.Before || hex.EncodeToString(after) != ev.After {
			return s
		}
		r = &evidenceRuns{ev.Before, ev.After, bitmapRuns(before), bitmapRuns(after)}
	}
	return wireScenario{Scenario: s, Evidence: &wireEvidence{Evidence: ev, BeforeRuns: r.beforeRuns, AfterRuns: r.afterRuns}}
}

// UnmarshalJSON reads evidence with its bitmaps as hex (reports, older
// agents) or as runs (the wire), into hex.
func (ev *Evidence) UnmarshalJSON(b []byte) error {
	type plain Evidence // without this method
	var w struct {
		plain
		BeforeRuns *string `json:"before_runs"`
		AfterRuns  *string `json:"after_runs"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*ev = Evidence(w.plain)
	for _, f := range []struct {
		name string
		runs *string
		hex  *string
	}{{"before", w.BeforeRuns, &ev.Before}, {"after", w.AfterRuns, &ev.After}} {
		if f.runs == nil {
			continue
		}
		if *f.hex != "" {
			return fmt.Errorf("evidence has both %s and %s_runs", f.name, f.name)
		}
		h, err := runsHex(*f.runs)
		if err != nil {
			return fmt.Errorf("evidence %s_runs: %v", f.name, err)
		}
		*f.hex = h
	}
	return nil
}
