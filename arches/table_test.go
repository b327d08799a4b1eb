package arches

import "testing"

// The table's entries agree with their modes: a name once, a reason where
// the mode needs one, the agent's Go port where the agent runs, the
// executor's ABI facts where it does.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range table {
		if seen[a.Name] {
			t.Errorf("%s: defined twice", a.Name)
		}
		seen[a.Name] = true
		switch a.Mode {
		case GoAgent:
			if a.Go.GOARCH == "" {
				t.Errorf("%s: mode %v without a Go port", a.Name, a.Mode)
			}
		case CExecutor:
			if a.Go.GOARCH != "" {
				t.Errorf("%s: mode %v with a Go port (%s): run the agent", a.Name, a.Mode, a.Go.GOARCH)
			}
		case BuildOnly, Unsupported:
			if a.Why == "" {
				t.Errorf("%s: mode %v without Why", a.Name, a.Mode)
			}
		default:
			t.Errorf("%s: no mode", a.Name)
		}
		if (a.Mode == GoAgent || a.Mode == CExecutor) && a.Why != "" {
			t.Errorf("%s: mode %v has a Why (%q): only build-only and unsupported arches say why", a.Name, a.Mode, a.Why)
		}
		if a.Go.CompatGOARCH != "" && a.Guest() != ProgramAgent {
			t.Errorf("%s: a compat port without the agent", a.Name)
		}
		if a.ABI.WordBits != 32 && a.ABI.WordBits != 64 {
			t.Errorf("%s: word size %d", a.Name, a.ABI.WordBits)
		}
		if a.Boot.Timeout <= 0 || a.Boot.QEMU == "" || a.Build.Image == "" {
			t.Errorf("%s: boot timeout, QEMU or image missing", a.Name)
		}
	}
	for _, n := range Default {
		if a, err := Lookup(n); err != nil || a.Mode == Unsupported {
			t.Errorf("default arch %s: %v", n, err)
		}
	}
}
