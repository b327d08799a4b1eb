package machinetest

import (
	"testing"

	"dirtygate/vmm/machine"
)

// OpenReadOnly checks that a read-only sysfs attribute, which refuses
// O_RDWR even to root, opens and reads: the scenarios read
// /sys/devices/system/cpu/online that way.
func OpenReadOnly(t *testing.T, m machine.Machine) {
	t.Helper()
	const path = "/sys/devices/system/cpu/online"
	fd, err := m.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer m.Close(fd)
	b, err := m.Read(fd, 64)
	if err != nil || len(b) == 0 || b[0] < '0' || b[0] > '9' {
		t.Fatalf("read %s: %q, %v", path, b, err)
	}
}
