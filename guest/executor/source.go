package executor

import _ "embed"

// Source is executor.c, compiled for each target by harness/agentbuild.
//
//go:embed csrc/executor.c
var Source []byte
