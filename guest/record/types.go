// Package record is the wire between the guest agent and the host: framed,
// checksummed, sequenced lines on the console that survive kernel messages
// interleaved with them. Both sides import it.
package record

import "dirtygate/guest/oracle"

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

// Status of one scenario.
const (
	Pass  = "pass"
	Fail  = "fail"
	Error = "error" // could not decide: setup failed, timeout, control did not fail
	Skip  = "skip"
)

// Scenario is the result of one scenario.
type Scenario struct {
	Name     string           `json:"name"`
	Status   string           `json:"status"`
	Findings []oracle.Finding `json:"findings,omitempty"`
	// Error says why the scenario could not decide (Status == Error).
	Error string `json:"error,omitempty"`
	// Control says what the scenario's negative control showed.
	Control string `json:"control,omitempty"`
	// Notes are facts worth reporting that are not findings.
	Notes   []string `json:"notes,omitempty"`
	Packets int      `json:"packets,omitempty"`
	Pages   int      `json:"pages,omitempty"` // distinct pages expected
	Millis  int64    `json:"millis"`
}

// Final closes a run.
type Final struct {
	Records   int   `json:"records"` // records sent before this one, hello included
	Scenarios int   `json:"scenarios"`
	Millis    int64 `json:"millis"` // agent run time
}
