// Package executor holds the C executor (csrc/executor.c): the guest's
// /init where Go cannot run (hppa, sparc32, m68k, alpha), and the program
// a --target machine runs. The C program runs in the guest; this Go
// package only embeds its source for the host, which cross-compiles it
// (harness/agentbuild) and drives it (harness/executor).
package executor

import _ "embed"

// Source is executor.c, compiled for each target by harness/agentbuild.
//
//go:embed csrc/executor.c
var Source []byte

// ReadyLine is what executor.c prints on the console once it runs: where
// the guest's own output starts, and how a console is known to be the
// executor's. Its 1 is the framing's version, which protocol 2 (batches,
// said in the hello) kept: LAVA jobs and captured consoles wait for it.
const ReadyLine = "dirtygate-executor 1: ready"
