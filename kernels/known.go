package kernels

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"dirtygate/vmm/record"
)

// Known is a failure a kernel source has of its own, whatever patch is
// applied: the scenario, where, the exact signature it fails with (see
// harness/gate.Signature) and why. A run that fails only this way fails
// "as known"; a different signature is a new failure.
type Known struct {
	Scenario string        `json:"scenario"`
	Arches   []string      `json:"arches,omitempty"` // empty: every arch
	Status   record.Status `json:"status"`
	// Signature lists the atoms exactly; an atom ending in * matches any
	// atom with that prefix (a splat's process name, say).
	Signature []string       `json:"signature"`
	Counts    map[string]int `json:"counts,omitempty"`
	Why       string         `json:"why"`
}

//go:embed known/*.json
var knownFS embed.FS

// KnownFailures lists the known failures of a kernel source by its short
// name ("6.1"); none for a source without a list (a user's tree).
func KnownFailures(source string) ([]Known, error) {
	b, err := knownFS.ReadFile("known/" + source + ".json")
	if err != nil {
		return nil, nil
	}
	var k []Known
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("kernels/known/%s.json: %w", source, err)
	}
	return k, nil
}

// ShortName is a source's name among the known-failure lists: "6.1" for
// Debian's linux-source-6.1, "" for anything else.
func ShortName(sourceID string) string {
	if rest, ok := strings.CutPrefix(sourceID, "debian:linux-source-"); ok {
		name, _, _ := strings.Cut(rest, ":")
		return name
	}
	return ""
}
