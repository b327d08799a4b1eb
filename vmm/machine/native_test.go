//go:build linux

package machine_test

import (
	"testing"

	"dirtygate/vmm/machine"
	"dirtygate/vmm/machine/machinetest"
)

// The agent forks itself with raw system calls (no Go runtime in the
// child): copy-on-write must behave as for any process.
func TestNativeFork(t *testing.T) { machinetest.Fork(t, machine.Native()) }

func TestNativeOpenReadOnly(t *testing.T) { machinetest.OpenReadOnly(t, machine.Native()) }
