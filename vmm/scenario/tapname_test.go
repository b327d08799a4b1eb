package scenario

import "testing"

// Tap names are unique in a process: a rig torn down in the background
// may still hold its tap while the next one is made, and names cut to
// 15 bytes would otherwise meet.
func TestTapNamesUnique(t *testing.T) {
	seen, indexes := map[string]string{}, map[int]string{}
	for _, s := range All() {
		for range 2 {
			n, i := Config{Name: s.Name}.tapName()
			if len(n) > 15 {
				t.Errorf("%s: tap name %q is longer than IFNAMSIZ-1", s.Name, n)
			}
			if other, dup := seen[n]; dup {
				t.Errorf("%s and %s got the same tap name %q", other, s.Name, n)
			}
			if other, dup := indexes[i]; dup || i <= tapIndexBase {
				t.Errorf("%s and %s got the same interface index %d", other, s.Name, i)
			}
			seen[n], indexes[i] = s.Name, s.Name
		}
	}
}
