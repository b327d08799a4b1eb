// Package record is the wire between the guest agent and the host: framed,
// checksummed, sequenced lines on the console that survive kernel messages
// interleaved with them. Both sides import it.
//
// Runs on both sides: the guest writes records, the host parses them (and writes them itself for executor runs).
package record

import (
	"encoding/hex"
	"sort"

	"dirtygate/vmm/oracle"
)

// Record types, in the order the agent sends them.
const (
	TypeHello    = "hello"    // once, first: what the agent runs on
	TypeScenario = "scenario" // once per scenario
	TypeFinal    = "final"    // once, last; a run without it could not decide
)

// Hello describes the machine under test as the agent sees it.
type Hello struct {
	Agent     string `json:"agent"`   // agent version
	Kernel    string `json:"kernel"`  // uname -r
	Machine   string `json:"machine"` // uname -m
	WordBits  int    `json:"word_bits"`
	BigEndian bool   `json:"big_endian"`
	PageSize  int    `json:"page_size"`
}

// Status is the one vocabulary of outcomes: a scenario's status, and a
// run's verdict (report.Report.Verdict: pass, fail or error; never skip).
type Status string

const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error" // could not decide: setup failed, timeout, control did not fail
	Skip  Status = "skip"
)

// Scenario is the result of one scenario.
type Scenario struct {
	Name     string           `json:"name"`
	Status   Status           `json:"status"`
	Findings []oracle.Finding `json:"findings,omitempty"`
	// Error says why the scenario could not decide (Status == Error).
	Error string `json:"error,omitempty"`
	// Control says what the scenario's negative control showed.
	Control string `json:"control,omitempty"`
	// Notes are facts worth reporting that are not findings.
	Notes []string `json:"notes,omitempty"`
	// Evidence is the raw log and what was expected of it, so the host
	// can re-run the oracle and a failure can be replayed offline.
	Evidence *Evidence `json:"evidence,omitempty"`
	Packets  int       `json:"packets,omitempty"`
	Pages    int       `json:"pages,omitempty"` // distinct pages expected
	Millis   int64     `json:"millis"`
	// Class is what a classified scenario (fault injection, a protected
	// log page) saw the kernel do with the bits it could not log: one
	// of the Class* values.
	Class string `json:"class,omitempty"`
	// Exercised counts what the scenario made happen (frames, used
	// buffers, pages written, harvests that caught bits mid-traffic,
	// injected failures, CPUs): a pass is worth what these say.
	Exercised map[string]int64 `json:"exercised,omitempty"`
	// Known, set by the host, says why this failure is the kernel
	// source's own known failure (same signature), not a new one.
	Known string `json:"known,omitempty"`
}

// Classes of what a kernel did with bits it could not log, worst first.
const (
	ClassSilentLoss = "silent loss" // LOG_ALL accepted, bits missing, nothing reported
	ClassReported   = "reported"    // bits missing, the error eventfd signalled
	ClassRefused    = "refused"     // LOG_ALL refused or not offered: the VMM knows
	ClassCorrect    = "bits correct"
)

// Final closes a run.
type Final struct {
	Records   int   `json:"records"` // records sent before this one, hello included
	Scenarios int   `json:"scenarios"`
	Millis    int64 `json:"millis"` // agent run time
}

// Evidence is one scenario's bitmap as read back, in the target's layout.
type Evidence struct {
	WordBits  int            `json:"word_bits"`
	BigEndian bool           `json:"big_endian"`
	FirstBit  uint64         `json:"first_bit"`
	Pages     uint64         `json:"pages"`
	PageBase  uint64         `json:"page_base,omitempty"`
	Before    string         `json:"before"` // hex
	After     string         `json:"after"`  // hex
	Written   map[uint64]int `json:"written"`
	Allowed   map[uint64]int `json:"allowed,omitempty"`
	Required  []uint64       `json:"required,omitempty"`

	// runs are Before's and After's runs, made by NewEvidence from the
	// bitmaps themselves: the wire's form (runs.go), without a pass over
	// their hex.
	runs *evidenceRuns
}

// NewEvidence captures a log and its expectation.
func NewEvidence(l oracle.Log, e oracle.Expect) *Evidence {
	ev := &Evidence{WordBits: l.WordBits, BigEndian: l.BigEndian, FirstBit: l.FirstBit, Pages: l.Pages, PageBase: l.PageBase,
		Before: hex.EncodeToString(l.Before), After: hex.EncodeToString(l.After),
		Written: e.Written, Allowed: e.Allowed}
	ev.runs = &evidenceRuns{ev.Before, ev.After, bitmapRuns(l.Before), bitmapRuns(l.After)}
	for p, ok := range e.Required {
		if ok {
			ev.Required = append(ev.Required, p)
		}
	}
	sort.Slice(ev.Required, func(i, j int) bool { return ev.Required[i] < ev.Required[j] })
	return ev
}

// Oracle turns the evidence back into the oracle's inputs.
func (ev *Evidence) Oracle() (oracle.Log, oracle.Expect, error) {
	before, err := hex.DecodeString(ev.Before)
	if err != nil {
		return oracle.Log{}, oracle.Expect{}, err
	}
	after, err := hex.DecodeString(ev.After)
	if err != nil {
		return oracle.Log{}, oracle.Expect{}, err
	}
	l := oracle.Log{Layout: oracle.Layout{WordBits: ev.WordBits, BigEndian: ev.BigEndian},
		Before: before, After: after, FirstBit: ev.FirstBit, Pages: ev.Pages, PageBase: ev.PageBase}
	e := oracle.Expect{Written: ev.Written, Allowed: ev.Allowed, Required: map[uint64]bool{}}
	for _, p := range ev.Required {
		e.Required[p] = true
	}
	return l, e, nil
}
