package executor

import _ "embed"

// Source is executor.c, compiled for each target by harness/agentbuild.
//
//go:embed csrc/executor.c
var Source []byte

// ReadyLine is what executor.c prints on the console once it runs: where
// the guest's own output starts, and how a console is known to be the
// executor's.
const ReadyLine = "dirtygate-executor 1: ready"
