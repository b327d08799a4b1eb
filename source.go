// Package dirtygate carries the guest agent's source inside the dirtygate
// binary: a binary built or installed anywhere (go install, a CI image)
// builds the agent for each arch from this copy when it does not run in a
// checkout (harness/agentbuild). Runs on the host.
package dirtygate

import "embed"

// AgentSource is the module's go.mod and go.sum and every package the
// agent is built from (guest/cmd/agent and the vmm/ packages; their tests
// come along, their testdata does not). TestAgentSourceEmbedded checks no
// package the agent imports is missing.
//
//go:embed go.mod go.sum guest/cmd/agent/*.go vmm/*/*.go vmm/machine/machinetest/*.go
var AgentSource embed.FS
